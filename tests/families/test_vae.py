"""The VAE module: shapes, the mean/log-variance split, the likelihood's scale, the labels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.vae.config import vae_model_config, vae_objective_config
from jaxgen.families.vae.model import build_vae

from ..conftest import numpy_init

MNIST = (28, 28, 1)
LATENT = 3
BLOCKS = {
    "dense": vae_model_config("dense", hidden=(16,), latent_size=LATENT),
    "conv": vae_model_config("conv", channels=(8, 16), latent_size=LATENT),
}
X = np.random.default_rng(0).uniform(size=(5, *MNIST)).astype(np.float32)


def _build(kind="dense", num_classes=0, image_shape=MNIST, **objective):
    block = BLOCKS[kind].copy_and_resolve_references()
    block.conditional = num_classes > 0
    model = build_vae(block, vae_objective_config(**objective), image_shape, num_classes)
    x = jnp.zeros((1, *image_shape))
    return model, numpy_init(model, x, jnp.zeros((1,), jnp.int32))


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_shapes(kind):
    model, params = _build(kind)
    mean, logvar = model.apply(params, X, method="encode")
    assert mean.shape == logvar.shape == (5, LATENT)
    z = jax.random.normal(jax.random.key(1), (5, LATENT))
    logits, log_scale = model.apply(params, z, method="decode")
    assert logits.shape == X.shape and jnp.shape(log_scale) == ()
    image = model.apply(params, z, method="mean_image")
    np.testing.assert_allclose(image, jax.nn.sigmoid(logits), rtol=1e-6)
    assert model.apply(params, X)[0].shape == X.shape


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_encode_splits_the_code_into_mean_then_logvar(kind):
    model, params = _build(kind)
    assert model.network.code_size == 2 * LATENT and model.network.code_activation == "linear"
    network_params = {"params": params["params"]["network"]}
    code, _ = model.network.apply(network_params, X, method="encode")
    mean, logvar = model.apply(params, X, method="encode")
    np.testing.assert_array_equal(mean, code[:, :LATENT])
    np.testing.assert_array_equal(logvar, code[:, LATENT:])


def test_build_vae_uses_a_linear_code_whatever_the_block_says():
    block = vae_model_config("dense", hidden=(8,), latent_size=2, code_activation="sigmoid")
    model = build_vae(block, vae_objective_config(), (4, 4, 1))
    assert model.network.code_size == 4 and model.network.code_activation == "linear"


def test_gaussian_learned_has_a_log_scale_parameter():
    model, _ = _build(likelihood="gaussian_learned", binarize="none", image_shape=(4, 4, 1))
    params = model.init(jax.random.key(0), jnp.zeros((1, 4, 4, 1)))  # Flax's own initialiser
    assert params["params"]["log_scale"].shape == ()
    np.testing.assert_array_equal(params["params"]["log_scale"], 0.0)  # unit scale at first
    params = {"params": {**params["params"], "log_scale": jnp.float32(-1.3)}}
    z = jnp.zeros((2, LATENT))
    means, log_scale = model.apply(params, z, method="decode")
    assert means.shape == (2, 4, 4, 1)
    np.testing.assert_allclose(log_scale, -1.3)
    np.testing.assert_array_equal(model.apply(params, z, method="mean_image"), means)


def test_gaussian_fixed_returns_the_configured_scale():
    model, params = _build(likelihood="gaussian_fixed", binarize="none", gaussian_scale=0.3)
    assert "log_scale" not in params["params"]
    means, log_scale = model.apply(params, jnp.zeros((2, LATENT)), method="decode")
    np.testing.assert_allclose(log_scale, np.log(0.3), rtol=1e-6)
    assert means.dtype == jnp.float32 and jnp.asarray(log_scale).dtype == jnp.float32


def test_bernoulli_has_no_log_scale_parameter():
    _, params = _build()
    assert set(params["params"]) == {"network"}


def test_conditional_without_classes_is_a_value_error():
    block = vae_model_config("dense", hidden=(8,), latent_size=2, conditional=True)
    with pytest.raises(ValueError, match="labels"):
        build_vae(block, vae_objective_config(), (4, 4, 1), num_classes=0)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_conditional_vae_sees_the_label(kind):
    model, params = _build(kind, num_classes=10)
    labels = jnp.array([0, 1, 2, 3, 4])
    mean0, _ = model.apply(params, X, labels, method="encode")
    mean1, _ = model.apply(params, X, (labels + 5) % 10, method="encode")
    assert mean0.shape == (5, LATENT)
    assert np.max(np.abs(np.asarray(mean0) - np.asarray(mean1))) > 1e-4
    z = jnp.zeros((5, LATENT))
    out0, _ = model.apply(params, z, labels, method="decode")
    out1, _ = model.apply(params, z, (labels + 5) % 10, method="decode")
    assert out0.shape == X.shape and np.max(np.abs(np.asarray(out0) - np.asarray(out1))) > 1e-4
    # The label enters as one-hot channels: the encoder's first layer sees 1 + 10 channels.
    first = jax.tree.leaves(params["params"]["network"])
    assert any(p.ndim >= 2 and p.shape[-2] in (11, 28 * 28 * 11) for p in first)
    with pytest.raises(ValueError, match="labels"):
        model.apply(params, X, method="encode")


def test_unconditional_vae_ignores_the_label():
    model, params = _build()
    mean0, _ = model.apply(params, X, jnp.zeros(5, jnp.int32), method="encode")
    mean1, _ = model.apply(params, X, jnp.ones(5, jnp.int32), method="encode")
    np.testing.assert_array_equal(mean0, mean1)
    np.testing.assert_array_equal(mean0, model.apply(params, X, method="encode")[0])
