import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from jaxgen.families.autoencoder import corruption, reconstruction
from jaxgen.families.autoencoder.losses import bernoulli_kl, contractive_penalty

RNG = np.random.default_rng(0)
RECON = RNG.uniform(0.01, 0.99, (4, 5, 5, 1)).astype(np.float32)
TARGET = RNG.uniform(0.0, 1.0, (4, 5, 5, 1)).astype(np.float32)


def test_mse_l1_match_numpy():
    np.testing.assert_allclose(
        reconstruction.mse(RECON, TARGET), np.mean((RECON - TARGET) ** 2), rtol=1e-6
    )
    np.testing.assert_allclose(
        reconstruction.l1(RECON, TARGET), np.mean(np.abs(RECON - TARGET)), rtol=1e-6
    )
    np.testing.assert_allclose(
        reconstruction.per_example_mse(RECON, TARGET),
        np.mean((RECON - TARGET).reshape(4, -1) ** 2, axis=1),
        rtol=1e-6,
    )


def test_bce_with_logits_matches_numpy_cross_entropy():
    logits = scipy.special.logit(RECON.astype(np.float64)).astype(np.float32)
    expected = -np.mean(TARGET * np.log(RECON) + (1 - TARGET) * np.log(1 - RECON))
    np.testing.assert_allclose(reconstruction.bce_with_logits(logits, TARGET), expected, rtol=1e-4)


def test_bernoulli_kl_matches_scipy():
    rho_hat = np.array([0.01, 0.05, 0.3, 0.9])
    expected = scipy.special.rel_entr(0.05, rho_hat) + scipy.special.rel_entr(0.95, 1 - rho_hat)
    np.testing.assert_allclose(bernoulli_kl(0.05, jnp.asarray(rho_hat)), expected, rtol=1e-5)
    assert float(bernoulli_kl(0.05, jnp.asarray(0.05))) == pytest.approx(0.0, abs=1e-7)


def test_contractive_penalty_matches_finite_difference_jacobian():
    w1 = RNG.normal(size=(6, 5)) / 2
    w2 = RNG.normal(size=(5, 3)) / 2
    x = RNG.normal(size=(4, 6))

    def encode(x):  # a nonlinear encoder, examples independent
        return jnp.tanh(jnp.tanh(x @ w1) @ w2)

    def encode_np(x):
        return np.tanh(np.tanh(x @ w1) @ w2)

    with jax.enable_x64():
        penalty = float(contractive_penalty(encode, jnp.asarray(x, jnp.float64)))
    eps = 1e-6
    norms = []
    for xi in x:
        fd = np.stack(
            [(encode_np(xi + eps * e) - encode_np(xi - eps * e)) / (2 * eps) for e in np.eye(6)]
        )  # (inputs, codes)
        norms.append(np.sum(fd**2))
    np.testing.assert_allclose(penalty, np.mean(norms), rtol=1e-6)


def test_corruptions_are_keyed_and_have_the_stated_statistics():
    key = jax.random.key(0)
    x = jnp.full((200, 28, 28, 1), 0.5)
    masked = np.asarray(corruption.masking(key, x, 0.3))
    assert set(np.unique(masked)) == {0.0, 0.5}
    assert np.mean(masked == 0) == pytest.approx(0.3, abs=0.01)
    sp = np.asarray(corruption.salt_pepper(key, x, 0.2))
    assert set(np.unique(sp)) == {0.0, 0.5, 1.0}
    assert np.mean(sp != 0.5) == pytest.approx(0.2, abs=0.01)
    assert np.mean(sp == 1.0) == pytest.approx(0.1, abs=0.01)
    noisy = np.asarray(corruption.gaussian(key, x, 0.1))
    assert np.std(noisy - 0.5) == pytest.approx(0.1, rel=0.05)
    assert noisy.min() >= 0 and noisy.max() <= 1
    np.testing.assert_array_equal(corruption.masking(key, x, 0.3), masked)
    assert not np.array_equal(corruption.masking(jax.random.key(1), x, 0.3), masked)
    assert corruption.corrupt("none", key, x, 0.5) is x
