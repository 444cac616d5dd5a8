"""Character-level language models: one recurrent cell, or a bank of cells compared at an equal
parameter count and step budget (trained side by side in one program, like the compression
bank: each cell its own model, optimizer group, clipping and hidden state).

Training is truncated backpropagation through time: the batches are contiguous windows of
`batch_size` text streams (jaxgen.data.text), and the hidden state at the end of one batch is
the (gradient-stopped) start of the next, kept in the train state so that resume is exact. It
restarts from zero at every epoch, when the streams move to new offsets.
"""

from __future__ import annotations

import math
import pathlib
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.config import base_config, smoke
from jaxgen.data.text import (
    IGNORE_TARGET,
    eval_windows,
    load_text,
    tbptt_dataset,
    windows_per_epoch,
)
from jaxgen.models import recurrent
from jaxgen.train.logging import read_metrics
from jaxgen.train.replicas import run_keys
from jaxgen.train.state import init_state, make_optimizer, make_train_step
from jaxgen.viz import figures
from jaxgen.viz.report import Report, markdown_table

LN2 = math.log(2.0)
JACOBIAN_CHARS = 100  # how far back the vanishing-gradient figure looks
TIMED_STEPS = 20


def language_model_config(**overrides) -> ml_collections.ConfigDict:
    """A language-model experiment's config: the common keys, this task's keys, `overrides`.

    cells: the cells to train (several: compared side by side). param_budget: when > 0, each
    cell's hidden size is the largest whose whole model has at most this many parameters (else
    model.hidden_size). eval_chars: how many held-out characters the periodic eval scores (0:
    all; the report always scores all).
    """
    config = base_config(
        task="language_model",
        dataset="pydoc",
        cells=("lstm",),
        param_budget=0,
        seq_len=100,
        batch_size=32,
        steps=2000,
        eval_every=500,
        checkpoint_every=500,
        learning_rate=2e-3,
        grad_clip_norm=1.0,  # exploding gradients: clip each model's global norm
        eval_chars=10000,
        model=ml_collections.ConfigDict({"hidden_size": 256, "num_layers": 1, "embed_dim": 32}),
        sampling=ml_collections.ConfigDict(
            {
                "prompt": "The ",
                "length": 300,
                "num_samples": 3,
                "temperatures": (0.5, 1.0),
                "top_k": 10,
            }
        ),
    )
    config.update(overrides)
    return config


def language_model_smoke(config: ml_collections.ConfigDict) -> None:
    """Seconds long: a few short steps of tiny models on the embedded text."""
    smoke(config, steps=10, batch_size=8, seq_len=16, eval_chars=400, dataset="pydoc")
    config.model.update(hidden_size=16, embed_dim=8)
    config.sampling.update(length=20, num_samples=2)
    if config.param_budget:
        config.param_budget = 8000


def _cross_entropy(logits, targets):
    """Per-character negative log-likelihood in nats, zero where the target is padding."""
    mask = targets != IGNORE_TARGET
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.where(mask, targets, 0))
    return jnp.where(mask, nll, 0.0), mask


