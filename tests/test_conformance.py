"""Every registered family keeps the contract: parametrised over the registry
(jaxgen/families/__init__.py), so a family added later is covered without editing this file.

On each family's smoke experiment: it trains, evaluates on the validation split, writes its
report and summary, and a run killed by SIGKILL after its first checkpoint resumes to the
uninterrupted run's params_fingerprint; and it runs as two seeds in one program. Only the killed
run is a separate process; the others run in the test's own (so they share its imports and the
feature classifier it loaded).

CI's budget: a family marked `heavy` in the registry runs under `make test-all` only (marked
slow), and so do the many-seed runs of every family (`make test` proves many seeds in one
program on tests/train/test_replicas.py, the protocol's probe task and the comparison).
"""

from __future__ import annotations

import json
import pathlib

import pytest

from jaxgen.families import FAMILIES
from jaxgen.train.loop import train

from .conftest import kill_after_checkpoints, smoke_config


def _families(always_slow: bool = False) -> list:
    return [
        pytest.param(name, marks=[pytest.mark.slow] if always_slow or FAMILIES[name].heavy else [])
        for name in sorted(FAMILIES)
    ]


def _experiment(name: str) -> str:
    return pathlib.Path(FAMILIES[name].smoke).stem


@pytest.mark.parametrize("name", _families())
def test_a_family_trains_reports_and_resumes_after_sigkill(tmp_path, name):
    reference = train(smoke_config(_experiment(name), progress="false"), tmp_path / "reference")
    assert len(reference["params_fingerprint"]) == 64
    assert "## Model selection" in (tmp_path / "reference" / "report.md").read_text()
    lines = (tmp_path / "reference" / "metrics.jsonl").read_text().splitlines()
    assert {"train", "validation"} == {json.loads(line)["split"] for line in lines}

    victim = tmp_path / "victim"
    args = [f"--config={FAMILIES[name].smoke}:smoke", "--config.progress=false"]
    kill_after_checkpoints(["train", *args, f"--workdir={victim}"], victim, count=1)
    resumed = train(smoke_config(_experiment(name), progress="false"), victim)
    assert resumed["params_fingerprint"] == reference["params_fingerprint"]


@pytest.mark.parametrize("name", _families(always_slow=True))
def test_a_family_runs_as_two_seeds_in_one_program(tmp_path, name):
    short = dict(steps=2, eval_every=2, checkpoint_every=2, progress="false")
    many = train(smoke_config(_experiment(name), seeds="2", **short), tmp_path)
    assert many["seeds"] == [0, 1]
    assert all((tmp_path / f"seed{s}" / "report.md").exists() for s in (0, 1))
