import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.autoencoder import corruption
from jaxgen.families.autoencoder.config import model_config, objective_config
from jaxgen.families.autoencoder.losses import make_autoencoder_loss
from jaxgen.families.autoencoder.model import build_autoencoder

X = np.random.default_rng(1).uniform(size=(6, 8, 8, 1)).astype(np.float32)


def _setup(model=None, **objective):
    model_block = model or model_config(
        "dense", hidden=(16,), code_size=4, code_activation="sigmoid"
    )
    net = build_autoencoder(model_block, (8, 8, 1))
    params = net.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
    return net, params, make_autoencoder_loss(net, objective_config(**objective))


def _forward(net, params, x):
    z, switches = net.apply(params, x, method="encode")
    return np.asarray(net.apply(params, z, switches, method="decode")), np.asarray(z)


def test_denoising_loss_compares_the_corrupted_input_reconstruction_with_the_clean_input():
    net, params, loss_fn = _setup(corruption="masking", noise_level=0.5, reconstruction="mse")
    key = jax.random.key(3)
    loss, aux = loss_fn(params, {"image": X}, key)
    corrupted = corruption.masking(key, jnp.asarray(X), 0.5)
    logits, _ = _forward(net, params, corrupted)
    expected = np.mean((1 / (1 + np.exp(-logits)) - X) ** 2)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


@pytest.mark.parametrize("kind", ["l1", "kl"])
def test_sparsity_penalties(kind):
    weight = 0.3
    net, params, loss_fn = _setup(
        sparsity=kind, sparsity_weight=weight, sparsity_target=0.1, reconstruction="bce"
    )
    loss, aux = loss_fn(params, {"image": X}, jax.random.key(0))
    logits, z = _forward(net, params, X)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    bce = -np.mean(X * np.log(p) + (1 - X) * np.log(1 - p))
    if kind == "l1":
        penalty = np.mean(np.sum(np.abs(z), axis=1))
    else:
        rho_hat = z.mean(axis=0)
        penalty = np.sum(0.1 * np.log(0.1 / rho_hat) + 0.9 * np.log(0.9 / (1 - rho_hat)))
    np.testing.assert_allclose(aux["sparsity"], penalty, rtol=1e-4)
    np.testing.assert_allclose(loss, bce + weight * penalty, rtol=1e-4)


def test_contractive_term_is_weighted_into_the_loss():
    _, params, plain = _setup()
    _, _, contractive = _setup(contractive_weight=0.1)
    base, _ = plain(params, {"image": X}, jax.random.key(0))
    loss, aux = contractive(params, {"image": X}, jax.random.key(0))
    assert aux["contractive"] > 0
    np.testing.assert_allclose(loss, base + 0.1 * aux["contractive"], rtol=1e-5)


def test_bad_objective_names_are_value_errors():
    with pytest.raises(ValueError, match="bce"):
        _setup(reconstruction="bce", output="linear")
    with pytest.raises(ValueError, match="corruption"):
        _setup(corruption="fog")
