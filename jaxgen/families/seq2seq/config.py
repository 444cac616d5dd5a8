"""Config blocks of the sequence-to-sequence family (experiments/seq2seq_*.py)."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.train.base_config import base_config, smoke


def seq2seq_config(**overrides) -> ml_collections.ConfigDict:
    """A sequence-to-sequence experiment's config: the common keys, the family's blocks, then
    `overrides`.

    dataset: addition | dates | de_en | a TSV file of pairs | a folder of train.tsv, test.tsv
        (and validation.tsv) (jaxgen/data/sequence_pairs.py); validation_fraction and
        test_fraction split the generated sets and a single file, by the seed.
    tokens: char | word | auto (words when the training pairs hold spaces); max_length: the
        longest source or target kept, in symbols; too_long: drop (counted in the report) |
        refuse. num_buckets: length buckets of the batches (one compiled shape each).
        min_count: symbols seen fewer times in the training split are <unk> (bounds a
        word-level softmax).
    model: cell (rnn, lstm, gru, peephole_lstm, coupled_lstm), hidden_size, num_layers,
        embed_dim, bidirectional (the encoder), attention (none | bahdanau | luong).
    objective.scheduled_sampling: the rate at which the decoder is fed its own sampled symbol
        instead of the reference (Bengio et al. 2015), rising linearly from 0 at the first step
        to this value at the last; 0 is plain teacher forcing.
    decode: method (greedy | beam) of the headline numbers; beam_width, length_penalty (GNMT's
        alpha); temperature of the report's samples; extra_length: symbols allowed beyond the
        longest reference of a split before decoding stops.
    eval_examples: validation pairs decoded at each periodic evaluation (the first ones).
    select_by: the validation number that ranks checkpoints (exact_match, symbol_accuracy,
        bleu or chrf; higher is better).
    addition: examples, digits, reverse (the source reversed, as Keras's option), longer_digits
        (a further test set with operands of digits + 1 .. longer_digits digits). dates:
        examples.
    """
    config = base_config(
        task="seq2seq",
        dataset="addition",
        steps=10000,
        batch_size=128,
        learning_rate=3e-3,
        lr_schedule="cosine",
        grad_clip_norm=1.0,
        eval_every=1000,
        checkpoint_every=1000,
        tokens="auto",
        max_length=40,
        too_long="drop",
        num_buckets=3,
        min_count=1,
        validation_fraction=0.1,
        test_fraction=0.1,
        model=ml_collections.ConfigDict(
            {
                "cell": "lstm",
                "hidden_size": 128,
                "num_layers": 1,
                "embed_dim": 32,
                "bidirectional": False,
                "attention": "bahdanau",
            }
        ),
        objective=ml_collections.ConfigDict({"scheduled_sampling": 0.0}),
        decode=ml_collections.ConfigDict(
            {
                "method": "beam",
                "beam_width": 4,
                "length_penalty": 0.6,
                "temperature": 1.0,
                "extra_length": 5,
            }
        ),
        eval_examples=1000,
        select_by="exact_match",
        addition=ml_collections.ConfigDict(
            {"examples": 50000, "digits": 3, "reverse": False, "longer_digits": 4}
        ),
        dates=ml_collections.ConfigDict({"examples": 20000}),
    )
    config.update(overrides)
    return config


def seq2seq_smoke(config: ml_collections.ConfigDict) -> None:
    """Seconds long: a small model, few pairs, a short beam, one length bucket (one compiled
    shape a function; tests/data/test_sequence_pairs.py covers the buckets)."""
    smoke(config, steps=30, batch_size=32, eval_examples=64, dataset=config.dataset)
    config.num_buckets = 1
    config.model.update(hidden_size=32, embed_dim=16)
    config.addition.update(examples=600, longer_digits=4)
    config.dates.examples = 600
    config.decode.beam_width = 2


def choices() -> dict[str, Collection[str]]:
    """The sequence-to-sequence family's enumerated keys and the values its model, task and data
    code take for each (jaxgen/families/__init__.py: Family.choices)."""
    from jaxgen.data import sequence_pairs
    from jaxgen.families.seq2seq import model, task
    from jaxgen.nn.cells import CELLS

    return {
        "model.cell": CELLS,
        "model.attention": model.ATTENTIONS,
        "select_by": task.SELECT_BY,
        "decode.method": task.DECODE_METHODS,
        "tokens": sequence_pairs.TOKEN_CHOICES,
        "too_long": sequence_pairs.TOO_LONG_POLICIES,
    }
