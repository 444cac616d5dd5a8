"""BiGAN's deterministic encoder and ALI's stochastic one: E(x) is the mean code, or its
reparametrized draw mean + exp(log_std) * eps, re-derived here in NumPy; with ALI's encoder a
BiGAN step trains the log-std head too (the discriminator sees the draws)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.bigan.model import Encoder, encode
from jaxgen.families.bigan.task import BiGANTask

from ..conftest import smoke_config


def _encoder_and_params(stochastic: bool):
    encoder = Encoder(latent_size=3, channels=(4, 8), stochastic=stochastic)
    x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (5, 8, 8, 1)), jnp.float32)
    return encoder, encoder.init(jax.random.key(0), x)["params"], x


def test_deterministic_encoder_ignores_the_key():
    encoder, params, x = _encoder_and_params(False)
    mean, log_std = encoder.apply({"params": params}, x)
    assert log_std is None
    np.testing.assert_array_equal(encode(encoder, params, x, jax.random.key(1)), mean)


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_stochastic_encoder_draws_by_reparametrization():
    encoder, params, x = _encoder_and_params(True)
    mean, log_std = (np.asarray(a) for a in encoder.apply({"params": params}, x))
    # Evaluation (no key): the mean.
    np.testing.assert_array_equal(encode(encoder, params, x, None), mean)
    key = jax.random.key(7)
    eps = np.asarray(jax.random.normal(key, mean.shape))
    np.testing.assert_allclose(
        encode(encoder, params, x, key), mean + np.exp(log_std) * eps, rtol=1e-6, atol=1e-6
    )
    # Over many keys the draws have the encoder's mean and standard deviation.
    draws = np.stack(
        [np.asarray(encode(encoder, params, x, jax.random.key(k))) for k in range(2000)]
    )
    np.testing.assert_allclose(draws.mean(0), mean, atol=4 * np.exp(log_std).max() / np.sqrt(2000))
    np.testing.assert_allclose(draws.std(0), np.exp(log_std), rtol=0.1)


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_ali_step_trains_the_encoder_s_log_std_head():
    config = smoke_config("bigan", progress="false", **{"model.stochastic_encoder": "true"})
    task = BiGANTask(config)
    state = task.init_state(jax.random.key(0))
    batch = jax.tree.map(jnp.asarray, task.train_dataset(0)[0])
    new_state, metrics = jax.jit(task.train_step)(state, batch, jax.random.key(1))
    assert all(np.isfinite(float(v)) for v in metrics.values())
    # The encoder's last dense layer outputs (mean, log_std): both halves of it moved.
    (name,) = [k for k in state.params["encoder"] if k.startswith("Dense")]
    before = np.asarray(state.params["encoder"][name]["kernel"])
    after = np.asarray(new_state.params["encoder"][name]["kernel"])
    latent = config.model.latent_size
    assert before.shape[-1] == 2 * latent
    assert np.abs(after - before)[:, :latent].max() > 0
    assert np.abs(after - before)[:, latent:].max() > 0
    # The codes of evaluation and the probes are the encoder's means.
    pixels = np.asarray(task.splits["test"].pixel_view()[:4])
    params = task.eval_params(new_state)
    mean, _ = task.encoder.apply({"params": params["encoder"]}, pixels * 2 - 1)
    np.testing.assert_allclose(task.codes(params, pixels), mean, rtol=1e-6, atol=1e-6)
