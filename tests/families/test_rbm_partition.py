"""The RBM's partition function and likelihoods against independent references: brute-force
enumeration of both layers in NumPy, the exact value for AIS and RAISE, scikit-learn's
`BernoulliRBM.score_samples` for the pseudo-log-likelihood."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from jaxgen.errors import UserError
from jaxgen.families.rbm import model, partition


def random_rbm(seed, num_visible, num_hidden, scale=1.0):
    rng = np.random.default_rng(seed)
    return {
        "weights": jnp.asarray(scale * rng.normal(size=(num_visible, num_hidden)), jnp.float32),
        "visible_bias": jnp.asarray(rng.normal(size=num_visible), jnp.float32),
        "hidden_bias": jnp.asarray(rng.normal(size=num_hidden), jnp.float32),
    }


def brute_force(params):
    """log Z and log p(v) for every v by enumerating every (v, h) in float64 NumPy."""
    w = np.asarray(params["weights"], np.float64)
    b = np.asarray(params["visible_bias"], np.float64)
    c = np.asarray(params["hidden_bias"], np.float64)
    vs = np.array(list(itertools.product([0, 1], repeat=w.shape[0])), np.float64)
    hs = np.array(list(itertools.product([0, 1], repeat=w.shape[1])), np.float64)
    neg_energy = (vs @ b)[:, None] + (hs @ c)[None, :] + vs @ w @ hs.T
    log_z = logsumexp(neg_energy)
    return log_z, vs, logsumexp(neg_energy, axis=1) - log_z


@pytest.mark.parametrize("shape", [(6, 4), (4, 7), (5, 5)])
def test_exact_log_z_and_free_energy_match_enumerating_both_layers(shape):
    params = random_rbm(0, *shape)
    log_z, vs, log_p = brute_force(params)
    assert partition.log_z_exact(params) == pytest.approx(log_z, abs=1e-4)
    ours = -np.asarray(model.free_energy(params, jnp.asarray(vs, jnp.float32))) - log_z
    np.testing.assert_allclose(ours, log_p, atol=1e-4)


def test_exact_log_z_refuses_two_large_layers():
    with pytest.raises(ValueError, match="at most 20"):
        partition.log_z_exact(random_rbm(0, 21, 22))


def test_exact_log_z_over_twenty_hidden_units_spans_several_blocks():
    # 2^18 states: 16 enumeration blocks; against the same sum taken over the visible layer.
    params = random_rbm(1, 18, 18, scale=0.1)
    flipped = {
        "weights": params["weights"].T,
        "visible_bias": params["hidden_bias"],
        "hidden_bias": params["visible_bias"],
    }
    assert partition.log_z_exact(params) == pytest.approx(partition.log_z_exact(flipped), abs=1e-3)


def trained_like_rbm(num_hidden, seed=0):
    """An RBM on 8x8 binary images with weights of a trained one's size (std 0.3)."""
    params = random_rbm(seed, 64, num_hidden, scale=0.3)
    params["visible_bias"] = params["visible_bias"] - 1.0
    return params


@pytest.mark.parametrize("num_hidden", [10, 15, 20])
def test_ais_is_within_a_tenth_of_a_nat_of_exact_log_z(num_hidden):
    params = trained_like_rbm(num_hidden)
    base = model.logit(np.full(64, 0.3))
    betas = partition.annealing_schedule(1451)
    estimate = partition.ais(params, base, betas, 100, jax.random.key(0))
    exact = partition.log_z_exact(params)
    assert abs(estimate.log_z - exact) < 0.1
    assert estimate.log_z_low <= exact <= estimate.log_z_high
    assert estimate.num_temperatures == len(betas)


def test_ais_with_one_temperature_step_is_plain_importance_sampling_from_the_base():
    # Two temperatures (0 and 1): w = f_1(v) / f_0(v), v ~ p_0: unbiased for Z; with many
    # chains on a 6-unit model the estimate is close to exact.
    params = random_rbm(2, 6, 3, scale=0.5)
    base = jnp.zeros(6)
    estimate = partition.ais(params, base, np.array([0.0, 1.0]), 20000, jax.random.key(1))
    assert estimate.log_z == pytest.approx(partition.log_z_exact(params), abs=0.05)


