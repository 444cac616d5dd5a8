"""The sequence-to-sequence family: padding never reaches the encoder, attention is a
distribution over the real source positions, teacher forcing is the decoder's own steps fed the
reference, the loss and the scores are the textbook ones, and a run writes what the issue names
(free-running numbers, the decoding used) and refuses bad files in one line."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sacrebleu

from jaxgen.families.seq2seq.model import Seq2Seq
from jaxgen.families.seq2seq.task import masked_cross_entropy
from jaxgen.metrics import sequences
from jaxgen.train.loop import train

from ..conftest import REPO, smoke_config

SOURCE = jnp.array([[4, 5, 6, 7], [8, 9, 0, 0]], jnp.int32)
LENGTHS = jnp.array([4, 2], jnp.int32)


def model_and_params(attention, cell="lstm", bidirectional=False, layers=1):
    model = Seq2Seq(12, 9, cell, 8, layers, 6, bidirectional, attention)
    params = model.init(jax.random.key(0), SOURCE, LENGTHS, jnp.array([1, 1]))["params"]
    return model, params


@pytest.mark.parametrize(
    "attention, bidirectional",
    [("none", True), ("bahdanau", False), ("bahdanau", True), ("luong", True)],
)
def test_padding_never_reaches_the_encoder_and_attention_covers_only_the_source(
    attention, bidirectional
):
    model, params = model_and_params(attention, "gru", bidirectional, layers=2)
    longer = jnp.pad(SOURCE, ((0, 0), (0, 3)), constant_values=0).at[1, 4].set(11)  # junk pad
    logits, state, weights = model.apply({"params": params}, SOURCE, LENGTHS, jnp.array([1, 1]))
    logits_2, _, weights_2 = model.apply({"params": params}, longer, LENGTHS, jnp.array([1, 1]))
    np.testing.assert_allclose(logits, logits_2, atol=1e-5)
    if attention == "none":
        assert np.all(np.asarray(weights) == 0)
    else:
        np.testing.assert_allclose(np.asarray(weights).sum(-1), 1.0, atol=1e-5)
        assert np.all(np.asarray(weights_2)[1, 2:] < 1e-6)  # nothing on pad (or the junk)


def test_teacher_forcing_is_the_decoder_s_own_steps_fed_the_reference(tmp_path):
    from jaxgen.families import build_task

    task = build_task(smoke_config("seq2seq_addition"))
    params = task.init_params(jax.random.key(1))
    batch = task.train_dataset(0)[0]
    logits = task.teacher_forced_logits(params, batch)
    state = task.encode(params, batch["source"], batch["source_length"])
    for t in range(batch["target_in"].shape[1]):
        step_logits, state, _ = task.step(params, state, batch["target_in"][:, t])
        np.testing.assert_allclose(logits[:, t], step_logits, atol=1e-5)
    # Scheduled sampling at rate 0 feeds the reference: the same logits; at rate 1 the decoder
    # is fed its own samples after the first position (which always reads BOS).
    again = task.teacher_forced_logits(params, batch, jax.random.key(0), 0.0)
    np.testing.assert_allclose(again, logits, atol=1e-5)
    own = task.teacher_forced_logits(params, batch, jax.random.key(0), 1.0)
    np.testing.assert_allclose(own[:, 0], logits[:, 0], atol=1e-5)
    assert not np.allclose(own[:, 1:], logits[:, 1:], atol=1e-3)


def test_the_masked_cross_entropy_counts_only_real_positions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 5)).astype(np.float32)
    targets = rng.integers(0, 5, (3, 4))
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]], np.float32)
    value, accuracy = masked_cross_entropy(jnp.asarray(logits), jnp.asarray(targets), mask)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p, targets[..., None], -1)[..., 0]
    assert float(value) == pytest.approx(-(picked * mask).sum() / mask.sum(), rel=1e-5)
    right = (logits.argmax(-1) == targets) * mask
    assert float(accuracy) == pytest.approx(right.sum() / mask.sum())


def test_the_scores_are_the_textbook_ones():
    outputs, references = [[5, 6, 7], [5, 6], [9]], [[5, 6, 7], [5, 6, 8], [9]]
    assert sequences.exact_match(outputs, references) == pytest.approx(2 / 3)
    # positions with EOS (2): [5 6 7 2] all 4 right; [5 6 2] vs [5 6 8 2]: 2 of 4; [9 2]: 2 of 2
    assert sequences.symbol_accuracy(outputs, references, end=2) == pytest.approx(8 / 10)
    hyps, refs = ["the cat sat on the mat", "a dog ran"], ["the cat sat on a mat", "a dog ran"]
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert sequences.bleu(hyps, refs, "word") == pytest.approx(expected)
    assert sequences.chrf(refs, refs) == pytest.approx(100.0)


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_a_run_reports_free_running_numbers_and_its_decoding(tmp_path):
    workdir = tmp_path
    s = train(smoke_config("seq2seq_dates", progress="false"), workdir)
    assert json.loads((workdir / "summary.json").read_text())["decoding"] == s["decoding"]
    for key in ("test_exact_match", "test_symbol_accuracy", "test_bleu", "test_chrf"):
        assert 0 <= s[key] <= (100 if key in ("test_bleu", "test_chrf") else 1)
    assert s["decoding"].startswith("beam (width 2")
    assert 0 <= s["test_token_accuracy_teacher_forced"] <= 1
    report = (workdir / "report.md").read_text()
    assert "Teacher-forced token accuracy" in report
    for figure in ("attention.png", "accuracy_by_length.png"):
        assert (workdir / figure).exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "no pairs"),
        (b"hallo\tworld\nonly one column\n", "line 2"),
        (b"gr\xfcn\tgreen\n", "UTF-8"),
    ],
)
def test_a_bad_pairs_file_ends_with_one_line_and_status_2(tmp_path, content, message):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(content)
    workdir = tmp_path / "run"
    experiment = f"--config={REPO}/experiments/seq2seq_pairs.py:smoke"
    result = subprocess.run(
        [sys.executable, "-m", "jaxgen", "train", experiment, f"--config.dataset={path}",
         f"--workdir={workdir}"],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (workdir / "checkpoints").exists()
