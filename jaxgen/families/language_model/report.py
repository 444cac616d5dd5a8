"""The language-model report: test bits per character of every cell beside the unigram and
uniform baselines (every number in bits per character), samples at several temperatures, the
learning curves, and the vanishing-gradient picture."""

from __future__ import annotations

import pathlib

import jax
import numpy as np

from jaxgen.families.language_model.sampling import sample
from jaxgen.metrics.recurrent import hidden_state_jacobian_norms
from jaxgen.metrics.text import uniform_bits_per_char, unigram_bits_per_char
from jaxgen.nn.common import count_params
from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.train.replicas import run_keys
from jaxgen.viz import figures

JACOBIAN_CHARS = 100  # how far back the vanishing-gradient figure looks
INITIAL_WINDOWS = 20  # held-out windows that score the initial parameters
UNIGRAM = "unigram (train frequencies, add-one)"


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    corpus = task.corpus
    uniform = uniform_bits_per_char(corpus.vocab_size)
    # Scored on the characters the models are scored on: every test character after the first.
    unigram = unigram_bits_per_char(corpus.train_ids, corpus.test_ids[1:], corpus.vocab_size)
    # The initial parameters of this run (of this seed, in a many-seed run).
    init_params = task.init_params(run_keys(history.seed)[0])
    rows, summary = [], {}
    for cell, model in task.models.items():
        bpc = task.bpc(cell, params[cell], "test")
        initial = task.bpc(cell, init_params[cell], "test", INITIAL_WINDOWS)
        count = count_params(params[cell])
        summary.update(
            {
                f"test_bpc_{cell}": bpc,
                f"initial_bpc_{cell}": initial,
                f"params_{cell}": count,
                f"hidden_size_{cell}": model.hidden_size,
            }
        )
        rows.append([cell, bpc, model.hidden_size, count, initial])
    best = min(task.models, key=lambda c: summary[f"test_bpc_{c}"])
    summary = {
        "test_bpc": summary[f"test_bpc_{best}"],
        "best_cell": best,
        "initial_bpc": float(np.mean([r[4] for r in rows])),
        "unigram_test_bpc": unigram,
        "uniform_bpc": uniform,
        "vocab_size": corpus.vocab_size,
        "test_characters": len(corpus.test_ids) - 1,
        **summary,
    }
    rows.append([UNIGRAM, unigram, "", "", ""])
    rows.append([f"uniform over the {corpus.vocab_size} characters (log2 V)", uniform, "", "", ""])
    sections = [_numbers_section(task, rows, history.step)]
    sections.append(_samples_section(task, best, params[best]))
    names = [f"bpc_{c}" for c in task.models]
    sections += learning_curve_section(
        history, names, workdir, "bits per character (train: TBPTT batches)"
    )
    sections.append(_vanishing_gradient_section(task, params, init_params, workdir))
    return Report(summary, sections)


def _numbers_section(task, rows, steps: int) -> tuple[str, str]:
    config, corpus = task.config, task.corpus
    budget = (
        f"hidden sizes chosen for at most {config.param_budget} parameters per model"
        if config.param_budget
        else f"hidden size {config.model.hidden_size}"
    )
    protocol = (
        f"Every number is in bits per character. Test: the last {len(corpus.test_ids)} "
        f"characters of `{config.dataset}` (by position; vocabulary of V = {corpus.vocab_size} "
        "characters), scored as one stream with the hidden state carried across windows, every "
        f"character after the first once ({len(corpus.test_ids) - 1} characters). Trained "
        f"{steps} steps of {config.batch_size} streams x {config.seq_len} characters "
        f"(truncated BPTT), Adam {config.learning_rate}, gradients clipped to global norm "
        f"{config.grad_clip_norm} per model; {budget}, {config.model.num_layers} layer(s), "
        f"embedding {config.model.embed_dim}. Initial: the initial parameters on the first "
        f"{INITIAL_WINDOWS} held-out windows (about log2 V for a fresh model). Baselines without "
        "context, on the same test characters: the unigram model, each character's frequency "
        f"in the {len(corpus.train_ids)} training characters with add-one (Laplace) smoothing "
        "over the V characters, p(c) = (n_c + 1) / (N + V), so that a character absent from "
        "the training text costs log2(N + V) bits rather than infinitely many; and the uniform "
        "model, log2 V."
    )
    table = markdown_table(
        ["model", "test (bits/char)", "hidden", "parameters", "initial (bits/char)"], rows
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
