"""The VAE-GAN's and BiGAN's weight averages (the networks a sample or a reconstruction goes
through) follow the GANs' schedule, re-derived here in NumPy, and evaluation uses them; with
decay 0 evaluation sees the live weights."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.bigan.task import BiGANTask
from jaxgen.families.vaegan.task import VAEGANTask

from ..conftest import smoke_config

CASES = {
    "vaegan": (VAEGANTask, ("encoder", "decoder"), "decoder"),
    "bigan": (BiGANTask, ("encoder", "generator"), "generator"),
}


def _eval_weights(params, net):
    variables = params[net]
    return variables["params"] if "params" in variables else variables


@pytest.mark.parametrize("name", sorted(CASES))
def test_weight_average_follows_the_schedule_and_evaluation_uses_it(name):
    task_class, averaged, sampler = CASES[name]
    decay = 0.5
    task = task_class(smoke_config(name, progress="false", **{"objective.average_decay": decay}))
    state = task.init_state(jax.random.key(0))
    step = jax.jit(task.train_step)
    batches = task.train_dataset(0)
    expected = {n: jax.tree.map(np.asarray, state.params[n]) for n in averaged}
    for i in range(3):
        state, _ = step(state, jax.tree.map(jnp.asarray, batches[i]), jax.random.key(i))
        keep = min(decay, (1 + i) / (10 + i))  # the decay after i updates
        for n in averaged:
            expected[n] = jax.tree.map(
                lambda a, p, k=keep: k * a + (1 - k) * np.asarray(p), expected[n], state.params[n]
            )
    for n in averaged:
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
            state.average[n],
            expected[n],
        )
    # Evaluation samples through the average, which is not the live generator.
    params = task.eval_params(state)
    jax.tree.map(
        np.testing.assert_array_equal, _eval_weights(params, sampler), state.average[sampler]
    )
    live = jax.tree.leaves(state.params[sampler])
    assert any(
        np.abs(np.asarray(a) - np.asarray(b)).max() > 0
        for a, b in zip(live, jax.tree.leaves(state.average[sampler]), strict=True)
    )
    # Decay 0: the live weights.
    task.config.objective.average_decay = 0.0
    jax.tree.map(
        np.testing.assert_array_equal,
        _eval_weights(task.eval_params(state), sampler),
        state.params[sampler],
    )
