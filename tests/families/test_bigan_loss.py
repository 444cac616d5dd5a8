"""BiGAN losses against a NumPy re-derivation (BCE by hand on D = sigmoid(logit)), and their
gradients on a tiny linear BiGAN against finite differences, pointing the right way."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.bigan.losses import bce_with_logits, discriminator_loss, encoder_generator_loss

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=64).astype(np.float32) + 0.5
FAKE = RNG.normal(size=64).astype(np.float32) - 1.0


def _bce(logits, label):
    d = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
    return float(np.mean(-label * np.log(d) - (1 - label) * np.log(1 - d)))


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_bce_with_logits_matches_its_definition(label):
    assert float(bce_with_logits(jnp.asarray(REAL), label)) == pytest.approx(
        _bce(REAL, label), rel=1e-5
    )


def test_discriminator_and_encoder_generator_losses_swap_the_labels():
    d = float(discriminator_loss(jnp.asarray(REAL), jnp.asarray(FAKE)))
    eg = float(encoder_generator_loss(jnp.asarray(REAL), jnp.asarray(FAKE)))
    assert d == pytest.approx(_bce(REAL, 1) + _bce(FAKE, 0), rel=1e-5)
    assert eg == pytest.approx(_bce(REAL, 0) + _bce(FAKE, 1), rel=1e-5)


def test_losses_are_finite_for_extreme_logits():
    big = jnp.array([-1e4, 1e4])
    assert np.isfinite(float(discriminator_loss(big, big)))
    assert np.isfinite(float(encoder_generator_loss(big, big)))


# A tiny linear BiGAN on 2-d x and 1-d z: E(x) = a . x, G(z) = b z, D(x, z) = w . (x, z) + c.
X = RNG.normal(size=(16, 2))
Z = RNG.normal(size=(16, 1))
W0 = np.array([0.3, -0.2, 0.5])
C0 = 0.1
A0 = np.array([0.4, 0.7])
B0 = np.array([0.5, -0.3])


def _logits(w, c, a, b, xp):
    real_pairs = xp.concatenate([X, X @ a[:, None]], axis=1)  # (x, E(x))
    fake_pairs = xp.concatenate([Z @ b[None, :], Z], axis=1)  # (G(z), z)
    return real_pairs @ w + c, fake_pairs @ w + c


def _numpy_losses(w, c, a, b):
    real, fake = _logits(w, c, a, b, np)
    return _bce(real, 1) + _bce(fake, 0), _bce(real, 0) + _bce(fake, 1)


def _finite_difference(f, v, eps=1e-6):
    grad = np.zeros_like(v)
    for i in range(len(v)):
        step = np.zeros_like(v)
        step[i] = eps
        grad[i] = (f(v + step) - f(v - step)) / (2 * eps)
    return grad


def test_discriminator_gradient_matches_finite_differences_and_separates_the_pairs():
    def jax_loss(w):
        real, fake = _logits(w, C0, jnp.asarray(A0), jnp.asarray(B0), jnp)
        return discriminator_loss(real, fake)

    grad = np.asarray(jax.grad(jax_loss)(jnp.asarray(W0)))
    numeric = _finite_difference(lambda w: _numpy_losses(w, C0, A0, B0)[0], W0)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)
    # A small descent step lowers D's loss and raises the logit gap between the pair kinds.
    w1 = W0 - 0.1 * numeric
    assert _numpy_losses(w1, C0, A0, B0)[0] < _numpy_losses(W0, C0, A0, B0)[0]
    gap = [np.mean(r) - np.mean(f) for r, f in (_logits(w, C0, A0, B0, np) for w in (W0, w1))]
    assert gap[1] > gap[0]


def test_encoder_generator_gradients_match_finite_differences_and_fool_the_discriminator():
    def jax_loss(a, b):
        real, fake = _logits(jnp.asarray(W0), C0, a, b, jnp)
        return encoder_generator_loss(real, fake)

    grad_a, grad_b = (np.asarray(g) for g in jax.grad(jax_loss, (0, 1))(A0, B0))
    numeric_a = _finite_difference(lambda a: _numpy_losses(W0, C0, a, B0)[1], A0)
    numeric_b = _finite_difference(lambda b: _numpy_losses(W0, C0, A0, b)[1], B0)
    np.testing.assert_allclose(grad_a, numeric_a, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad_b, numeric_b, rtol=1e-4, atol=1e-6)
    # A small descent step of E and G lowers their loss and raises the discriminator's.
    a1, b1 = A0 - 0.1 * numeric_a, B0 - 0.1 * numeric_b
    before, after = _numpy_losses(W0, C0, A0, B0), _numpy_losses(W0, C0, a1, b1)
    assert after[1] < before[1] and after[0] > before[0]
