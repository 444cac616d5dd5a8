"""Per-player state for the families that optimise several players against each other (GAN,
VAE-GAN, BiGAN, pix2pix, CycleGAN): each player's own optimizer state and update, and the
weight average that evaluation uses. One home for what every adversarial family's step does."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

PyTree = Any


def init_optimizers(
    txs: dict[str, optax.GradientTransformation], params: dict[str, PyTree]
) -> dict[str, PyTree]:
    """{player: its optimizer's fresh state} for every player of `txs`."""
    return {name: tx.init(params[name]) for name, tx in txs.items()}


def update(
    tx: optax.GradientTransformation, grads: PyTree, opt_state: PyTree, params: PyTree
) -> tuple[PyTree, PyTree]:
    """(new params, new optimizer state) of one player after one step of its optimizer."""
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def average_decay(decay: float, updates: jax.Array) -> jax.Array:
    """The weight average's decay after `updates` updates: min(decay, (1 + n) / (10 + n)), so
    the average forgets its random initialisation quickly (TensorFlow's ExponentialMovingAverage
    with num_updates)."""
    n = updates.astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + n) / (10.0 + n))


def moving_average(average: PyTree, params: PyTree, decay: float, updates: jax.Array) -> PyTree:
    """The weight average once `params` are the weights after `updates` + 1 updates, with
    `average_decay`'s schedule; decay 0 makes the average the weights themselves."""
    step_size = 1.0 - average_decay(decay, updates)
    return optax.incremental_update(params, average, step_size=step_size)


def moving_averages(
    averages: dict[str, PyTree], params: dict[str, PyTree], decay: float, updates: jax.Array
) -> dict[str, PyTree]:
    """`moving_average` of every player that `averages` holds."""
    return {name: moving_average(averages[name], params[name], decay, updates) for name in averages}


def init_averages(params: dict[str, PyTree], names) -> dict[str, PyTree]:
    """The weight averages of the players `names` at step 0: copies of their weights, so that a
    state built outside jit owns separate buffers (the step donates it)."""
    return {name: jax.tree.map(jnp.copy, params[name]) for name in names}
