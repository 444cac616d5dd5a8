"""Importance-sampled log p(x) on a linear-Gaussian model, whose exact likelihood is closed-form.

p(z) = N(0, I_d), p(x | z) = N(W z + b, s^2 I_D), so p(x) = N(b, W W^T + s^2 I) and the exact
posterior is N(mu, Sigma) with Sigma = (I + W^T W / s^2)^-1, mu = Sigma W^T (x - b) / s^2.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from jaxgen.metrics.likelihood import bits_per_dim, importance_sampled_log_likelihood

D, Z, S = 5, 2, 0.5
_RNG = np.random.default_rng(0)
W_DxZ = _RNG.normal(size=(D, Z))
B_D = _RNG.normal(size=D)
COV_DxD = W_DxZ @ W_DxZ.T + S**2 * np.eye(D)
X_BxD = stats.multivariate_normal(B_D, COV_DxD).rvs(size=200, random_state=_RNG)
LOG_PX_B = stats.multivariate_normal(B_D, COV_DxD).logpdf(X_BxD)

POSTERIOR_COV_ZxZ = np.linalg.inv(np.eye(Z) + W_DxZ.T @ W_DxZ / S**2)
POSTERIOR_MEAN_BxZ = (X_BxD - B_D) @ W_DxZ @ POSTERIOR_COV_ZxZ / S**2  # Sigma is symmetric
# A deliberately imperfect q(z | x): the posterior's mean shifted, its covariance inflated.
SHIFT_Z = 0.5 * np.sqrt(np.diag(POSTERIOR_COV_ZxZ))
IMPERFECT = (POSTERIOR_MEAN_BxZ + SHIFT_Z, 2.0 * POSTERIOR_COV_ZxZ)


def _log_weight_fn(q_mean_BxZ: np.ndarray, q_cov_ZxZ: np.ndarray):
    """log w = log p(x | z) + log p(z) - log q(z | x), one z ~ q(z | x) per example, in jnp."""
    mean = jnp.asarray(q_mean_BxZ, jnp.float32)
    chol = jnp.asarray(np.linalg.cholesky(q_cov_ZxZ), jnp.float32)
    w, b, x = (jnp.asarray(a, jnp.float32) for a in (W_DxZ, B_D, X_BxD))
    log_2pi = math.log(2 * math.pi)

    def log_weight(key):
        z = mean + jax.random.normal(key, mean.shape) @ chol.T
        residual = x - z @ w.T - b
        log_px_z = -0.5 * jnp.sum(residual**2, -1) / S**2 - D * (math.log(S) + 0.5 * log_2pi)
        log_pz = -0.5 * jnp.sum(z**2, -1) - 0.5 * Z * log_2pi
        white = jax.scipy.linalg.solve_triangular(chol, (z - mean).T, lower=True).T
        log_det = jnp.sum(jnp.log(jnp.diag(chol)))
        log_qz = -0.5 * jnp.sum(white**2, -1) - log_det - 0.5 * Z * log_2pi
        return log_px_z + log_pz - log_qz

    return log_weight


_IMPERFECT_FN = _log_weight_fn(*IMPERFECT)


@functools.partial(jax.jit, static_argnames=("num_samples", "chunk_size"))
def _estimate(key, num_samples, chunk_size):
    """(log p(x) estimate, ELBO estimate) under the imperfect q, as the VAE task jits it."""
    return importance_sampled_log_likelihood(_IMPERFECT_FN, key, num_samples, chunk_size)


def _closed_form_elbo(q_mean_BxZ, q_cov_ZxZ):
    """E_q[log p(x | z)] + E_q[log p(z)] + H(q) for a Gaussian q, in nats."""
    residual = X_BxD - q_mean_BxZ @ W_DxZ.T - B_D
    trace_wsw = np.trace(W_DxZ @ q_cov_ZxZ @ W_DxZ.T)
    log_px_z = -0.5 * (np.sum(residual**2, -1) + trace_wsw) / S**2 - 0.5 * D * np.log(
        2 * np.pi * S**2
    )
    log_pz = -0.5 * (np.sum(q_mean_BxZ**2, -1) + np.trace(q_cov_ZxZ)) - 0.5 * Z * np.log(2 * np.pi)
    entropy = stats.multivariate_normal(np.zeros(Z), q_cov_ZxZ).entropy()
    return log_px_z + log_pz + entropy


def test_the_closed_forms_are_consistent():
    """log p(x) - ELBO(q) = KL(q || posterior) >= 0, and the ELBO of the posterior is log p(x)."""
    np.testing.assert_allclose(_closed_form_elbo(POSTERIOR_MEAN_BxZ, POSTERIOR_COV_ZxZ), LOG_PX_B)
    q_mean, q_cov = IMPERFECT
    inv = np.linalg.inv(POSTERIOR_COV_ZxZ)
    diff = POSTERIOR_MEAN_BxZ - q_mean
    kl = 0.5 * (
        np.trace(inv @ q_cov)
        + np.einsum("bi,ij,bj->b", diff, inv, diff)
        - Z
        + np.linalg.slogdet(POSTERIOR_COV_ZxZ)[1]
        - np.linalg.slogdet(q_cov)[1]
    )
    np.testing.assert_allclose(LOG_PX_B - _closed_form_elbo(q_mean, q_cov), kl, rtol=1e-8)
    assert np.all(kl > 0.01)


@pytest.mark.parametrize("num_samples", [1, 50])
def test_exact_posterior_gives_the_exact_likelihood_for_any_k(num_samples):
    fn = _log_weight_fn(POSTERIOR_MEAN_BxZ, POSTERIOR_COV_ZxZ)
    log_px, elbo = importance_sampled_log_likelihood(fn, jax.random.key(0), num_samples, 20)
    np.testing.assert_allclose(log_px, LOG_PX_B, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(elbo, LOG_PX_B, rtol=1e-5, atol=1e-4)


def test_estimate_rises_with_k_to_the_exact_likelihood():
    key = jax.random.key(1)
    means = []
    for k in (1, 10, 100, 1000, 5000):
        log_px, elbo = _estimate(key, num_samples=k, chunk_size=500)
        log_px, elbo = np.asarray(log_px), np.asarray(elbo)
        assert np.all(log_px >= elbo - 1e-4)  # Jensen, draw by draw
        means.append(log_px.mean())
    exact = LOG_PX_B.mean()
    assert np.all(np.diff(means) > -1e-3), means
    assert means[-1] < exact + 0.01 and abs(means[-1] - exact) < 0.02, (means, exact)
    assert exact - means[0] > 0.1  # the bound at K = 1 is visibly loose


def test_elbo_estimate_matches_the_closed_form_elbo():
    key, k = jax.random.key(2), 1000
    _, elbo = _estimate(key, num_samples=k, chunk_size=500)
    log_w_KxB = jax.jit(jax.vmap(lambda i: _IMPERFECT_FN(jax.random.fold_in(key, i))))(
        jnp.arange(k)
    )
    np.testing.assert_allclose(elbo, np.mean(log_w_KxB, axis=0), rtol=1e-5)
    sem_B = np.std(np.asarray(log_w_KxB), axis=0) / np.sqrt(k)
    error_B = np.asarray(elbo) - _closed_form_elbo(*IMPERFECT)
    assert np.all(np.abs(error_B) < 5 * sem_B + 1e-4)
    assert abs(error_B.mean()) < 5 * np.sqrt(np.mean(sem_B**2) / len(sem_B)) + 1e-4


def test_chunking_does_not_change_the_result():
    key = jax.random.key(3)
    small = _estimate(key, num_samples=50, chunk_size=7)  # 50 = 7 * 7 + 1
    large = _estimate(key, num_samples=50, chunk_size=100)  # fewer than a chunk
    for a, b in zip(small, large, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)


@pytest.mark.parametrize("num_samples, chunk_size", [(5, 2), (3, 100)])
def test_draw_k_uses_fold_in_of_k(num_samples, chunk_size):
    key = jax.random.key(4)
    log_w_KxB = np.stack(
        [
            np.asarray(_IMPERFECT_FN(jax.random.fold_in(key, k)), np.float64)
            for k in range(num_samples)
        ]
    )
    log_px, elbo = importance_sampled_log_likelihood(_IMPERFECT_FN, key, num_samples, chunk_size)
    expected = special.logsumexp(log_w_KxB, axis=0) - np.log(num_samples)
    np.testing.assert_allclose(log_px, expected, rtol=1e-5)
    np.testing.assert_allclose(elbo, log_w_KxB.mean(axis=0), rtol=1e-5)


def test_bits_per_dim():
    assert bits_per_dim(784 * math.log(2.0), 784) == pytest.approx(1.0)
    nll = 86.3
    assert bits_per_dim(nll, 784) == pytest.approx(nll * math.log2(math.e) / 784, rel=1e-12)
    assert isinstance(bits_per_dim(np.float32(nll), 784), float)
