"""The task protocol: the one shape of a family that the training loop knows.

The loop (jaxgen/train/loop.py) calls these members and nothing else; it has no branch on which
family runs. A family keeps its task, report, model, losses and config builders in its own
folder, jaxgen/families/NAME/, and is registered in jaxgen/families/__init__.py, which maps the
name to its task and its report; docs/adding_a_family.md walks through a complete one.

What a task may declare beyond the core members, each with a default here:
- `monitor`: the training metric the loop watches for divergence ("loss" by default);
- no data: `train_dataset` returns None; its step then receives only its key, and its
  checkpoints hold no data position;
- extra state (Gibbs chains, an image pool, a TBPTT carry, an image being optimised): named
  fields of its own state type; a `LossTask` declares them in `extra_state` and its loss returns
  their new values;
- phases: `phases()` lists `Phase`s, each with its own step budget, step function and a
  transition that may change the state's shapes (a DBN's layers, DeepDream's octaves,
  pretraining then fine-tuning);
- frozen inputs: `frozen_inputs()` loads fixed arrays once (a pretrained network's weights);
  the loop passes them to the jitted step as an argument and records their identity in
  config.json;
- `ynnpack_fusions_off`: YNNPACK fusion types its train step is compiled without on the CPU
  (jaxgen/runtime.py), where a family's step was measured faster on XLA's own loops.

Splits: `evaluate(params, "validation")` is the periodic evaluation that ranks checkpoints (and
so picks the best one); `evaluate(params, "test")` is called once at the end, on the final and
on the best checkpoint, for the report. Model selection never sees the test split.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import grain
import jax
import numpy as np
import optax

from jaxgen.train.state import TrainState, make_train_step

PyTree = Any
Metrics = dict[str, jax.Array]
# step(state, [batch,] key, [frozen]) -> (state, metrics): the batch only when the task has a
# data set, the frozen arrays only when it loads some.
StepFn = Callable[..., tuple[PyTree, Metrics]]
EXTRA_STATE_KEY = 0xE5  # folded off the init key for a LossTask's extra state


@dataclasses.dataclass
class History:
    """What a run recorded, handed by the loop to the report (no report reads files back).

    train: the logged train records ({"step", "split": "train", metric names}), by step.
    validation: the periodic evaluations ({"step", "split": "validation", ...}).
    snapshots: (step, arrays) of `Task.snapshot` at each evaluation (samples from fixed noise).
    step: the step of the parameters being reported.
    seed: the seed of the run being reported (in a many-seed run, that replica's).
    test: `evaluate(params, "test")` of the parameters being reported, computed once by the
        loop (the report's headline numbers and the model-selection table both use it).
    best_metric, best_mode: the task's validation metric that ranks checkpoints and whether
        lower ("min") or higher ("max") is better (None: the task ranks none).
    best_step: the step of the checkpoint that ranking selected (None: none was ranked).
    """

    train: list[dict] = dataclasses.field(default_factory=list)
    validation: list[dict] = dataclasses.field(default_factory=list)
    snapshots: list[tuple[int, dict[str, np.ndarray]]] = dataclasses.field(default_factory=list)
    step: int = 0
    seed: int = 0
    test: dict = dataclasses.field(default_factory=dict)
    best_metric: str | None = None
    best_mode: str = "min"
    best_step: int | None = None


@dataclasses.dataclass(frozen=True)
class Phase:
    """One stretch of a run with its own step function.

    name: shown in the progress bar and the logs.
    steps: the phase's step budget, at least 1; None for the last phase, which runs to
        `config.steps` (so raising `steps` extends a finished run, as for a run of one phase).
        A phase whose start lies at or past `config.steps` is never entered.
    train_step: the phase's pure step (the signature of `Task.train_step`).
    enter: `enter(state, key) -> state`, the state at the phase's first step made from the
        previous phase's last one (it may change shapes: a new layer, a larger image); None
        keeps the state. Never called for the first phase (`init_state` makes its state).
    """

    name: str
    steps: int | None
    train_step: StepFn
    enter: Callable[[PyTree, jax.Array], PyTree] | None = None


@dataclasses.dataclass(frozen=True)
class FrozenInputs:
    """Fixed arrays a task's step reads but never trains (a pretrained network's weights).

    arrays: the pytree passed to every step as its last argument.
    identity: what they are, as a short string (sha256 of the file, or the hash of the recipe
        that trained them); recorded in config.json, so a resume with other weights is refused.
    """

    arrays: PyTree
    identity: str


class Task:
    """A trainable family member, built from a config by its family's builder
    (`jaxgen.families.build`). Subclasses set the class attributes and define the members
    marked "required"; the rest have defaults.

    batch_axis: the axis of the batch arrays that is split over devices (1 when a leading axis
        holds replicas).
    best_metric, best_mode: the name in `evaluate`'s result that ranks checkpoints, and whether
        lower ("min") or higher ("max") is better; None ranks none (only the newest are kept).
    monitor: the training metric whose non-finite value stops the run.
    ynnpack_fusions_off: XLA:CPU's YNNPACK fusion types (runtime.YNNPACK_FUSIONS_BY_JAXLIB)
        that the loop compiles the train step without, on the CPU (runtime.step_compiler_options);
        the measurement that chose them belongs in a comment where a family sets them.
    """

    batch_axis: int = 0
    best_metric: str | None = None
    best_mode: str = "min"
    monitor: str = "loss"
    ynnpack_fusions_off: tuple[str, ...] = ()

    def init_state(self, key: jax.Array) -> PyTree:
        """Required: the train state at step 0, a pytree (a flax.struct dataclass) with a `step`
        field; everything a step changes lives in it, under named fields."""
        raise NotImplementedError

    def train_step(self, state: PyTree, *args) -> tuple[PyTree, Metrics]:
        """Required for a run of one phase: `train_step(state, [batch,] key, [frozen])`, one pure
        update; metrics are float32 scalars and include `monitor`. The loop jits it."""
        raise NotImplementedError

    def train_dataset(self, seed: int) -> grain.MapDataset | None:
        """The endless, random-access batches of this process, in the order `seed` gives; None
        for a task that trains on no data set."""
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        """The run's phases, in order; one phase with `train_step` by default."""
        return [Phase("train", None, self.train_step)]

    def frozen_inputs(self) -> FrozenInputs | None:
        """The fixed arrays every step reads, loaded once (None: the task has none)."""
        return None

    def prepare_evaluation(self) -> None:
        """Loads (or trains, once, and caches) what the periodic evaluation needs that can take
        minutes: a data set's feature classifier. The loop calls it while the run is set up,
        where a signal stops the run before its first step, rather than inside the first
        evaluation, where a signal would stop the nested training and take the steps since the
        last checkpoint with it. Nothing by default."""

    def eval_params(self, state: PyTree) -> PyTree:
        """What evaluation and the report see of a state (a GAN's weight-averaged generator)."""
        return state.params

    def evaluate(self, params: PyTree, split: str) -> dict[str, float]:
        """Required: numbers on "validation" (periodic; ranks checkpoints) or "test" (final)."""
        raise NotImplementedError

    def evaluation_protocol(self, split: str) -> dict[str, str]:
        """How `evaluate(params, split)` computes its numbers, by name, for the report (sample
        counts, the real images they are compared with, how much of the split): the periodic
        evaluation's protocol may differ from the final report's, and each number must say
        which it is. {} by default (a number whose name says it all)."""
        return {}

    def snapshot(self, params: PyTree) -> dict[str, np.ndarray]:
        """Arrays kept at every evaluation for figures of training progress ({} for none)."""
        return {}


def call_step(step: StepFn, state: PyTree, batch, key: jax.Array, frozen) -> tuple:
    """`step` called with the arguments its task takes: the batch unless the task has no data
    (batch None), the frozen arrays when it has some (frozen not None)."""
    args = (state,) + (() if batch is None else (batch,)) + (key,)
    return step(*args, *(() if frozen is None else (frozen,)))


class LossTask(Task):
    """The protocol's state and step for a family defined by a pure loss and an optax
    transformation: set `self.tx` and define `init_params(key)` and
    `loss(params, batch, key, step) -> (scalar, aux dict)`; the state is a `TrainState`.

    Extra state: a task whose step carries more than parameters (a TBPTT hidden state) sets
    `state_type` to a `TrainState` subclass with those named fields and defines
    `extra_state(key) -> {field: initial value}`; its loss is then
    `loss(params, batch, key, step, extra) -> (scalar, (aux dict, new extra))`, with `extra` and
    the new values as {field: value}.
    """

    tx: optax.GradientTransformation
    state_type: type[TrainState] = TrainState

    def init_params(self, key: jax.Array) -> PyTree:
        raise NotImplementedError

    def loss(self, params: PyTree, batch: dict, key: jax.Array, step: jax.Array, *extra):
        raise NotImplementedError

    def extra_state(self, key: jax.Array) -> dict[str, PyTree]:
        """{field: initial value} of `state_type`'s own fields ({} for a plain TrainState)."""
        return {}

    def init_state(self, key: jax.Array) -> TrainState:
        # The parameters take the whole key (as before extra state existed); the extra state's
        # randomness, if any, comes from a key folded off it.
        fields = self.extra_state(jax.random.fold_in(key, EXTRA_STATE_KEY))
        return self.state_type.create(self.init_params(key), self.tx, **fields)

    def train_step(self, state: TrainState, batch: dict, key: jax.Array):
        """One optimizer step on the loss (`train.state.make_train_step`)."""
        return make_train_step(self.loss, self.tx, self.extra_state_names())(state, batch, key)

    def extra_state_names(self) -> list[str]:
        """The names of `state_type`'s own fields (those TrainState does not have)."""
        base = {f.name for f in dataclasses.fields(TrainState)}
        return [f.name for f in dataclasses.fields(self.state_type) if f.name not in base]