def test_raise_brackets_the_exact_log_likelihood_from_below_and_ais_from_above():
    params = trained_like_rbm(12, seed=3)
    exact = partition.log_z_exact(params)
    rng = np.random.default_rng(0)
    v = (rng.random((20, 64)) < 0.3).astype(np.float32)
    log_p = -np.asarray(model.free_energy(params, jnp.asarray(v))) - exact
    base = model.logit(np.full(64, 0.3))
    betas = partition.annealing_schedule(1451)
    raised = partition.raise_log_likelihood(params, base, betas, v, 10, jax.random.key(2))
    # Conservative on average, and close with a long enough schedule.
    assert np.mean(raised) <= np.mean(log_p) + 0.02
    assert abs(np.mean(raised) - np.mean(log_p)) < 0.3


def test_raise_with_no_annealing_is_the_base_models_likelihood():
    # Temperatures 0 and 1: one reverse Gibbs step at beta = 1, then p_0 of where it lands;
    # with a zero-weight RBM equal to the base, w = f_1(v)/f_1(v0) p_0(v0) = p_0(v) exactly.
    base = model.logit(np.linspace(0.1, 0.9, 5))
    params = {
        "weights": jnp.zeros((5, 3)),
        "visible_bias": jnp.asarray(base),
        "hidden_bias": jnp.zeros(3),
    }
    v = np.array([[1, 0, 1, 1, 0], [0, 0, 0, 1, 1]], np.float32)
    raised = partition.raise_log_likelihood(
        params, base, np.array([0.0, 1.0]), v, 4, jax.random.key(0)
    )
    p = np.linspace(0.1, 0.9, 5)
    expected = np.sum(v * np.log(p) + (1 - v) * np.log(1 - p), axis=1)
    np.testing.assert_allclose(raised, expected, atol=1e-5)


def test_ais_refuses_non_finite_weights_in_one_line():
    params = random_rbm(0, 6, 3)
    params["weights"] = params["weights"].at[0, 0].set(jnp.nan)
    with pytest.raises(UserError, match="non-finite weight"):
        partition.ais(params, jnp.zeros(6), np.array([0.0, 0.5, 1.0]), 4, jax.random.key(0))


def test_schedule_is_salakhutdinov_and_murrays():
    betas = partition.annealing_schedule()
    assert len(betas) == 14501  # 500 + 4,000 + 10,000 steps, and beta = 1
    assert betas[0] == 0.0 and betas[-1] == 1.0
    np.testing.assert_allclose(np.diff(betas[:500]), 1e-3, rtol=1e-6)
    np.testing.assert_allclose(np.diff(betas[-10001:]), 1e-5, rtol=1e-4)
    assert np.all(np.diff(betas) > 0)


def test_pseudo_log_likelihood_is_scikit_learns_with_the_same_flipped_bits():
    from sklearn.neural_network import BernoulliRBM

    params = random_rbm(4, 16, 5)
    rng = np.random.default_rng(1)
    v = (rng.random((30, 16)) < 0.4).astype(np.float64)
    rbm = BernoulliRBM(n_components=5, random_state=7)
    rbm.components_ = np.asarray(params["weights"], np.float64).T
    rbm.intercept_hidden_ = np.asarray(params["hidden_bias"], np.float64)
    rbm.intercept_visible_ = np.asarray(params["visible_bias"], np.float64)
    rbm.n_features_in_ = 16
    theirs = rbm.score_samples(v)
    flip = np.random.RandomState(7).randint(0, 16, 30)  # the bits score_samples flips
    ours = partition.pseudo_log_likelihood(params, jnp.asarray(v, jnp.float32), jnp.asarray(flip))
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-5, atol=1e-4)


def test_base_log_z_is_the_sum_over_the_base_models_states():
    base = np.array([0.3, -1.2, 2.0])
    states = np.array(list(itertools.product([0, 1], repeat=3)), np.float64)
    expected = logsumexp(states @ base) + 4 * math.log(2)
    assert partition.base_log_z(base, 4) == pytest.approx(expected, abs=1e-9)
