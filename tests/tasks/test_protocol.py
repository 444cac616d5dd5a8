"""Every family implements the one task protocol, and the loop calls nothing else."""

from __future__ import annotations

import pathlib
import re

import pytest

from jaxgen.tasks import build_task
from jaxgen.tasks.base import History, Task
from jaxgen.tasks.replicated import ReplicatedTask, _seed_history

from ..conftest import REPO, smoke_config

EXPERIMENTS = sorted(p.stem for p in (REPO / "experiments").glob("*.py"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_builds_a_task_of_the_protocol(name):
    task = build_task(smoke_config(name))
    assert isinstance(task, Task), name
    assert task.best_mode in ("min", "max")


def test_seeds_wrap_the_task_in_a_replicated_task_of_the_same_protocol():
    task = build_task(smoke_config("autoencoder", seeds="0,1"))
    assert isinstance(task, ReplicatedTask) and isinstance(task, Task)
    assert task.batch_axis == task.task.batch_axis + 1


def test_the_loop_probes_no_task_attributes():
    for path in (REPO / "jaxgen" / "train").glob("*.py"):
        source = pathlib.Path(path).read_text()
        assert not re.search(r"\b(hasattr|getattr)\(", source), path.name


def test_a_seed_history_holds_that_seed_s_own_numbers():
    history = History(
        train=[{"step": 5, "split": "train", "loss": 1.5, "seed0/loss": 1.0, "seed1/loss": 2.0}],
        eval=[{"step": 5, "split": "eval", "mse": 0.5, "seed0/mse": 0.4, "seed1/mse": 0.6}],
        snapshots=[(5, {"seed0/samples": 0, "seed1/samples": 1})],
        step=5,
    )
    own = _seed_history(history, 1)
    assert own.train == [{"step": 5, "split": "train", "loss": 2.0}]
    assert own.eval == [{"step": 5, "split": "eval", "mse": 0.6}]
    assert own.snapshots == [(5, {"samples": 1})] and own.step == 5 and own.seed == 1
