"""The sequence-to-sequence task: an encoder-decoder RNN (model.py) trained by teacher forcing
(optionally scheduled sampling) on a masked cross-entropy over length-bucketed batches, and
evaluated free-running: the model decodes from its own previous outputs (decoding.py), never
from the reference.

evaluate(params, split): on "validation" the first `eval_examples` pairs (the periodic
evaluation that ranks checkpoints by `select_by`), on "test" every pair; greedy decoding;
exact_match, symbol_accuracy, bleu and chrf (jaxgen/metrics/sequences.py), and the teacher-forced
token accuracy, labelled as such (what the TensorFlow and Keras tutorials report). The report
(report.py) adds beam search, the length-extrapolation set and the figures.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.data import sequence_pairs as pairs
from jaxgen.families.seq2seq import decoding
from jaxgen.families.seq2seq.model import Seq2Seq
from jaxgen.metrics import sequences
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import make_optimizer

SELECT_BY = ("exact_match", "symbol_accuracy", "bleu", "chrf")
# `decode.method`: the decoders of the headline numbers (the report's samples use "sample").
DECODE_METHODS = ("greedy", "beam")
SAMPLE_KEY = 0x52  # the report's samples
EVAL_BATCH = 256


class Seq2SeqTask(LossTask):
    best_mode = "max"  # best_metric: config.select_by

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        if config.select_by not in SELECT_BY:
            raise ValueError(f"unknown select_by {config.select_by!r}; choose one of {SELECT_BY}")
        if config.decode.method not in DECODE_METHODS:
            raise ValueError(
                f"unknown decode.method {config.decode.method!r}; one of {DECODE_METHODS}"
            )
        self.best_metric = config.select_by
        self.data = pairs.load_pairs(config)
        self.source_kind, self.kind = self.data.tokens  # `kind`: the target's symbols
        sources, targets = zip(*self.data.train, strict=True)
        self.source_vocab = pairs.Vocabulary.build(sources, self.source_kind, config.min_count)
        self.target_vocab = pairs.Vocabulary.build(targets, self.kind, config.min_count)
        self.sets = {
            "train": self.data.train,
            "validation": self.data.validation[: config.eval_examples],
            "test": self.data.test,
            **self.data.extra,
        }
        self.encoded = {
            name: pairs.encode_pairs(items, self.source_vocab, self.target_vocab)
            for name, items in self.sets.items()
        }
        # The splits share the buckets (one compiled shape each, whatever the split); a further
        # test set (longer inputs) has its own single bucket.
        splits = [self.encoded[s] for s in ("train", "validation", "test")]
        longest = [max(lengths) for lengths in zip(*map(pairs.max_lengths, splits), strict=True)]
        shared = pairs.bucket_boundaries(*longest, config.num_buckets)
        self.boundaries = {
            name: shared if name in ("train", "validation", "test")
            else pairs.bucket_boundaries(*pairs.max_lengths(e), 1)
            for name, e in self.encoded.items()
        }  # fmt: skip
        m = config.model
        self.model = Seq2Seq(
            len(self.source_vocab),
            len(self.target_vocab),
            m.cell,
            m.hidden_size,
            m.num_layers,
            m.embed_dim,
            m.bidirectional,
            m.attention,
        )
        self.tx = make_optimizer(config)
        self._decoders: dict = {}

    # ---- the model as functions of params ------------------------------------------------------

    def encode(self, params, source, lengths):
        return self.model.apply({"params": params}, source, lengths, method=Seq2Seq.encode)

    def step(self, params, state, tokens):
        return self.model.apply({"params": params}, state, tokens, method=Seq2Seq.decode_step)

    def teacher_forced_logits(self, params, batch, key=None, rate=0.0):
        """Logits B x T x V of every target position, the decoder fed the reference symbols
        (with probability `rate` its own sample of the previous position instead)."""
        state = self.encode(params, batch["source"], batch["source_length"])
        tokens_TxB = batch["target_in"].T

        def forced(state, token):
            logits, state, _ = self.step(params, state, token)
            return state, logits

        if key is None:
            _, logits = jax.lax.scan(forced, state, tokens_TxB)
            return logits.transpose(1, 0, 2)

        def scheduled(carry, inputs):
            state, previous = carry
            t, token = inputs
            key_t = jax.random.fold_in(key, t)
            own = jax.random.categorical(jax.random.fold_in(key_t, 0), previous)
            use_own = (t > 0) & jax.random.bernoulli(jax.random.fold_in(key_t, 1), rate, own.shape)
            logits, state, _ = self.step(params, state, jnp.where(use_own, own, token))
            return (state, logits), logits

        start = jnp.zeros((tokens_TxB.shape[1], len(self.target_vocab)))
        steps = jnp.arange(tokens_TxB.shape[0])
        _, logits = jax.lax.scan(scheduled, (state, start), (steps, tokens_TxB))
        return logits.transpose(1, 0, 2)

    # ---- training ------------------------------------------------------------------------------

    def init_params(self, key: jax.Array):
        source = jnp.full((1, 2), pairs.UNK, jnp.int32)
        lengths = jnp.array([2], jnp.int32)
        return self.model.init(key, source, lengths, jnp.array([pairs.BOS]))["params"]

    def loss(self, params, batch, key, step):
        rate = self.config.objective.scheduled_sampling
        if rate > 0:
            rate = rate * step / max(self.config.steps - 1, 1)
            logits = self.teacher_forced_logits(params, batch, key, rate)
        else:
            logits = self.teacher_forced_logits(params, batch)
        value, accuracy = masked_cross_entropy(logits, batch["target_out"], batch["target_mask"])
        return value, {"token_accuracy": accuracy}

    def train_dataset(self, seed: int):
        return pairs.bucketed_train_dataset(
            self.encoded["train"], self.boundaries["train"], self.config.batch_size, seed
        )

    # ---- evaluation ----------------------------------------------------------------------------

    def decoder(self, method: str, max_length: int):
        """The jitted decoder `method` (greedy | beam | sample) for outputs of `max_length`."""
        name = (method, max_length)
        if name not in self._decoders:
            d = self.config.decode

            def run(params, source, lengths, key):
                state = self.encode(params, source, lengths)
                if method == "greedy":
                    return decoding.greedy(self.step, params, state, max_length)
                if method == "beam":
                    return decoding.beam_search(
                        self.step, params, state, max_length, d.beam_width, d.length_penalty
                    )
                return decoding.sample(self.step, params, state, max_length, key, d.temperature)

            self._decoders[name] = jax.jit(run)
        return self._decoders[name]

    def decode(self, params, name: str, method: str = "greedy") -> dict:
        """Free-running outputs of the set `name` (a split or an extra test set), in order:
        {"outputs": id lists without EOS, "attention": per pair T_out x S_in arrays}."""
        encoded = self.encoded[name]
        outputs, attention = [None] * len(encoded), [None] * len(encoded)
        key = jax.random.key(SAMPLE_KEY)
        for indices, batch in pairs.eval_batches(encoded, self.boundaries[name], EVAL_BATCH):
            max_length = batch["target_out"].shape[1] + self.config.decode.extra_length
            run = self.decoder(method, max_length)
            result = jax.device_get(
                run(
                    params,
                    batch["source"],
                    batch["source_length"],
                    jax.random.fold_in(key, indices[0]),
                )
            )
            for row, index in enumerate(indices):
                n = int(result.lengths[row])
                ids = result.tokens[row, :n].tolist()
                if ids and ids[-1] == pairs.EOS:
                    ids = ids[:-1]
                outputs[index] = ids
                length = int(batch["source_length"][row])
                attention[index] = np.asarray(result.attention[row, : max(n, 1), :length])
        return {"outputs": outputs, "attention": attention}

    def teacher_forced_accuracy(self, params, name: str) -> float:
        """The share of the set's target tokens (EOS included) that the decoder predicts when
        fed the reference: what the tutorials report, not a measure of decoding."""
        correct = total = 0.0
        for indices, batch in pairs.eval_batches(
            self.encoded[name], self.boundaries[name], EVAL_BATCH
        ):
            right, count = jax.device_get(self._teacher_forced_hits(params, batch))
            correct += float(np.sum(right[: len(indices)]))
            total += float(np.sum(count[: len(indices)]))
        return correct / max(total, 1.0)

    @functools.cached_property
    def _teacher_forced_hits(self):
        def hits(params, batch):
            logits = self.teacher_forced_logits(params, batch)
            right = (jnp.argmax(logits, -1) == batch["target_out"]) * batch["target_mask"]
            return right.sum(1), batch["target_mask"].sum(1)

        return jax.jit(hits)

    def scores(self, name: str, outputs) -> dict[str, float]:
        """exact_match, symbol_accuracy, bleu and chrf of `outputs` on the set `name`."""
        references = [t.tolist() for t in self.encoded[name].target]
        hypotheses = [self.text(o) for o in outputs]
        texts = [t for _, t in self.sets[name]]
        return {
            "exact_match": sequences.exact_match(outputs, references),
            "symbol_accuracy": sequences.symbol_accuracy(outputs, references, pairs.EOS),
            "bleu": sequences.bleu(hypotheses, texts, self.kind),
            "chrf": sequences.chrf(hypotheses, texts),
        }

    def text(self, ids) -> str:
        return self.target_vocab.decode(ids)

    def evaluate(self, params, split: str) -> dict[str, float]:
        numbers = self.scores(split, self.decode(params, split)["outputs"])
        numbers["token_accuracy_teacher_forced"] = self.teacher_forced_accuracy(params, split)
        return numbers


def masked_cross_entropy(logits, targets, mask):
    """(mean cross-entropy, token accuracy) over the real target positions (mask 1)."""
    entropy = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    count = jnp.maximum(mask.sum(), 1.0)
    accuracy = ((jnp.argmax(logits, -1) == targets) * mask).sum() / count
    return (entropy * mask).sum() / count, accuracy