class LanguageModelTask:
    """Trains one character-level LM per entry of `cells`; reports held-out bits per character."""

    batch_axis = 0
    best_metric = "test_bpc"
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
                hidden = recurrent.hidden_size_for_budget(
                    cell, vocab, m.embed_dim, m.num_layers, config.param_budget
                )
            self.models[cell] = recurrent.CharLM(vocab, cell, hidden, m.num_layers, m.embed_dim)
        self.group_learning_rates = {cell: config.learning_rate for cell in self.models}
        self.windows = windows_per_epoch(
            len(self.corpus.train_ids), config.batch_size, config.seq_len
        )
        self.test_inputs, self.test_targets = eval_windows(self.corpus.test_ids, config.seq_len)
        self._test_nll = jax.jit(self._nll_over_windows, static_argnums=0)

    # ---- the task protocol -------------------------------------------------------------------

    def init_params(self, key: jax.Array):
        tokens = jnp.zeros((1, self.config.seq_len), jnp.int32)
        return {
            cell: model.init(jax.random.fold_in(key, i), model.initial_carries(1), tokens)
            for i, (cell, model) in enumerate(self.models.items())
        }

    def param_labels(self, params):
        """One optimizer group (own Adam, own clipping) per cell."""
        return {cell: jax.tree.map(lambda _, c=cell: c, tree) for cell, tree in params.items()}

    def initial_carry(self):
        return {c: m.initial_carries(self.config.batch_size) for c, m in self.models.items()}

    def train_dataset(self, seed: int):
        config = self.config
        return tbptt_dataset(self.corpus.train_ids, config.batch_size, config.seq_len, seed)

    def loss(self, params, batch, key, step, carry):
        # A new epoch moves the streams to new offsets: the carried state no longer applies.
        fresh = step % self.windows == 0
        total, aux, new_carry = 0.0, {}, {}
        for cell in self.models:
            start = jax.tree.map(lambda h: jnp.where(fresh, jnp.zeros_like(h), h), carry[cell])
            value, new_carry[cell] = self._cell_loss(cell, params[cell], batch, start)
            total = total + value
            aux[f"bpc_{cell}"] = value / LN2
        return total, (aux, new_carry)

    def _cell_loss(self, cell: str, params, batch, carry):
        """(mean nats per character, final carries) of one cell's model on a TBPTT batch,
        starting from `carry` with no gradient through it (the truncation)."""
        carry = jax.lax.stop_gradient(carry)
        new_carry, logits = self.models[cell].apply(params, carry, batch["inputs"])
        nll, _ = _cross_entropy(logits, batch["targets"])
        return jnp.mean(nll), new_carry

    def evaluate(self, params) -> dict[str, float]:
        """Held-out bits per character on the first `eval_chars` test characters."""
        windows = len(self.test_inputs)
        if self.config.eval_chars:
            windows = min(windows, -(-self.config.eval_chars // self.config.seq_len))
        bpc = {f"test_bpc_{c}": self.test_bpc(c, params[c], windows) for c in self.models}
        return {"test_bpc": min(bpc.values()), **bpc}

    def report(self, params, workdir: pathlib.Path) -> Report:
        config = self.config
        log_vocab = math.log(self.corpus.vocab_size)
        init_params = self.init_params(run_keys(config.seed)[0])
        rows, summary = [], {}
        for cell, model in self.models.items():
            bpc = self.test_bpc(cell, params[cell])
            initial = self.test_bpc(cell, init_params[cell], 20) * LN2
            count = recurrent.count_params(params[cell])
            speed = self.steps_per_second(cell, params[cell])
            summary.update(
                {
                    f"test_bpc_{cell}": bpc,
                    f"initial_loss_nats_{cell}": initial,
                    f"params_{cell}": count,
                    f"hidden_size_{cell}": model.hidden_size,
                    f"steps_per_second_{cell}": speed,
                }
            )
            rows.append([cell, bpc, model.hidden_size, count, speed, initial])
        best = min(self.models, key=lambda c: summary[f"test_bpc_{c}"])
        summary = {
            "test_bpc": summary[f"test_bpc_{best}"],
            "best_cell": best,
            "initial_loss_nats": float(np.mean([r[5] for r in rows])),
            "log_vocab_size": log_vocab,
            "vocab_size": self.corpus.vocab_size,
            "test_characters": len(self.corpus.test_ids) - 1,
            **summary,
        }
        sections = [self._numbers_section(rows, log_vocab)]
        sections.append(self._samples_section(best, params[best]))
        records = read_metrics(workdir, "train")
        if records:
            names = [f"bpc_{c}" for c in self.models]
            figures.learning_curves(
                records,
                names,
                workdir / "learning_curve.png",
                "train bits per character (TBPTT batches)",
            )
            sections.append(("Learning curves", "![learning curves](learning_curve.png)"))
        sections.append(self._vanishing_gradient_section(params, init_params, workdir))
        return Report(summary, sections)

    # ---- evaluation pieces -------------------------------------------------------------------

    def _nll_over_windows(self, cell, params, inputs_Wx1xT, targets_Wx1xT):
        model = self.models[cell]

        def body(carry, window):
            inputs, targets = window
            carry, logits = model.apply(params, carry, inputs)
            nll, mask = _cross_entropy(logits, targets)
            return carry, (jnp.sum(nll), jnp.sum(mask))

        _, (nll, count) = jax.lax.scan(
            body, model.initial_carries(1), (inputs_Wx1xT, targets_Wx1xT)
        )
        return jnp.sum(nll), jnp.sum(count)

    def test_bpc(self, cell: str, params, windows: int | None = None) -> float:
        """Bits per character on the held-out text (its first `windows` windows), scored as one
        stream with the state carried across windows: every character after the first once."""
        windows = windows or len(self.test_inputs)
        nll, count = self._test_nll(
            cell, params, self.test_inputs[:windows], self.test_targets[:windows]
        )
        return float(nll) / float(count) / LN2

    def steps_per_second(self, cell: str, params) -> float:
        """Train steps per second of this cell alone (jitted TBPTT step at the config's batch
        and window), timed over TIMED_STEPS steps after a warm-up."""
        model = self.models[cell]

        def loss(p, batch, key, step, carry):
            value, new_carry = self._cell_loss(cell, p, batch, carry)
            return value, ({}, new_carry)

        tx = make_optimizer(self.config)
        step = jax.jit(make_train_step(loss, tx, carries_state=True), donate_argnums=0)
        params = jax.tree.map(jnp.copy, params)  # the step donates its state
        state = init_state(params, tx, model.initial_carries(self.config.batch_size))
        batch = jax.tree.map(jnp.asarray, self.train_dataset(0)[0])
        key = jax.random.key(0)
        for _ in range(3):
            state, metrics = step(state, batch, key)
        jax.block_until_ready(metrics)
        start = time.perf_counter()
        for _ in range(TIMED_STEPS):
            state, metrics = step(state, batch, key)
        jax.block_until_ready(metrics)
        return TIMED_STEPS / (time.perf_counter() - start)

    def _numbers_section(self, rows, log_vocab) -> tuple[str, str]:
        config = self.config
        budget = (
            f"hidden sizes chosen for at most {config.param_budget} parameters per model"
            if config.param_budget
            else f"hidden size {config.model.hidden_size}"
        )
        protocol = (
            f"Held-out bits per character: the last {len(self.corpus.test_ids)} characters of "
            f"`{config.dataset}` (by position; vocabulary {self.corpus.vocab_size}), scored as "
            "one stream with the hidden state carried across windows, every character after the "
            f"first once. Trained {config.steps} steps of {config.batch_size} streams x "
            f"{config.seq_len} characters (truncated BPTT), Adam {config.learning_rate}, "
            f"gradients clipped to global norm {config.grad_clip_norm} per model; {budget}, "
            f"{config.model.num_layers} layer(s), embedding {config.model.embed_dim}. Steps/s: "
            f"each cell's train step alone, {TIMED_STEPS} steps after a warm-up, this machine. "
            f"Initial loss: nats per character of the initial parameters on the first 20 held-out "
            f"windows; log(vocabulary size) = {log_vocab:.3f} nats."
        )
        table = markdown_table(
            ["cell", "test bpc", "hidden", "parameters", "steps/s", "initial loss (nats)"], rows
        )
        return ("Bits per character", protocol + "\n\n" + table)

    def _samples_section(self, cell: str, params) -> tuple[str, str]:
        s = self.config.sampling
        prompt = self.corpus.encode(s.prompt)
        blocks = []
        for i, temperature in enumerate(s.temperatures):
            tokens = recurrent.sample(
                self.models[cell],
                params,
                prompt,
                jax.random.key(i),
                length=s.length,
                num_samples=s.num_samples,
                temperature=temperature,
                top_k=s.top_k,
            )
            texts = [s.prompt + self.corpus.decode(t) for t in tokens]
            blocks.append(
                f"Temperature {temperature}, top-k {s.top_k or 'off'}:\n\n"
                + "\n\n".join("```text\n" + t + "\n```" for t in texts)
            )
        return (f"Samples ({cell})", "\n\n".join(blocks))

    def _vanishing_gradient_section(self, params, init_params, workdir) -> tuple[str, str]:
        """|| d h_T / d s_t || against T - t for every cell's first layer, trained and at init,
        on the embedded first JACOBIAN_CHARS held-out characters."""
        ids = self.corpus.test_ids[:JACOBIAN_CHARS]
        lags = np.arange(1, len(ids) + 1)
        series = {}
        for label, tree in (("trained", params), ("init", init_params)):
            for cell, model in self.models.items():
                p = tree[cell]["params"]
                inputs = p["embed"]["embedding"][ids]
                series[f"{cell} ({label})"] = recurrent.hidden_state_jacobian_norms(
                    cell,
                    model.hidden_size,
                    inputs,
                    jax.random.key(0),
                    params={"params": p["layers_0"]["cell"]},
                )
        figures.curves(
            lags,
            series,
            workdir / "vanishing_gradient.png",
            xlabel="T - t",
            ylabel="|| d h_T / d s_t ||_F",
            title="how far back the state reaches",
            logy=True,
        )
        text = (
            "The Frobenius norm of the Jacobian of the last hidden state h_T with respect to the "
            "whole state s_t (for the LSTMs, [c_t, h_t]) of the first layer, computed with JAX's "
            f"reverse-mode autodiff over the first {len(ids)} held-out characters (embedded by "
            "each model's own embedding), for the trained parameters and at initialisation."
            "\n\n![vanishing gradient](vanishing_gradient.png)"
        )
        return ("The vanishing gradient", text)
