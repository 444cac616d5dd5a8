"""The train state, the optimizer recipe and the pure step builder that families share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

PyTree = Any
# loss(params, batch, key, step) -> (scalar, aux); `step` is the number of steps already taken.
LossFn = Callable[[PyTree, dict, jax.Array, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]
# `lr_schedule`: the schedules learning_rate_schedule knows.
LR_SCHEDULES = ("constant", "cosine", "linear_decay")


@flax.struct.dataclass
class TrainState:
    """What a loss-based step changes: the step counter, the parameters and the optimizer state.
    A family with more state (a TBPTT hidden state, batch-norm statistics, a weight average)
    subclasses it with named fields of its own."""

    step: jax.Array
    params: PyTree
    opt_state: PyTree

    @classmethod
    def create(cls, params: PyTree, tx: optax.GradientTransformation, **fields) -> TrainState:
        """A fresh state at step 0; `fields` fill a subclass's own fields."""
        return cls(
            step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), **fields
        )

    def apply_gradients(self, grads: PyTree, tx: optax.GradientTransformation) -> TrainState:
        """The state after one optimizer update with `grads` (step + 1)."""
        updates, opt_state = tx.update(grads, self.opt_state, self.params)
        params = optax.apply_updates(self.params, updates)
        return self.replace(step=self.step + 1, params=params, opt_state=opt_state)


def learning_rate_schedule(
    config: ml_collections.ConfigDict, learning_rate: float, steps: int | None = None
):
    """`learning_rate` under the config's `lr_schedule`: constant, cosine to 0 over `steps`, or
    linear_decay (constant for the first `lr_decay_start` fraction of the steps, then linearly
    to 0). `steps` is the run's `config.steps` unless given (a phase's own budget, counted from
    the phase's first step, where the phase starts a fresh optimizer)."""
    schedule = config.get("lr_schedule", "constant")
    steps = config.steps if steps is None else steps
    if schedule == "cosine":
        return optax.cosine_decay_schedule(learning_rate, max(steps, 1))
    if schedule == "linear_decay":  # CycleGAN's and pix2pix's: constant, then linear to 0
        start = int(round(config.get("lr_decay_start", 0.5) * steps))
        return optax.join_schedules(
            [
                optax.constant_schedule(learning_rate),
                optax.linear_schedule(learning_rate, 0.0, max(steps - start, 1)),
            ],
            [start],
        )
    if schedule != "constant":
        raise ValueError(
            f"unknown lr_schedule {config.lr_schedule!r}; choose one of {', '.join(LR_SCHEDULES)}"
        )
    return learning_rate


def adam(config: ml_collections.ConfigDict, learning_rate: float):
    """Global-norm clipping (when `grad_clip_norm` > 0), then Adam at `learning_rate` with the
    config's schedule (`learning_rate_schedule`) and betas (`adam_b1`, `adam_b2`; optax's 0.9,
    0.999 by default)."""
    learning_rate = learning_rate_schedule(config, learning_rate)
    optimizer = optax.adam(
        learning_rate, b1=config.get("adam_b1", 0.9), b2=config.get("adam_b2", 0.999)
    )
    if config.get("grad_clip_norm", 0.0):
        return optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), optimizer)
    return optimizer


def make_optimizer(
    config: ml_collections.ConfigDict,
    param_labels: Callable | None = None,
    group_learning_rates: dict[str, float] | None = None,
) -> optax.GradientTransformation:
    """Adam with the config's `learning_rate`, optional cosine decay and global-norm clipping.

    With `param_labels` (params -> pytree of group names), each group gets its own clipping and
    Adam at its own rate, from `group_learning_rates` or else the config block of that name (the
    PCA experiment gives its linear autoencoders a higher rate than its convolutional ones; a
    bank of language models clips each model's gradient by its own norm).
    """
    if param_labels is None:
        return adam(config, config.learning_rate)
    rates = group_learning_rates or dict(config.group_learning_rates)
    return optax.multi_transform({g: adam(config, lr) for g, lr in rates.items()}, param_labels)


def make_train_step(
    loss_fn: LossFn, tx: optax.GradientTransformation, extra_fields: Sequence[str] = ()
):
    """Returns the pure `step(state, batch, key) -> (state, metrics)` for a loss function.

    `metrics` holds the loss, the gradient's global norm and the loss function's aux scalars,
    all float32. With `extra_fields` (names of the state's own fields), the loss is
    `loss(params, batch, key, step, {field: value}) -> (scalar, (aux, {field: new value}))`
    and the step stores the new values.
    """

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def step(state: TrainState, batch: dict, key: jax.Array):
        if extra_fields:
            extra = {name: vars(state)[name] for name in extra_fields}
            (value, (aux, fields)), grads = grad_fn(state.params, batch, key, state.step, extra)
        else:
            (value, aux), grads = grad_fn(state.params, batch, key, state.step)
            fields = {}
        metrics = {"loss": value, "grad_norm": optax.tree.norm(grads), **aux}
        return state.apply_gradients(grads, tx).replace(**fields), metrics

    return step
