"""The language-model report: test bits per character of every cell against log V, samples at
several temperatures, the learning curves, and the vanishing-gradient picture."""

from __future__ import annotations

import math
import pathlib

import jax
import numpy as np

from jaxgen.families.language_model.sampling import sample
from jaxgen.families.language_model.task import LN2
from jaxgen.metrics.recurrent import hidden_state_jacobian_norms
from jaxgen.nn.common import count_params
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.train.replicas import run_keys
from jaxgen.viz import figures

JACOBIAN_CHARS = 100  # how far back the vanishing-gradient figure looks


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    log_vocab = math.log(task.corpus.vocab_size)
    # The initial parameters of this run (of this seed, in a many-seed run).
    init_params = task.init_params(run_keys(history.seed)[0])
    rows, summary = [], {}
    for cell, model in task.models.items():
        bpc = task.bpc(cell, params[cell], "test")
        initial = task.bpc(cell, init_params[cell], "test", 20) * LN2
        count = count_params(params[cell])
        summary.update(
            {
                f"test_bpc_{cell}": bpc,
                f"initial_loss_nats_{cell}": initial,
                f"params_{cell}": count,
                f"hidden_size_{cell}": model.hidden_size,
            }
        )
        rows.append([cell, bpc, model.hidden_size, count, initial])
    best = min(task.models, key=lambda c: summary[f"test_bpc_{c}"])
    summary = {
        "test_bpc": summary[f"test_bpc_{best}"],
        "best_cell": best,
        "initial_loss_nats": float(np.mean([r[4] for r in rows])),
        "log_vocab_size": log_vocab,
        "vocab_size": task.corpus.vocab_size,
        "test_characters": len(task.corpus.test_ids) - 1,
        **summary,
    }
    sections = [_numbers_section(task, rows, log_vocab, history.step)]
    sections.append(_samples_section(task, best, params[best]))
    if history.train:
        names = [f"bpc_{c}" for c in task.models]
        figures.learning_curves(
            history.train,
            names,
            workdir / "learning_curve.png",
            "train bits per character (TBPTT batches)",
        )
        sections.append(("Learning curves", "![learning curves](learning_curve.png)"))
    sections.append(_vanishing_gradient_section(task, params, init_params, workdir))
    return Report(summary, sections)


def _numbers_section(task, rows, log_vocab, steps: int) -> tuple[str, str]:
    config = task.config
    budget = (
        f"hidden sizes chosen for at most {config.param_budget} parameters per model"
        if config.param_budget
        else f"hidden size {config.model.hidden_size}"
    )
    protocol = (
        f"Test bits per character: the last {len(task.corpus.test_ids)} characters of "
        f"`{config.dataset}` (by position; vocabulary {task.corpus.vocab_size}), scored as "
        "one stream with the hidden state carried across windows, every character after the "
        f"first once. Trained {steps} steps of {config.batch_size} streams x "
        f"{config.seq_len} characters (truncated BPTT), Adam {config.learning_rate}, "
        f"gradients clipped to global norm {config.grad_clip_norm} per model; {budget}, "
        f"{config.model.num_layers} layer(s), embedding {config.model.embed_dim}. "
        f"Initial loss: nats per character of the initial parameters on the first 20 held-out "
        f"windows; log(vocabulary size) = {log_vocab:.3f} nats."
    )
    table = markdown_table(
        ["cell", "test bpc", "hidden", "parameters", "initial loss (nats)"], rows
    )
    return ("Bits per character", protocol + "\n\n" + table)


def _samples_section(task, cell: str, params) -> tuple[str, str]:
    s = task.config.sampling
    prompt = task.corpus.encode(s.prompt)
    blocks = []
    for i, temperature in enumerate(s.temperatures):
        tokens = sample(
            task.models[cell],
            params,
            prompt,
            jax.random.key(i),
            length=s.length,
            num_samples=s.num_texts,
            temperature=temperature,
            top_k=s.top_k,
        )
        texts = [s.prompt + task.corpus.decode(t) for t in tokens]
        blocks.append(
            f"Temperature {temperature}, top-k {s.top_k or 'off'}:\n\n"
            + "\n\n".join("```text\n" + t + "\n```" for t in texts)
        )
    return (f"Samples ({cell})", "\n\n".join(blocks))


def _vanishing_gradient_section(task, params, init_params, workdir) -> tuple[str, str]:
    """|| d h_T / d s_t || against T - t for every cell's first layer, trained and at init,
    on the embedded first JACOBIAN_CHARS held-out characters."""
    ids = task.corpus.test_ids[:JACOBIAN_CHARS]
    lags = np.arange(1, len(ids) + 1)
    series = {}
    for label, tree in (("trained", params), ("init", init_params)):
        for cell, model in task.models.items():
            p = tree[cell]["params"]
            inputs = p["embed"]["embedding"][ids]
            series[f"{cell} ({label})"] = hidden_state_jacobian_norms(
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
