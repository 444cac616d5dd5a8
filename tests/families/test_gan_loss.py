"""GAN losses against their definitions in terms of D = sigmoid(logit), computed in NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.gan.losses import LOSSES, discriminator_loss, generator_loss, gradient_penalty

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=64).astype(np.float32)
FAKE = RNG.normal(size=64).astype(np.float32) - 1.0


def _d(logits):
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def test_discriminator_losses_match_their_definitions():
    bce = -np.mean(np.log(_d(REAL))) - np.mean(np.log(1 - _d(FAKE)))
    expected = {
        "minimax": bce,
        "non_saturating": bce,
        "wasserstein_gp": FAKE.mean() - REAL.mean(),
        "hinge": np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)),
    }
    for kind in LOSSES:
        got = float(discriminator_loss(kind, jnp.asarray(REAL), jnp.asarray(FAKE)))
        assert got == pytest.approx(expected[kind], rel=1e-5), kind


def test_generator_losses_match_their_definitions():
    expected = {
        "minimax": np.mean(np.log(1 - _d(FAKE))),
        "non_saturating": -np.mean(np.log(_d(FAKE))),
        "wasserstein_gp": -FAKE.mean(),
        "hinge": -FAKE.mean(),
    }
    for kind in LOSSES:
        assert float(generator_loss(kind, jnp.asarray(FAKE))) == pytest.approx(
            expected[kind], rel=1e-5
        ), kind


def test_minimax_generator_gradient_vanishes_where_d_rejects_and_non_saturating_does_not():
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l) -> 0 as l -> -inf; d/dl -log sigmoid(l) -> -1.
    logits = jnp.array([-12.0, -6.0, 0.0])
    saturating = jax.grad(lambda v: generator_loss("minimax", v) * 3)(logits)
    non_saturating = jax.grad(lambda v: generator_loss("non_saturating", v) * 3)(logits)
    np.testing.assert_allclose(saturating, -_d(np.asarray(logits)), rtol=1e-5)
    np.testing.assert_allclose(non_saturating, -(1 - _d(np.asarray(logits))), rtol=1e-5)
    assert abs(saturating[0]) < 1e-5 < 0.99 < abs(non_saturating[0])


def test_losses_are_finite_for_extreme_logits():
    big = jnp.array([-1e4, 1e4])
    for kind in LOSSES:
        assert np.isfinite(float(discriminator_loss(kind, big, big)))
        assert np.isfinite(float(generator_loss(kind, big)))


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError, match="unknown GAN loss"):
        generator_loss("least_squares", jnp.zeros(3))


def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm_minus_one_squared():
    w = jnp.array([3.0, 4.0])  # ||w|| = 5 everywhere
    real, fake = jnp.ones((16, 2)), jnp.zeros((16, 2))
    penalty = gradient_penalty(lambda x: x @ w, real, fake, jax.random.key(0))
    assert float(penalty) == pytest.approx(16.0, rel=1e-5)


def test_gradient_penalty_of_a_quadratic_critic_uses_points_between_real_and_fake():
    # critic(x) = ||x||^2 / 2 has gradient x, so the penalty is mean (||x_hat|| - 1)^2 with x_hat
    # on the segments; for real = 3 e1 and fake = 0 it lies between (1 - 1)^2 = 0 ... (3 - 1)^2.
    real = jnp.tile(jnp.array([[3.0, 0.0]]), (4096, 1))
    fake = jnp.zeros_like(real)
    penalty = float(
        gradient_penalty(lambda x: 0.5 * jnp.sum(x**2, -1), real, fake, jax.random.key(1))
    )
    # x_hat = 3u e1 with u ~ U(0, 1): E (3u - 1)^2 = 9/3 - 3 + 1 = 1.
    assert penalty == pytest.approx(1.0, abs=0.05)
