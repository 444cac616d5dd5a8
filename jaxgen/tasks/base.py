"""The task protocol: the one shape of a family that the training loop knows.

The loop (jaxgen/train/loop.py) calls these members and nothing else. A family writes a task
module (its state, its step, its evaluation), a report module (jaxgen/reports/) and experiment
files; docs/adding_a_family.md walks through one.

Splits: `evaluate(params, "validation")` is the periodic evaluation that ranks checkpoints (and
so picks the best one); `evaluate(params, "test")` is called once at the end, on the final and
on the best checkpoint, for the report. Model selection never sees the test split.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Protocol, runtime_checkable

import grain
import jax
import numpy as np

from jaxgen.reports.markdown import Report
from jaxgen.train.state import TrainState, make_train_step

PyTree = Any
Metrics = dict[str, jax.Array]


@dataclasses.dataclass
class History:
    """What a run recorded, handed by the loop to the report (no report reads files back).

    train: the logged train records ({"step", "split": "train", metric names}), by step.
    eval: the periodic evaluations on the validation split ({"step", "split": "eval", ...}).
    snapshots: (step, arrays) of `Task.snapshot` at each evaluation (samples from fixed noise).
    step: the step of the parameters being reported.
    seed: the seed of the run being reported (in a many-seed run, that replica's).
    test: `evaluate(params, "test")` of the parameters being reported, computed once by the
        loop (the report's headline numbers and the model-selection table both use it).
    """

    train: list[dict] = dataclasses.field(default_factory=list)
    eval: list[dict] = dataclasses.field(default_factory=list)
    snapshots: list[tuple[int, dict[str, np.ndarray]]] = dataclasses.field(default_factory=list)
    step: int = 0
    seed: int = 0
    test: dict = dataclasses.field(default_factory=dict)


@runtime_checkable
class Task(Protocol):
    """A trainable family member, built from a config (`jaxgen.tasks.build_task`).

    batch_axis: the axis of the batch arrays that is split over devices (1 when a leading axis
        holds replicas).
    best_metric, best_mode: the name in `evaluate`'s result that ranks checkpoints, and whether
        lower ("min") or higher ("max") is better; None ranks none (only the newest are kept).
    """

    batch_axis: int
    best_metric: str | None
    best_mode: str

    def init_state(self, key: jax.Array) -> PyTree:
        """The train state at step 0: a pytree (a flax.struct dataclass) with a `step` field;
        everything a step changes lives in it, under named fields."""
        ...

    def train_step(self, state: PyTree, batch: dict, key: jax.Array) -> tuple[PyTree, Metrics]:
        """One pure update; metrics are float32 scalars and include "loss". The loop jits it."""
        ...

    def train_dataset(self, seed: int) -> grain.MapDataset:
        """The endless, random-access batches of this process, in the order `seed` gives."""
        ...

    def eval_params(self, state: PyTree) -> PyTree:
        """What evaluation and the report see of a state (a GAN's weight-averaged generator)."""
        ...

    def evaluate(self, params: PyTree, split: str) -> dict[str, float]:
        """Numbers on "validation" (periodic; ranks checkpoints) or "test" (final)."""
        ...

    def snapshot(self, params: PyTree) -> dict[str, np.ndarray]:
        """Arrays kept at every evaluation for figures of training progress ({} for none)."""
        ...

    def report(self, params: PyTree, history: History, workdir: pathlib.Path) -> Report:
        """The final numbers with their protocol, and the figures written into `workdir`."""
        ...


class LossTask:
    """The protocol's state and step for a family defined by a pure loss and an optax
    transformation: set `self.tx` and define `init_params(key)` and
    `loss(params, batch, key, step) -> (scalar, aux dict)`; the state is a `TrainState`.
    """

    tx: Any

    def init_params(self, key: jax.Array) -> PyTree:
        raise NotImplementedError

    def loss(self, params: PyTree, batch: dict, key: jax.Array, step: jax.Array):
        raise NotImplementedError

    def init_state(self, key: jax.Array) -> TrainState:
        return TrainState.create(self.init_params(key), self.tx)

    def train_step(self, state: TrainState, batch: dict, key: jax.Array):
        return make_train_step(self.loss, self.tx)(state, batch, key)

    def eval_params(self, state: TrainState) -> PyTree:
        return state.params

    def snapshot(self, params: PyTree) -> dict[str, np.ndarray]:
        return {}
