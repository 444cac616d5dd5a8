"""The language-model task: TBPTT carry, held-out scoring, sampling, and the contract."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import log_softmax

from jaxgen.families.language_model.sampling import sample
from jaxgen.families.language_model.task import LN2, LanguageModelTask
from jaxgen.train.loop import train

from ..conftest import smoke_config

KEY = jax.random.key(0)  # the models have no randomness: the loss ignores its key


@pytest.fixture(scope="module")
def task():
    return LanguageModelTask(smoke_config("char_lm"))


def test_held_out_bpc_scores_every_character_once_with_the_state_carried(task):
    params = task.init_params(jax.random.key(1))["lstm"]
    model = task.models["lstm"]
    windows = 5
    ids = task.corpus.test_ids[: windows * task.config.seq_len + 1]
    # Reference: the whole text in one call from the zero state, scored in NumPy.
    _, logits = model.apply(params, model.initial_carries(1), jnp.asarray(ids[None, :-1]))
    logp = log_softmax(np.asarray(logits[0], np.float64), axis=-1)
    nll = -logp[np.arange(len(ids) - 1), ids[1:]]
    assert task.bpc("lstm", params, "test", windows) == pytest.approx(nll.mean() / LN2, rel=1e-4)


def test_loss_carries_the_state_and_restarts_it_each_epoch(task):
    params = task.init_params(jax.random.key(1))
    batches = task.train_dataset(0)
    carry = task.init_state(jax.random.key(1)).hidden
    _, (_, extra1) = task.loss(params, batches[0], KEY, 0, {"hidden": carry})
    carry1 = extra1["hidden"]
    # Batch 1 continues batch 0: its loss from carry1 equals the second half of one long run.
    model, p = task.models["lstm"], params["lstm"]
    both = np.concatenate([batches[0]["inputs"], batches[1]["inputs"]], axis=1)
    _, logits = model.apply(p, model.initial_carries(task.config.batch_size), jnp.asarray(both))
    _, (_, extra2) = task.loss(params, batches[1], KEY, 1, extra1)
    _, logits1 = model.apply(p, carry1["lstm"], jnp.asarray(batches[1]["inputs"]))
    np.testing.assert_allclose(logits1, logits[:, task.config.seq_len :], rtol=1e-4, atol=1e-5)
    # At an epoch boundary the carried state is dropped: same loss as from zeros.
    w = task.windows
    from_carry, _ = task.loss(params, batches[w], KEY, w, extra2)
    from_zero, _ = task.loss(params, batches[w], KEY, w, task.extra_state(KEY))
    assert float(from_carry) == pytest.approx(float(from_zero), rel=1e-6)


def test_sampling_respects_top_k_temperature_and_keys(task):
    model = task.models["lstm"]
    params = task.init_params(jax.random.key(1))["lstm"]
    prompt = task.corpus.encode("The ")
    a = sample(model, params, prompt, jax.random.key(0), length=30, num_samples=4)
    b = sample(model, params, prompt, jax.random.key(0), length=30, num_samples=4)
    c = sample(model, params, prompt, jax.random.key(1), length=30, num_samples=4)
    assert a.shape == (4, 30) and (a == b).all() and (a != c).any()
    assert (a != a[0]).any()  # the samples in one call differ
    # top_k=1 is greedy: every sample is the argmax continuation, whatever the key.
    greedy = sample(model, params, prompt, jax.random.key(2), length=10, num_samples=3, top_k=1)
    assert (greedy == greedy[0]).all()
    carries, logits = model.apply(params, model.initial_carries(1), jnp.asarray(prompt[None]))
    expected = []
    token = int(jnp.argmax(logits[0, -1]))
    for _ in range(10):
        expected.append(token)
        carries, step_logits = model.apply(params, carries, jnp.asarray([token]), method=model.step)
        token = int(jnp.argmax(step_logits[0]))
    assert greedy[0].tolist() == expected
    # top_k=3: every drawn token is among the 3 most likely at its step.
    top3 = sample(model, params, prompt, jax.random.key(3), length=1, num_samples=64, top_k=3)
    allowed = set(np.argsort(np.asarray(logits[0, -1]))[-3:].tolist())
    assert set(top3[:, 0].tolist()) <= allowed


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_char_lm_smoke_reports_bpc_and_the_initial_loss_sanity_check(tmp_path):
    config = smoke_config("char_lm", progress="false")
    result = train(config, tmp_path)
    assert result["uniform_bpc"] == pytest.approx(math.log(result["vocab_size"]) / math.log(2))
    # A fresh model predicts nearly uniformly: its loss is about log2(vocabulary size).
    assert abs(result["initial_bpc"] - result["uniform_bpc"]) < 0.15
    assert 0 < result["test_bpc"] < 10
    # The unigram baseline: add-one character frequencies of the training text, scored on the
    # test characters that the models score (all but the first), counted here in NumPy.
    task = LanguageModelTask(config)
    corpus = task.corpus
    counts = np.bincount(corpus.train_ids, minlength=corpus.vocab_size).astype(np.float64)
    p = (counts + 1) / (counts.sum() + corpus.vocab_size)
    unigram = -np.mean(np.log2(p[corpus.test_ids[1:]]))
    assert result["unigram_test_bpc"] == pytest.approx(unigram, rel=1e-12)
    assert result["test_characters"] == len(corpus.test_ids[1:])
    report = (tmp_path / "report.md").read_text()
    assert "```text\nThe " in report and "](vanishing_gradient.png)" in report
    # One unit: every number of the table in bits per character, the baselines beside the cell.
    (section,) = [s for s in report.split("\n## ") if s.startswith("Bits per character")]
    assert "nats" not in section and "Every number is in bits per character" in section
    header = "| model | test (bits/char) | hidden | parameters | initial (bits/char) |"
    assert header in section
    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in section.splitlines()
        if line.startswith("| ") and line != header
    }
    assert float(rows["lstm"]) == pytest.approx(result["test_bpc"], rel=1e-3)
    assert float(rows["unigram (train frequencies, add-one)"]) == pytest.approx(unigram, rel=1e-3)
    uniform = f"uniform over the {corpus.vocab_size} characters (log2 V)"
    assert float(rows[uniform]) == pytest.approx(np.log2(corpus.vocab_size), rel=1e-3)


def test_train_step_carries_the_hidden_state_in_the_train_state(task):
    state = task.init_state(jax.random.key(1))
    batch = jax.tree.map(jnp.asarray, task.train_dataset(0)[0])
    new_state, metrics = jax.jit(task.train_step)(state, batch, jax.random.key(0))
    _, (_, new) = task.loss(state.params, batch, KEY, 0, {"hidden": state.hidden})
    hidden = new["hidden"]
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        new_state.hidden,
        hidden,
    )
    assert int(new_state.step) == 1 and float(metrics["loss"]) > 0


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_cells_compared_at_an_equal_parameter_budget(tmp_path):
    result = train(smoke_config("rnn_cells", progress="false"), tmp_path)
    cells = ("rnn", "lstm", "gru", "peephole_lstm", "coupled_lstm")
    budget = smoke_config("rnn_cells").param_budget
    for cell in cells:
        assert result[f"params_{cell}"] <= budget
    assert result["test_bpc"] == min(result[f"test_bpc_{c}"] for c in cells)
    assert (tmp_path / "learning_curve.png").exists()
