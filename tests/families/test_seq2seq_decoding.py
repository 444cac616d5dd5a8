"""The seq2seq decoders (greedy, sampling, beam search) on a toy decoder whose every answer can be
computed exactly in NumPy: a first-order Markov chain over V = 5 symbols with one random
transition table per example.

The toy's step reads the logits of the next token from its example's table at the previous
token (PAD and BOS at -inf, but for the test that the decoders never emit them); its attention
is a one-hot at a running summary of the prefix that the state carries, so a beam whose state or
attention history was gathered from the wrong ancestor shows. With EOS and two other symbols
emittable, every sequence of up to a few tokens can be enumerated: the references are that
enumeration, a step-by-step argmax and a list-based beam search in NumPy, all in float64.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.seq2seq.decoding import (
    BOS,
    EOS,
    PAD,
    beam_search,
    greedy,
    length_penalty_divisor,
    sample,
)

V, S = 5, 7  # symbols (PAD, BOS, EOS, 3, 4) and source positions
OTHER_SYMBOLS = (3, 4)
LOGIT_SCALE = jnp.float32(1.0)  # the toy's params: passed through the decoders to the step
# One batch size and two lengths throughout, so that the tests share their compilations.
BATCH, LENGTH, SHORT = 128, 6, 4  # tables; max_length; max_length of the exhaustive searches
TRACES = {"markov_step": 0}  # how often a decoder traced the step (once per compilation)


def markov_step(logit_scale, state, tokens_B):
    """The toy decoder: logits = table[previous token]. The state (a nested pytree, every leaf
    with a leading batch axis) carries the tables and a trail, a running summary of the prefix
    that picks the attended source position."""
    TRACES["markov_step"] += 1
    table_BxVxV, (trail_B,) = state["table"], state["trail"]
    logits_BxV = logit_scale * table_BxVxV[jnp.arange(tokens_B.shape[0]), tokens_B]
    trail_B = (3 * trail_B + tokens_B + 1) % S
    return logits_BxV, {"table": table_BxVxV, "trail": (trail_B,)}, jax.nn.one_hot(trail_B, S)


decode_greedy = jax.jit(functools.partial(greedy, markov_step), static_argnames="max_length")
decode_sample = jax.jit(functools.partial(sample, markov_step), static_argnames="max_length")
decode_beam = jax.jit(
    functools.partial(beam_search, markov_step), static_argnames=("max_length", "width")
)


def random_tables(seed, batch_size, scale=1.5, eos_bias=0.0, eos_banned=(), reserved_bias=None):
    """Random transition logits, B x V x V (EOS's shifted by `eos_bias`); no EOS in the tables
    `eos_banned`; PAD and BOS at -inf (at random + `reserved_bias` if given: the decoders must
    not emit them either way)."""
    tables = np.random.default_rng(seed).normal(size=(batch_size, V, V)) * scale
    tables[:, :, EOS] += eos_bias
    if reserved_bias is None:
        tables[:, :, [PAD, BOS]] = -np.inf
    else:
        tables[:, :, [PAD, BOS]] += reserved_bias
    tables[list(eos_banned), :, EOS] = -np.inf
    return tables.astype(np.float32)


def toy_state(tables):
    return {"table": jnp.asarray(tables), "trail": (jnp.zeros(len(tables), jnp.int32),)}


def log_softmax(logits):
    logits = logits.astype(np.float64)
    top = logits.max(axis=-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))


def sequence_log_prob(log_probs_VxV, sequence):
    previous, total = BOS, 0.0
    for token in sequence:
        total, previous = total + log_probs_VxV[previous, token], token
    return total


def penalty(length, alpha):
    return ((5 + length) / 6) ** alpha


def every_sequence(max_length):
    """Every sequence the toy can emit in `max_length` steps: those ending at their first EOS,
    and the unfinished ones of `max_length` tokens."""
    finished = [
        body + (EOS,)
        for length in range(1, max_length + 1)
        for body in itertools.product(OTHER_SYMBOLS, repeat=length - 1)
    ]
    return finished, list(itertools.product(OTHER_SYMBOLS, repeat=max_length))


def best_sequence(table, max_length, alpha):
    """The decoding rule by enumeration: the finished sequence of best log p / lp(length), or,
    when no sequence can finish, the unfinished one of best log p."""
    log_probs = log_softmax(table)
    finished, unfinished = every_sequence(max_length)
    scored = [(sequence_log_prob(log_probs, seq), seq) for seq in finished]
    scored = [(log_p, seq) for log_p, seq in scored if np.isfinite(log_p)]
    if scored:
        return max(scored, key=lambda item: item[0] / penalty(len(item[1]), alpha))[1]
    return max(unfinished, key=lambda seq: sequence_log_prob(log_probs, seq))


def numpy_greedy(table, max_length):
    sequence, previous = [], BOS
    while len(sequence) < max_length and previous != EOS:
        previous = EOS + int(np.argmax(table[previous, EOS:]))  # PAD and BOS never emitted
        sequence.append(previous)
    return tuple(sequence)


def numpy_beam_search(table, max_length, width, alpha):
    """Beam search over Python lists: each step, the live hypotheses propose every emittable
    token, the finished ones themselves; the `width` best by log p / lp(length) survive. Returns
    the best finished survivor (the best survivor if none finished)."""
    log_probs = log_softmax(table)

    def score(hypothesis):
        log_p, sequence = hypothesis
        return log_p / penalty(len(sequence), alpha)

    beam = [(0.0, ())]
    for _ in range(max_length):
        candidates = []
        for log_p, sequence in beam:
            if sequence and sequence[-1] == EOS:
                candidates.append((log_p, sequence))
                continue
            previous = sequence[-1] if sequence else BOS
            for token in (EOS, *OTHER_SYMBOLS):
                if np.isfinite(log_probs[previous, token]):
                    candidates.append((log_p + log_probs[previous, token], sequence + (token,)))
        beam = sorted(candidates, key=score, reverse=True)[:width]
    finished = [hypothesis for hypothesis in beam if hypothesis[1][-1] == EOS]
    return max(finished or beam, key=score)[1]


def exhaustive_width(max_length):
    """More than the hypotheses alive at once at the last step: the 2**L - 1 finished sequences
    and the 2**L unfinished ones."""
    return 2 ** (max_length + 1)


def padded(sequence, max_length):
    return np.array(list(sequence) + [PAD] * (max_length - len(sequence)), np.int32)


def toy_attention(sequence, max_length):
    """The attention the toy gives at each step of `sequence`, zeros after its end."""
    attention, trail = np.zeros((max_length, S), np.float32), 0
    for t, previous in enumerate((BOS, *sequence[:-1])):
        trail = (3 * trail + previous + 1) % S
        attention[t, trail] = 1.0
    return attention


def assert_decoded_is(decoded, tables, sequences, max_length):
    """Every field of `decoded` is what the toy gives for `sequences` (one per table)."""
    np.testing.assert_array_equal(
        decoded.tokens, [padded(sequence, max_length) for sequence in sequences]
    )
    np.testing.assert_array_equal(decoded.lengths, [len(sequence) for sequence in sequences])
    log_probs = [
        sequence_log_prob(log_softmax(table), sequence)
        for table, sequence in zip(tables, sequences, strict=True)
    ]
    np.testing.assert_allclose(decoded.log_prob, log_probs, rtol=1e-5)
    np.testing.assert_array_equal(
        decoded.attention, [toy_attention(sequence, max_length) for sequence in sequences]
    )


def sequences_of(decoded):
    tokens, lengths = np.asarray(decoded.tokens), np.asarray(decoded.lengths)
    return [tuple(row[:length].tolist()) for row, length in zip(tokens, lengths, strict=True)]


def test_greedy_is_the_stepwise_argmax():
    tables = random_tables(0, BATCH, eos_banned=(3,))
    decoded = decode_greedy(LOGIT_SCALE, toy_state(tables), max_length=LENGTH)
    assert decoded.tokens.shape == (BATCH, LENGTH) and decoded.tokens.dtype == jnp.int32
    assert decoded.attention.shape == (BATCH, LENGTH, S) and decoded.log_prob.dtype == jnp.float32
    expected = [numpy_greedy(table, LENGTH) for table in tables]
    assert any(len(seq) < LENGTH for seq in expected) and any(EOS not in seq for seq in expected)
    assert_decoded_is(decoded, tables, expected, LENGTH)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_search_as_wide_as_every_hypothesis_finds_the_best_sequence(alpha):
    tables = random_tables(1, BATCH, scale=2.0, eos_bias=-1.0, eos_banned=(5,))
    decoded = decode_beam(
        LOGIT_SCALE, toy_state(tables), max_length=SHORT, width=exhaustive_width(SHORT),
        length_penalty=alpha,
    )  # fmt: skip
    expected = [best_sequence(table, SHORT, alpha) for table in tables]
    assert_decoded_is(decoded, tables, expected, SHORT)
    assert len(expected[5]) == SHORT and EOS not in expected[5]  # the unfinished fallback
    # The tables are such that the length penalty changes the answer (the test sees it).
    assert expected != [best_sequence(table, SHORT, 1.0 - alpha) for table in tables]


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_beam_search_of_width_one_is_greedy(alpha):
    state = toy_state(random_tables(2, BATCH, eos_banned=(0,)))
    beam = decode_beam(LOGIT_SCALE, state, max_length=LENGTH, width=1, length_penalty=alpha)
    for field, value in vars(decode_greedy(LOGIT_SCALE, state, max_length=LENGTH)).items():
        np.testing.assert_allclose(getattr(beam, field), value, rtol=1e-6, err_msg=field)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_beam_search_equals_a_list_based_beam_search(alpha):
    """Narrow beams prune (their answers differ from greedy's), and the state and the attention
    history must follow each survivor's ancestry."""
    tables = random_tables(3, BATCH, eos_banned=(7,))
    state = toy_state(tables)
    for width in (2, 3):
        decoded = decode_beam(
            LOGIT_SCALE, state, max_length=LENGTH, width=width, length_penalty=alpha
        )
        expected = [numpy_beam_search(table, LENGTH, width, alpha) for table in tables]
        assert_decoded_is(decoded, tables, expected, LENGTH)
        assert expected != [numpy_greedy(table, LENGTH) for table in tables]


def test_an_exhaustive_beam_is_never_worse_than_a_narrower_one():
    """Under the decoding rule: a finished hypothesis beats an unfinished one, then the higher
    length-normalised score wins. Between two narrow widths this is not guaranteed: a wider beam
    can prune the prefix that a narrower one keeps (the list-based search shows it, with more
    symbols); the exhaustive width is optimal."""
    alpha = 0.6
    state = toy_state(random_tables(4, BATCH, scale=2.0, eos_banned=range(0, BATCH, 10)))

    def rank(width):
        decoded = decode_beam(
            LOGIT_SCALE, state, max_length=LENGTH, width=width, length_penalty=alpha
        )
        finished = np.asarray((decoded.tokens == EOS).any(axis=1))
        return finished, np.asarray(
            decoded.log_prob / length_penalty_divisor(decoded.lengths, alpha)
        )

    best_finished, best_score = rank(exhaustive_width(LENGTH))
    strictly_better = 0
    for width in (1, 2, 3):
        finished, score = rank(width)
        assert not np.any(finished & ~best_finished)
        same_kind = finished == best_finished
        assert np.all(best_score[same_kind] >= score[same_kind] - 1e-5)
        strictly_better += np.sum(~same_kind | (best_score > score + 1e-5))
    assert strictly_better > 0  # the narrow beams do miss some optima


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_sampled_sequences_have_their_exact_probabilities(temperature):
    copies = 6000
    tables = random_tables(5, 2, scale=1.0)
    state = toy_state(np.repeat(tables, copies, axis=0))
    decoded = decode_sample(
        LOGIT_SCALE, state, max_length=SHORT, key=jax.random.key(6), temperature=temperature
    )
    tokens = np.asarray(decoded.tokens).reshape(2, copies, SHORT)
    log_prob = np.asarray(decoded.log_prob).reshape(2, copies)
    finished, unfinished = every_sequence(SHORT)
    for table, tokens_of_table, log_prob_of_table in zip(tables, tokens, log_prob, strict=True):
        model, tempered = log_softmax(table), log_softmax(table / temperature)
        seen = 0
        for sequence in finished + unfinished:
            matches = np.all(tokens_of_table == padded(sequence, SHORT), axis=1)
            probability = np.exp(sequence_log_prob(tempered, sequence))
            stderr = np.sqrt(probability * (1 - probability) / copies)
            assert abs(matches.mean() - probability) <= 5 * stderr + 1 / copies, sequence
            # The log_prob is the model's, not the tempered distribution's.
            np.testing.assert_allclose(
                log_prob_of_table[matches], sequence_log_prob(model, sequence), rtol=1e-5
            )
            seen += matches.sum()
        assert seen == copies  # every sample is a well-formed sequence


def test_sampling_at_a_low_temperature_is_greedy():
    tables = random_tables(8, BATCH)
    top_two = np.sort(tables[:, :, EOS:], axis=-1)[:, :, -2:]
    assert np.min(top_two[..., 1] - top_two[..., 0]) > 1e-4  # no near-ties to break by noise
    expected = [numpy_greedy(table, LENGTH) for table in tables]
    for seed in range(3):
        decoded = decode_sample(
            LOGIT_SCALE, toy_state(tables), max_length=LENGTH, key=jax.random.key(seed),
            temperature=1e-7,
        )  # fmt: skip
        assert_decoded_is(decoded, tables, expected, LENGTH)
    at_one = decode_sample(LOGIT_SCALE, toy_state(tables), max_length=LENGTH, key=jax.random.key(0))
    assert sequences_of(at_one) != expected  # temperature 1 does sample


def test_pad_and_bos_are_never_emitted_even_when_likely():
    """The log_prob stays the model's: the log-softmax over all V logits, PAD and BOS included."""
    tables = random_tables(12, BATCH, reserved_bias=2.0)
    assert np.mean(np.argmax(tables, axis=-1) < EOS) > 0.5  # an argmax would often pick them
    state = toy_state(tables)
    greedy_decoded = decode_greedy(LOGIT_SCALE, state, max_length=LENGTH)
    expected = [numpy_greedy(table, LENGTH) for table in tables]
    assert_decoded_is(greedy_decoded, tables, expected, LENGTH)
    beam = decode_beam(
        LOGIT_SCALE, state, max_length=SHORT, width=exhaustive_width(SHORT), length_penalty=1.0
    )
    assert_decoded_is(beam, tables, [best_sequence(table, SHORT, 1.0) for table in tables], SHORT)
    sampled = decode_sample(LOGIT_SCALE, state, max_length=LENGTH, key=jax.random.key(13))
    sequences = sequences_of(sampled)
    assert all(min(sequence) >= EOS for sequence in sequences)
    assert_decoded_is(sampled, tables, sequences, LENGTH)


def test_each_decoder_compiles_once_per_shape():
    """A second batch of other tables (same shapes) runs without tracing the step again."""
    decoders = {
        "greedy": lambda state: decode_greedy(LOGIT_SCALE, state, max_length=3),
        "sample": lambda state: decode_sample(
            LOGIT_SCALE, state, max_length=3, key=jax.random.key(0), temperature=0.7
        ),
        "beam": lambda state: decode_beam(LOGIT_SCALE, state, max_length=3, width=4),
    }
    for name, decode in decoders.items():
        before = TRACES["markov_step"]
        first = decode(toy_state(random_tables(9, 5)))
        traced = TRACES["markov_step"]
        second = decode(toy_state(random_tables(10, 5)))
        assert traced > before and TRACES["markov_step"] == traced, name
        assert not np.array_equal(first.tokens, second.tokens), name  # the tables did change


def test_bad_arguments_are_refused():
    state = toy_state(random_tables(11, 2))
    with pytest.raises(ValueError, match="max_length"):
        greedy(markov_step, LOGIT_SCALE, state, 0)
    with pytest.raises(ValueError, match="width"):
        beam_search(markov_step, LOGIT_SCALE, state, 3, 0)
    with pytest.raises(ValueError, match="temperature"):
        sample(markov_step, LOGIT_SCALE, state, 3, jax.random.key(0), temperature=0.0)
    with pytest.raises(ValueError, match="batch axis"):
        greedy(markov_step, LOGIT_SCALE, {"table": state["table"], "trail": (jnp.zeros(3),)}, 3)
