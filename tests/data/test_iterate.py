"""The loop's data iterator: bounded read-ahead, worker processes, the same order and exact
resume for every setting."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxgen.data import load_split, train_dataset
from jaxgen.data.pipeline import iterate

from ..conftest import kill_after_checkpoints, run_cli, summary


def _batches(iterator, n):
    return [next(iterator)["label"].tolist() for _ in range(n)]


@pytest.mark.parametrize("workers, prefetch", [(0, 1), (0, 4), (2, 2)])
def test_every_setting_reads_the_dataset_s_order_and_resumes_from_its_state(workers, prefetch):
    dataset = train_dataset(load_split("digits", "train"), 16, seed=3)
    expected = [dataset[i]["label"].tolist() for i in range(12)]
    iterator = iterate(dataset, workers=workers, prefetch=prefetch)
    assert _batches(iterator, 5) == expected[:5]
    state = iterator.get_state()
    assert _batches(iterator, 7) == expected[5:]
    iterator.close()
    resumed = iterate(dataset, workers=workers, prefetch=prefetch)
    resumed.set_state(state)
    assert _batches(resumed, 7) == expected[5:]
    resumed.close()


def test_resume_after_sigkill_with_worker_processes(tmp_path):
    args = [
        "--config=experiments/autoencoder.py:smoke",
        "--config.steps=200",
        "--config.checkpoint_every=20",
        "--config.eval_every=200",
        "--config.log_every=20",
        "--config.progress=false",
    ]
    reference = run_cli("train", *args, f"--workdir={tmp_path / 'ref'}")
    assert reference.returncode == 0, reference.stderr
    victim = tmp_path / "victim"
    workers = "--config.data_workers=2"
    kill_after_checkpoints(["train", *args, workers, f"--workdir={victim}"], victim, count=2)
    assert not (victim / "summary.json").exists(), "the run finished before it was killed"
    resumed = run_cli("train", *args, workers, f"--workdir={victim}")
    assert resumed.returncode == 0, resumed.stderr
    # Workers or not, killed or not: the parameters of the uninterrupted single-process run.
    assert summary(victim)["params_fingerprint"] == summary(tmp_path / "ref")["params_fingerprint"]
    steps = [
        json.loads(line)["step"]
        for line in (victim / "metrics.jsonl").read_text().splitlines()
        if '"train"' in line
    ]
    assert steps == sorted(set(steps)) and np.max(steps) == 200
