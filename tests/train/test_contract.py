"""The contract of docs/contract.md: workdir contents, exact resume (also after SIGKILL),
seeds and fingerprints, refusing a different config, clear errors, NaN stop, many devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jaxgen.train.loop import evaluate, train

from ..conftest import REPO, kill_after_checkpoints, run_cli, smoke_config, summary


def test_workdir_holds_everything_the_contract_names(tmp_path):
    result = train(smoke_config("autoencoder", progress="false"), tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"config.json", "metrics.jsonl", "checkpoints", "summary.json", "report.md"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    assert any(n.endswith(".png") for n in names)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {"train", "validation"} == {r["split"] for r in records}
    assert all("step" in r for r in records)
    saved = summary(tmp_path)
    assert saved == result and len(saved["params_fingerprint"]) == 64
    assert saved["step"] == 20 and saved["best_checkpoint_step"] in (10, 20)
    report = (tmp_path / "report.md").read_text()
    assert "test split (359 images" in report.replace("`digits` ", "") or "359 images" in report
    assert "](reconstructions.png)" in report


def test_resume_ends_with_the_parameters_of_an_uninterrupted_run(tmp_path):
    straight = train(smoke_config("denoising_ae", progress="false"), tmp_path / "a")
    train(smoke_config("denoising_ae", progress="false", steps=6), tmp_path / "b")
    resumed = train(smoke_config("denoising_ae", progress="false"), tmp_path / "b")
    assert resumed["params_fingerprint"] == straight["params_fingerprint"]
    # Re-evaluating the newest checkpoint reproduces the summary.
    assert evaluate(tmp_path / "b") == resumed


def test_same_seed_same_fingerprint_other_seed_other(tmp_path):
    a = train(smoke_config("autoencoder", progress="false"), tmp_path / "a")
    b = train(smoke_config("autoencoder", progress="false"), tmp_path / "b")
    c = train(smoke_config("autoencoder", progress="false", seed=1), tmp_path / "c")
    assert a["params_fingerprint"] == b["params_fingerprint"] != c["params_fingerprint"]


# The killed run reads its data in memory in one thread, or streamed from its files by worker
# processes; the reference holds it in memory. Both ways of reading never change the batches.
@pytest.mark.parametrize(
    "workers, in_memory_mb",
    [pytest.param(0, 512, marks=pytest.mark.slow), (2, 0)],  # the in-memory one: `make test-all`
)
def test_resume_after_sigkill_in_the_middle_of_training(tmp_path, workers, in_memory_mb):
    args = [
        "--config=experiments/autoencoder.py:smoke",
        "--config.steps=400",
        "--config.checkpoint_every=20",
        "--config.eval_every=400",
        "--config.log_every=20",
        "--config.progress=false",
    ]
    reference = run_cli("train", *args, f"--workdir={tmp_path / 'ref'}")
    assert reference.returncode == 0, reference.stderr
    victim = tmp_path / "victim"
    reading = [f"--config.data_workers={workers}", f"--config.data_in_memory_mb={in_memory_mb}"]
    kill_after_checkpoints(["train", *args, *reading, f"--workdir={victim}"], victim, count=2)
    assert not (victim / "summary.json").exists(), "the run finished before it was killed"
    resumed = run_cli("train", *args, *reading, f"--workdir={victim}")
    assert resumed.returncode == 0, resumed.stderr
    assert summary(victim)["params_fingerprint"] == summary(tmp_path / "ref")["params_fingerprint"]
    steps = [
        json.loads(line)["step"]
        for line in (victim / "metrics.jsonl").read_text().splitlines()
        if '"train"' in line
    ]
    assert steps == sorted(set(steps)), "metrics.jsonl repeats steps after the resume"


def _smoke_cli(workdir, *extra: str):
    """`jaxgen train` of the autoencoder smoke preset in a subprocess, without a progress bar."""
    return run_cli(
        "train",
        "--config=experiments/autoencoder.py:smoke",
        f"--workdir={workdir}",
        "--config.progress=false",
        *extra,
    )


def _last_train_loss(workdir) -> float:
    records = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if r["split"] == "train"][-1]


def _snapshot(workdir):
    return {p.relative_to(workdir): p.read_bytes() for p in workdir.rglob("*") if p.is_file()}


def test_bad_input_is_one_line_and_exit_2_and_keeps_the_workdir(tmp_path):
    ok = _smoke_cli(tmp_path)
    assert ok.returncode == 0, ok.stderr
    before = _snapshot(tmp_path)
    cases = [
        (["--config.seed=5"], "different config"),
        (["--config.nokey=5"], "unknown config key"),
    ]
    for extra, message in cases:
        bad = run_cli(
            "train", "--config=experiments/autoencoder.py:smoke", f"--workdir={tmp_path}", *extra
        )
        assert bad.returncode == 2, bad.stderr
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in bad.stderr
    assert _snapshot(tmp_path) == before
    fresh = tmp_path / "fresh"
    bad = run_cli(
        "train",
        "--config=experiments/autoencoder.py:smoke",
        f"--workdir={fresh}",
        "--config.dataset=no_such_set",
    )
    assert bad.returncode == 2 and "unknown dataset 'no_such_set'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (fresh / "config.json").exists()
    for args, message in [
        (["train", "--config=experiments/autoencoder.py:huge", f"--workdir={tmp_path}"], "preset"),
        (["train", f"--workdir={tmp_path}"], "--config"),
        (["eval", f"--workdir={tmp_path / 'nothing'}"], "no run"),
    ]:
        bad = run_cli(*args)
        assert bad.returncode == 2 and message in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    train(smoke_config("autoencoder", progress="false", steps=10), tmp_path)
    for f in (tmp_path / "checkpoints" / "10" / "state").rglob("*"):
        if f.is_file():
            f.write_bytes(b"garbage")
    bad = _smoke_cli(tmp_path)
    assert bad.returncode == 2, bad.stderr
    assert "cannot be read" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert (tmp_path / "checkpoints" / "10").exists()


def test_nan_loss_stops_with_exit_2_and_keeps_checkpoints(tmp_path):
    bad = _smoke_cli(
        tmp_path,
        "--config.objective.output=linear",
        "--config.learning_rate=1e30",
        "--config.checkpoint_every=1",
    )
    assert bad.returncode == 2, bad.stderr
    assert "loss became" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert any((tmp_path / "checkpoints").iterdir())


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_eight_devices_end_with_the_loss_of_one(tmp_path):
    def final_loss(workdir, devices):
        env = {"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
        result = run_cli(
            "train",
            "--config=experiments/denoising_ae.py:smoke",
            f"--workdir={workdir}",
            "--config.progress=false",
            env=env,
        )
        assert result.returncode == 0, result.stderr
        return _last_train_loss(workdir)

    one = final_loss(tmp_path / "one", 1)
    eight = final_loss(tmp_path / "eight", 8)
    assert eight == pytest.approx(one, rel=1e-4)
    report = (tmp_path / "eight" / "report.md").read_text()
    assert "8 x cpu" in report


def test_two_processes_end_with_the_loss_of_one(tmp_path):
    """Two JAX processes on one machine (gloo collectives) split each global batch."""
    env = {"JAXGEN_TEST_WORKDIR": str(tmp_path)}
    script = REPO / "tests" / "train" / "multiprocess_worker.py"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), "2", str(12355 + os.getpid() % 1000)],
            cwd=REPO,
            env={**os.environ, **env},
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    single = _smoke_cli(tmp_path / "single")
    assert single.returncode == 0, single.stderr

    assert _last_train_loss(tmp_path / "multi") == pytest.approx(
        _last_train_loss(tmp_path / "single"), rel=1e-4
    )
