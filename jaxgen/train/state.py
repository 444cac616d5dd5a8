"""The train state pytree and the pure step builder shared by every single-objective family."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

PyTree = Any
# loss(params, batch, key, step) -> (scalar, aux); `step` is the number of steps already taken.
LossFn = Callable[[PyTree, dict, jax.Array, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]


@flax.struct.dataclass
class TrainState:
    """Everything a step changes: the step counter, the parameters and the optimizer state."""

    step: jax.Array
    params: PyTree
    opt_state: PyTree


def _adam(config: ml_collections.ConfigDict, learning_rate: float):
    if config.get("lr_schedule", "constant") == "cosine":
        return optax.adam(optax.cosine_decay_schedule(learning_rate, max(config.steps, 1)))
    if config.get("lr_schedule", "constant") != "constant":
        raise ValueError(f"unknown lr_schedule {config.lr_schedule!r}")
    return optax.adam(learning_rate)


def make_optimizer(
    config: ml_collections.ConfigDict, param_labels: Callable | None = None
) -> optax.GradientTransformation:
    """Adam with the config's `learning_rate`, optional cosine decay and global-norm clipping.

    With `param_labels` (params -> pytree of group names) and a `group_learning_rates` config
    block, each group gets its own Adam at its own rate (the PCA experiment gives its linear
    autoencoders a higher one than its convolutional ones).
    """
    parts = []
    if config.get("grad_clip_norm", 0.0):
        parts.append(optax.clip_by_global_norm(config.grad_clip_norm))
    if param_labels is not None and "group_learning_rates" in config:
        rates = config.group_learning_rates
        parts.append(
            optax.multi_transform({g: _adam(config, lr) for g, lr in rates.items()}, param_labels)
        )
    else:
        parts.append(_adam(config, config.learning_rate))
    return optax.chain(*parts)


def init_state(params: PyTree, tx: optax.GradientTransformation) -> TrainState:
    """A fresh train state at step 0."""
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))


def make_train_step(loss_fn: LossFn, tx: optax.GradientTransformation):
    """Returns the pure `step(state, batch, key) -> (state, metrics)` for a loss function.

    `metrics` holds the loss and the loss function's aux scalars, all float32.
    """

    def step(state: TrainState, batch: dict, key: jax.Array):
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, aux), grads = grad_fn(state.params, batch, key, state.step)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), **aux}
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

    return step
