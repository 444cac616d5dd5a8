"""Character-level language models: one recurrent cell, or a bank of cells compared at an equal
parameter count and step budget (trained side by side in one program, like the compression
bank: each cell its own model, optimizer group, clipping and hidden state).

Training is truncated backpropagation through time: the batches are contiguous windows of
`batch_size` text streams (jaxgen.data.text), and the hidden state at the end of one batch is
the (gradient-stopped) start of the next, kept in the train state (`LMState.hidden`) so that
resume is exact. It restarts from zero at every epoch, when the streams move to new offsets.
"""

from __future__ import annotations

import math

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen.data.text import (
    IGNORE_TARGET,
    eval_windows,
    load_text,
    tbptt_dataset,
    windows_per_epoch,
)
from jaxgen.families.language_model.model import CharLM, hidden_size_for_budget
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import PyTree, TrainState, make_optimizer

LN2 = math.log(2.0)


@flax.struct.dataclass
class LMState(TrainState):
    """A train state with each cell's hidden state at the end of the last batch (TBPTT)."""

    hidden: PyTree  # {cell: carries, one per layer}


def cross_entropy(logits, targets):
    """Per-character negative log-likelihood in nats, zero where the target is padding."""
    mask = targets != IGNORE_TARGET
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.where(mask, targets, 0))
    return jnp.where(mask, nll, 0.0), mask


def cell_loss(model: CharLM, params, batch, carry):
    """(mean nats per character, final carries) of one cell's model on a TBPTT batch, starting
    from `carry` with no gradient through it (the truncation)."""
    carry = jax.lax.stop_gradient(carry)
    new_carry, logits = model.apply(params, carry, batch["inputs"])
    nll, _ = cross_entropy(logits, batch["targets"])
    return jnp.mean(nll), new_carry


class LanguageModelTask(LossTask):
    """Trains one character-level LM per entry of `cells`; evaluates bits per character."""

    state_type = LMState
    batch_axis = 0
    best_metric = "bpc"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        self.corpus = load_text(config.dataset)
        m = config.model
        if not config.cells:
            raise ValueError("config.cells names no cell")
        vocab = self.corpus.vocab_size
        self.models = {}
        for cell in config.cells:
            hidden = m.hidden_size
            if config.param_budget:
                hidden = hidden_size_for_budget(
                    cell, vocab, m.embed_dim, m.num_layers, config.param_budget
                )
            self.models[cell] = CharLM(vocab, cell, hidden, m.num_layers, m.embed_dim)
        # One optimizer group (own Adam, own clipping) per cell.
        self.tx = make_optimizer(
            config, self.param_labels, {cell: config.learning_rate for cell in self.models}
        )
        self.windows = windows_per_epoch(
            len(self.corpus.train_ids), config.batch_size, config.seq_len
        )
        self.eval_windows = {
            split: eval_windows(self.corpus.split_ids(split), config.seq_len)
            for split in ("validation", "test")
        }
        self._nll = jax.jit(self._nll_over_windows, static_argnums=0)

    def init_params(self, key: jax.Array):
        tokens = jnp.zeros((1, self.config.seq_len), jnp.int32)
        return {
            cell: model.init(jax.random.fold_in(key, i), model.initial_carries(1), tokens)
            for i, (cell, model) in enumerate(self.models.items())
        }

    def param_labels(self, params):
        return {cell: jax.tree.map(lambda _, c=cell: c, tree) for cell, tree in params.items()}

    def extra_state(self, key: jax.Array) -> dict:
        del key  # every stream starts from zero carries
        return {
            "hidden": {c: m.initial_carries(self.config.batch_size) for c, m in self.models.items()}
        }

    def loss(self, params, batch, key, step, extra):
        """(total nats per character over the cells, (bpc per cell, {"hidden": the new hidden
        states})); the models have no randomness (`key` unused)."""
        del key
        # A new epoch moves the streams to new offsets: the carried state no longer applies.
        fresh = step % self.windows == 0
        total, aux, new_hidden = 0.0, {}, {}
        for cell, model in self.models.items():
            start = jax.tree.map(
                lambda h: jnp.where(fresh, jnp.zeros_like(h), h), extra["hidden"][cell]
            )
            value, new_hidden[cell] = cell_loss(model, params[cell], batch, start)
            total = total + value
            aux[f"bpc_{cell}"] = value / LN2
        return total, (aux, {"hidden": new_hidden})

    def train_dataset(self, seed: int):
        config = self.config
        return tbptt_dataset(self.corpus.train_ids, config.batch_size, config.seq_len, seed)

    def evaluate(self, params, split: str) -> dict[str, float]:
        """Bits per character of every cell on the first `eval_chars` characters of `split`
        (`bpc_CELL`), and the best cell's (`bpc`)."""
        windows = self._evaluated_windows(split)
        bpc = {f"bpc_{c}": self.bpc(c, params[c], split, windows) for c in self.models}
        return {"bpc": min(bpc.values()), **bpc}

    def _evaluated_windows(self, split: str) -> int:
        windows = len(self.eval_windows[split][0])
        if self.config.eval_chars:
            windows = min(windows, -(-self.config.eval_chars // self.config.seq_len))
        return windows

    def evaluation_protocol(self, split: str) -> dict[str, str]:
        ids = self.corpus.split_ids(split)
        scored = min(self._evaluated_windows(split) * self.config.seq_len, len(ids) - 1)
        where = f"the first {scored} of the {len(ids) - 1} scored {split} characters"
        protocol = {f"bpc_{c}": f"bits per character, {where}" for c in self.models}
        protocol["bpc"] = f"the best cell's bits per character, {where}"
        return protocol

    def _nll_over_windows(self, cell, params, inputs_Wx1xT, targets_Wx1xT):
        model = self.models[cell]

        def body(carry, window):
            inputs, targets = window
            carry, logits = model.apply(params, carry, inputs)
            nll, mask = cross_entropy(logits, targets)
            return carry, (jnp.sum(nll), jnp.sum(mask))

        _, (nll, count) = jax.lax.scan(
            body, model.initial_carries(1), (inputs_Wx1xT, targets_Wx1xT)
        )
        return jnp.sum(nll), jnp.sum(count)

    def bpc(self, cell: str, params, split: str, windows: int | None = None) -> float:
        """Bits per character on `split`'s text (its first `windows` windows), scored as one
        stream with the state carried across windows: every character after the first once."""
        inputs, targets = self.eval_windows[split]
        windows = windows or len(inputs)
        nll, count = self._nll(cell, params, inputs[:windows], targets[:windows])
        return float(nll) / float(count) / LN2
