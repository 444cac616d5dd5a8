"""Decoders of the sequence-to-sequence family: greedy search, ancestral sampling and beam search
over any decoder given as a step function, each jittable with a fixed maximum length.

Why: an encoder-decoder RNN (with or without attention) is trained with teacher forcing, but
translating needs a search over output sequences. The three decoders here know nothing of the
model: they drive its one-step function, so every model of the family (and a toy Markov chain in
the tests) shares them. Every loop is a `jax.lax.scan` of exactly `max_length` steps with static
shapes; a sequence that has emitted EOS is masked, not broken out of, so a decoder compiles once
per (batch size, max_length, number of source positions) and can sit inside a larger jit.

The interface:

    step(params, state, tokens_B) -> (logits_BxV, new_state, attention_BxS)

`params` is any pytree, passed through untouched. `state` is a pytree whose every leaf has a
leading batch axis B: the decoder's recurrent carry plus what it needs each step (the encoder
outputs and the source mask for attention, say). `tokens_B` are the int32 previous tokens (BOS
at the first step; PAD after the sequence's EOS). `attention_BxS` are the attention weights over
the S source positions used for this step (zeros, S >= 1, for a model without attention). The
decoders start every sequence from BOS, never emit PAD or BOS (whatever their logits: they are
masked when choosing a token) and return a `Decoded`:

    tokens     int32 B x max_length: the output symbols, EOS included where it was emitted, PAD
               after it.
    lengths    int32 B: the number of tokens up to and including EOS (max_length if none).
    log_prob   float32 B: the sum of log p(token | prefix) of the emitted tokens up to and
               including EOS, under the model's own distribution: the log-softmax of its logits
               (not renormalised without PAD and BOS, no temperature, no length penalty).
    attention  float32 B x max_length x S: the attention at each output step, zeros after EOS.

What each decoder guarantees:

- `greedy`: the most likely token (other than PAD and BOS) at every step, the lowest id on ties.
- `sample`: token t drawn from softmax(logits / temperature) (over the tokens other than PAD
  and BOS) with the key `fold_in(key, t)`, independently for each example of the batch; at
  temperature 1, each full sequence is drawn with its exact model probability (when the model
  gives PAD and BOS no mass). As temperature -> 0 it becomes `greedy`.
- `beam_search`: keeps `width` hypotheses per example; returns per example the finished
  hypothesis (one that emitted EOS) with the best length-normalised score log_prob / lp(length),
  lp(n) = ((5 + n) / 6) ** length_penalty (GNMT, Wu et al. 2016; 0 ranks by raw log-probability),
  or, when none of the kept hypotheses finished, the unfinished one of length max_length with the
  best log_prob. Width 1 is exactly `greedy`. A width at least the number of hypotheses that can
  exist at once (finished plus unfinished) is an exhaustive search: it returns the best sequence
  under that rule. Beam search is a heuristic in between: a larger width usually, but not always,
  finds a better score.

Jitting: the step function and the sizes are static, e.g.
`jax.jit(beam_search, static_argnames=("step", "max_length", "width"))` (a step function is
hashed by identity: make it once, not a new lambda per call), or close over them with
`functools.partial` and jit the rest.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

PAD, BOS, EOS = 0, 1, 2  # the ids the data layer reserves (UNK = 3)

StepFn = Callable[[Any, Any, jax.Array], tuple[jax.Array, Any, jax.Array]]


@flax.struct.dataclass
class Decoded:
    """Decoded sequences of a batch of B examples (see the module docstring for each field)."""

    tokens: jax.Array  # int32 B x max_length
    lengths: jax.Array  # int32 B
    log_prob: jax.Array  # float32 B
    attention: jax.Array  # float32 B x max_length x S


def length_penalty_divisor(length: jax.Array, length_penalty: float) -> jax.Array:
    """GNMT's length penalty lp(length) = ((5 + length) / 6) ** length_penalty: a hypothesis's
    score is log_prob / lp(length). Equals 1 at length_penalty 0."""
    return ((5.0 + length.astype(jnp.float32)) / 6.0) ** length_penalty


def greedy(step: StepFn, params: Any, state: Any, max_length: int) -> Decoded:
    """The most likely token (other than PAD and BOS) at every step, from BOS."""
    return _decode_single_path(
        step, params, state, max_length, lambda logits_BxV, t: jnp.argmax(logits_BxV, axis=-1)
    )


def sample(
    step: StepFn,
    params: Any,
    state: Any,
    max_length: int,
    key: jax.Array,
    temperature: float = 1.0,
) -> Decoded:
    """Ancestral sampling: token t drawn from softmax(logits / temperature) with the key
    `fold_in(key, t)`. `log_prob` is under the model (temperature 1), whatever `temperature`."""
    if isinstance(temperature, int | float) and temperature <= 0:
        raise ValueError(f"temperature must be positive (use greedy for 0), got {temperature}")

    def draw(logits_BxV, t):
        return jax.random.categorical(jax.random.fold_in(key, t), logits_BxV / temperature)

    return _decode_single_path(step, params, state, max_length, draw)


def beam_search(
    step: StepFn,
    params: Any,
    state: Any,
    max_length: int,
    width: int,
    length_penalty: float = 0.6,
) -> Decoded:
    """Beam search with `width` hypotheses per example and GNMT's length penalty.

    The state's leaves are tiled from B to B * width rows (example b's beams are rows
    b * width ... b * width + width - 1). At each step every live hypothesis proposes each token
    but PAD and BOS and every finished one proposes only PAD (keeping its log_prob and length); the
    `width` candidates of best score log_prob / lp(length) survive, and the state rows are gathered
    from their parents. At step 0 only one beam per example is live (the others start at -inf),
    so the first step's `width` best tokens are distinct hypotheses, not copies. Each step records
    the parents, tokens and attention; the returned hypothesis is traced back through its
    ancestry. Returns the best finished hypothesis per example (or, if none finished, the best
    unfinished one), as the module docstring says.
    """
    max_length, width = _positive_int("max_length", max_length), _positive_int("width", width)
    batch_size = _batch_size(state)
    beam_state = jax.tree.map(lambda leaf: jnp.repeat(leaf, width, axis=0), state)
    examples_Bx1 = jnp.arange(batch_size)[:, None]

    def advance(carry, t):
        state, previous_BW, log_prob_BxW, finished_BxW, length_BxW = carry
        logits, state, attention = step(params, state, previous_BW)
        vocab_size = logits.shape[-1]
        log_probs_BxWxV = jax.nn.log_softmax(logits.astype(jnp.float32)).reshape(
            batch_size, width, vocab_size
        )
        only_pad_V = jnp.where(jnp.arange(vocab_size) == PAD, 0.0, -jnp.inf)
        step_log_probs_BxWxV = jnp.where(
            finished_BxW[..., None], only_pad_V, _without_reserved(log_probs_BxWxV)
        )
        candidate_log_prob_BxWxV = log_prob_BxW[..., None] + step_log_probs_BxWxV
        candidate_length_BxW = jnp.where(finished_BxW, length_BxW, t + 1)
        candidate_score_BxWxV = (
            candidate_log_prob_BxWxV
            / length_penalty_divisor(candidate_length_BxW, length_penalty)[..., None]
        )
        _, chosen_BxW = jax.lax.top_k(
            candidate_score_BxWxV.reshape(batch_size, width * vocab_size), width
        )
        parent_BxW, token_BxW = chosen_BxW // vocab_size, chosen_BxW % vocab_size
        log_prob_BxW = jnp.take_along_axis(
            candidate_log_prob_BxWxV.reshape(batch_size, width * vocab_size), chosen_BxW, axis=1
        )
        parent_finished_BxW = jnp.take_along_axis(finished_BxW, parent_BxW, axis=1)
        length_BxW = jnp.take_along_axis(candidate_length_BxW, parent_BxW, axis=1)
        finished_BxW = parent_finished_BxW | (token_BxW == EOS)
        parent_rows_BW = (examples_Bx1 * width + parent_BxW).reshape(-1)
        state = jax.tree.map(lambda leaf: jnp.take(leaf, parent_rows_BW, axis=0), state)
        attention_BxWxS = attention.astype(jnp.float32).reshape(batch_size, width, -1)
        attention_BxWxS = jnp.where(
            parent_finished_BxW[..., None], 0.0, attention_BxWxS[examples_Bx1, parent_BxW]
        )
        token_BxW = token_BxW.astype(jnp.int32)
        carry = (state, token_BxW.reshape(-1), log_prob_BxW, finished_BxW, length_BxW)
        return carry, (parent_BxW, token_BxW, attention_BxWxS)

    initial = (
        beam_state,
        jnp.full((batch_size * width,), BOS, jnp.int32),
        jnp.tile(jnp.where(jnp.arange(width) == 0, 0.0, -jnp.inf), (batch_size, 1)),
        jnp.zeros((batch_size, width), bool),
        jnp.zeros((batch_size, width), jnp.int32),
    )
    (_, _, log_prob_BxW, finished_BxW, length_BxW), history = jax.lax.scan(
        advance, initial, jnp.arange(max_length)
    )

    score_BxW = log_prob_BxW / length_penalty_divisor(length_BxW, length_penalty)
    reachable_BxW = jnp.isfinite(score_BxW)  # not a slot filled with an impossible candidate
    finished_BxW = finished_BxW & reachable_BxW
    best_finished_B = jnp.argmax(jnp.where(finished_BxW, score_BxW, -jnp.inf), axis=1)
    # Without a finished hypothesis, all the reachable ones have length max_length.
    best_unfinished_B = jnp.argmax(jnp.where(reachable_BxW, score_BxW, -jnp.inf), axis=1)
    best_B = jnp.where(finished_BxW.any(axis=1), best_finished_B, best_unfinished_B)

    examples_B = jnp.arange(batch_size)

    def trace_back(beam_B, recorded):
        parent_BxW, token_BxW, attention_BxWxS = recorded
        emitted = (token_BxW[examples_B, beam_B], attention_BxWxS[examples_B, beam_B])
        return parent_BxW[examples_B, beam_B], emitted

    _, (tokens_LxB, attention_LxBxS) = jax.lax.scan(trace_back, best_B, history, reverse=True)
    return Decoded(
        tokens=tokens_LxB.T,
        lengths=length_BxW[examples_B, best_B],
        log_prob=log_prob_BxW[examples_B, best_B],
        attention=attention_LxBxS.transpose(1, 0, 2),
    )


def _decode_single_path(
    step: StepFn,
    params: Any,
    state: Any,
    max_length: int,
    choose_token: Callable[[jax.Array, jax.Array], jax.Array],
) -> Decoded:
    """One sequence per example: `choose_token(logits_BxV, t)` picks each step's token; after
    EOS the token is PAD, the log_prob and length stop growing and the attention is zero."""
    max_length = _positive_int("max_length", max_length)
    batch_size = _batch_size(state)

    def advance(carry, t):
        state, previous_B, finished_B, log_prob_B, length_B = carry
        logits_BxV, state, attention_BxS = step(params, state, previous_B)
        logits_BxV = logits_BxV.astype(jnp.float32)
        chosen_B = choose_token(_without_reserved(logits_BxV), t)
        token_B = jnp.where(finished_B, PAD, chosen_B).astype(jnp.int32)
        token_log_prob_B = jnp.take_along_axis(
            jax.nn.log_softmax(logits_BxV), token_B[:, None], axis=1
        )[:, 0]
        log_prob_B = log_prob_B + jnp.where(finished_B, 0.0, token_log_prob_B)
        length_B = length_B + (~finished_B).astype(jnp.int32)
        attention_BxS = jnp.where(finished_B[:, None], 0.0, attention_BxS.astype(jnp.float32))
        finished_B = finished_B | (token_B == EOS)
        return (state, token_B, finished_B, log_prob_B, length_B), (token_B, attention_BxS)

    initial = (
        state,
        jnp.full((batch_size,), BOS, jnp.int32),
        jnp.zeros((batch_size,), bool),
        jnp.zeros((batch_size,), jnp.float32),
        jnp.zeros((batch_size,), jnp.int32),
    )
    (_, _, _, log_prob_B, length_B), (tokens_LxB, attention_LxBxS) = jax.lax.scan(
        advance, initial, jnp.arange(max_length)
    )
    return Decoded(
        tokens=tokens_LxB.T,
        lengths=length_B,
        log_prob=log_prob_B,
        attention=attention_LxBxS.transpose(1, 0, 2),
    )


def _without_reserved(logits_xV: jax.Array) -> jax.Array:
    """-inf at PAD and BOS: the decoders never emit them (PAD only pads after EOS)."""
    vocabulary = jnp.arange(logits_xV.shape[-1])
    return jnp.where((vocabulary == PAD) | (vocabulary == BOS), -jnp.inf, logits_xV)


def _positive_int(name: str, value: int) -> int:
    """`value` as a Python int (a static size: not a traced value), refused unless >= 1."""
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a static positive int, got {value!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


def _batch_size(state: Any) -> int:
    """The common leading axis of the state's leaves."""
    sizes = {jnp.shape(leaf)[0] for leaf in jax.tree.leaves(state) if jnp.ndim(leaf) > 0}
    if len(sizes) != 1 or any(jnp.ndim(leaf) == 0 for leaf in jax.tree.leaves(state)):
        raise ValueError(f"every leaf of the state needs the same leading batch axis, got {sizes}")
    return sizes.pop()
