"""pix2pix's step gives the generator its gradient through a discriminator in train mode, as the
reference's netD in backward_G: with batch norm, D normalises the fake pairs by their own batch
statistics, not by its running averages."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.families.image_translation import losses
from jaxgen.families.image_translation.task import Pix2PixTask, _to_model

from ..conftest import smoke_config


def test_pix2pix_generator_loss_uses_the_discriminator_in_train_mode():
    config = smoke_config("pix2pix_completion", progress="false")
    assert config.model.norm == "batch"
    task = Pix2PixTask(config)
    state = task.init_state(jax.random.key(0))
    batch = jax.tree.map(jnp.asarray, task.train_dataset(0)[0])
    key = jax.random.key(3)
    # A few steps first, so that D's running averages differ from any one batch's statistics.
    step = jax.jit(task.train_step)
    for i in range(3):
        state, _ = step(state, batch, jax.random.fold_in(key, i))
    new_state, metrics = step(state, batch, key)

    x, y = _to_model(batch["input"]), _to_model(batch["target"])
    out, _ = task.apply("generator", state.params, state.batch_stats, x, True, key)
    pairs = jnp.concatenate([x, out], -1)
    d_params = {**state.params, "discriminator": new_state.params["discriminator"]}
    o = config.objective

    def generator_loss(train: bool) -> float:
        logits, _ = task.apply("discriminator", d_params, state.batch_stats, pairs, train)
        return float(losses.pix2pix_generator(o.gan_loss, logits, out, y, o.l1_weight)[0])

    np.testing.assert_allclose(float(metrics["generator_loss"]), generator_loss(True), rtol=1e-5)
    # The running averages would give another loss: the check above can tell the two apart.
    assert abs(generator_loss(False) - generator_loss(True)) > 1e-4
