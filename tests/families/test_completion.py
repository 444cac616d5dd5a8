"""The image-completion losses against NumPy/SciPy: the masked cross-entropy by hand, the KL of
two diagonal Gaussians in closed form and by Monte Carlo, and the CVAE's likelihood estimators
against log p(y | x) integrated by quadrature over a one-dimensional latent."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from jaxgen.data.masks import missing_mask
from jaxgen.families.completion import losses as completion
from jaxgen.families.completion.model import (
    MISSING,
    BaselineNet,
    CompletionCVAE,
    baseline_guess,
    fill_missing,
    masked_input,
)
from jaxgen.families.vae.losses import gaussian_kl

from ..conftest import numpy_init

H = W = 4
D = H * W
MISSING_D = missing_mask(H, W, "given1").reshape(-1)  # 12 missing pixels, 4 given
RNG = np.random.default_rng(0)
IMAGE_NxD = RNG.uniform(size=(5, D)).astype(np.float32)
Y_NxD = (RNG.uniform(size=(5, D)) < IMAGE_NxD).astype(np.float32)  # binarized targets
X_NxD = np.asarray(masked_input(IMAGE_NxD, MISSING_D))
Y_HAT_NxD = RNG.uniform(size=(5, D)).astype(np.float32)
# One latent unit, so that log p(y | x) = log int p(y | z) p(z | x) dz by quadrature.
MODEL = CompletionCVAE(out_dim=D, latent_size=1, hidden=(8,))
PARAMS = numpy_init(MODEL, X_NxD, Y_NxD, Y_HAT_NxD)
Z_GRID_G = np.linspace(-12.0, 12.0, 4001)
BASELINE_PARAMS = numpy_init(BaselineNet(D, (8,)), X_NxD)


def _numpy_masked_bce(logits, y, missing):
    """sum over the missing pixels of -[y log s + (1 - y) log(1 - s)], s = sigmoid(logits), in
    float64 with -log s = log(1 + exp(-l)) and -log(1 - s) = log(1 + exp(l))."""
    logits, y = np.asarray(logits, np.float64), np.asarray(y, np.float64)
    bce = y * np.logaddexp(0.0, -logits) + (1.0 - y) * np.logaddexp(0.0, logits)
    return np.where(missing, bce, 0.0).sum(axis=-1)


def _global_norm(tree):
    return float(np.sqrt(sum(np.sum(np.square(leaf)) for leaf in jax.tree_util.tree_leaves(tree))))


def _gaussian(method, *args):
    mean, logvar = MODEL.apply(PARAMS, *args, method=method)
    return np.asarray(mean, np.float64), np.asarray(logvar, np.float64)


def _quadrature():
    """(log p(y | x), E_q[log p(y | x, z)], KL(q || p)) per example by quadrature on Z_GRID_G."""
    logits_GxD = MODEL.apply(PARAMS, Z_GRID_G[:, None].astype(np.float32), method="generate")
    log_py_NxG = -_numpy_masked_bce(logits_GxD[None], Y_NxD[:, None], MISSING_D)
    mean_p, logvar_p = _gaussian("prior", X_NxD, Y_HAT_NxD)
    mean_q, logvar_q = _gaussian("recognize", X_NxD, Y_NxD)
    log_prior_NxG = stats.norm.logpdf(Z_GRID_G, mean_p, np.exp(0.5 * logvar_p))
    log_q_NxG = stats.norm.logpdf(Z_GRID_G, mean_q, np.exp(0.5 * logvar_q))
    dz = Z_GRID_G[1] - Z_GRID_G[0]
    log_p = special.logsumexp(log_py_NxG + log_prior_NxG, axis=-1) + np.log(dz)
    q_NxG = np.exp(log_q_NxG) * dz
    expected_log_py = np.sum(q_NxG * log_py_NxG, axis=-1)
    kl = np.sum(q_NxG * (log_q_NxG - log_prior_NxG), axis=-1)
    return log_p, expected_log_py, kl


EXACT_LOG_P_N, EXACT_E_LOG_PY_N, EXACT_KL_N = _quadrature()


@functools.partial(jax.jit, static_argnums=0)
def _jit_estimates(num_samples, key, y, y_hat, params):
    args = (MODEL, params, X_NxD, y, y_hat, MISSING_D, key, num_samples)
    return completion.conditional_log_likelihood(*args)


def _estimates(num_samples, key=1, y=Y_NxD, y_hat=Y_HAT_NxD, params=PARAMS):
    """(log p(y | x) estimate, ELBO estimate), each (N,), from `num_samples` draws of q."""
    log_p, elbo = _jit_estimates(num_samples, jax.random.key(key), y, y_hat, params)
    return np.asarray(log_p), np.asarray(elbo)


# ---- masked binary cross-entropy ----------------------------------------------------------------


@pytest.mark.parametrize("scale", [3.0, 60.0])
def test_masked_bce_matches_numpy_on_grey_and_binary_targets(scale):
    logits = RNG.normal(scale=scale, size=(5, D)).astype(np.float32)
    for y in (IMAGE_NxD, Y_NxD):
        expected = _numpy_masked_bce(logits, y, MISSING_D)
        got = completion.masked_bce(logits, y, MISSING_D)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_masked_bce_is_pyros_masked_bce_loss():
    """Pyro's MaskedBCELoss: the BCE of the sigmoid outputs on the pixels where the target
    ("output", -1 at the given pixels) is not -1, summed."""
    logits = RNG.normal(size=(5, D)).astype(np.float64)
    probs = special.expit(logits)
    output = np.where(MISSING_D, IMAGE_NxD, -1.0)
    keep = output != -1
    pyro = -(output * np.log(probs) + (1 - output) * np.log1p(-probs))[keep].sum()
    got = completion.masked_bce(logits.astype(np.float32), output, MISSING_D)
    np.testing.assert_allclose(float(jnp.sum(got)), pyro, rtol=1e-5)


def test_masked_bce_ignores_the_given_pixels_and_their_gradient_is_zero():
    logits = RNG.normal(size=(5, D)).astype(np.float32)
    junk = np.where(MISSING_D, Y_NxD, np.nan).astype(np.float32)
    np.testing.assert_array_equal(
        completion.masked_bce(logits, junk, MISSING_D),
        completion.masked_bce(logits, Y_NxD, MISSING_D),
    )
    grad = jax.grad(lambda lg: jnp.sum(completion.masked_bce(lg, junk, MISSING_D)))(logits)
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(grad[:, ~MISSING_D], 0.0)
    np.testing.assert_allclose(
        grad[:, MISSING_D], (special.expit(logits) - Y_NxD)[:, MISSING_D], atol=1e-6
    )


# ---- KL of two diagonal Gaussians ---------------------------------------------------------------


def test_diagonal_gaussian_kl_matches_the_closed_form():
    mq, mp = RNG.normal(size=(2, 4, 3))
    lq, lp = RNG.normal(scale=0.7, size=(2, 4, 3))
    vq, vp = np.exp(lq), np.exp(lp)
    expected = 0.5 * np.sum(np.log(vp / vq) + (vq + (mq - mp) ** 2) / vp - 1.0, axis=-1)
    got = completion.diagonal_gaussian_kl(*(jnp.asarray(a, jnp.float32) for a in (mq, lq, mp, lp)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    zeros = jnp.zeros((4, 3))
    np.testing.assert_allclose(
        completion.diagonal_gaussian_kl(mq, lq, zeros, zeros), gaussian_kl(mq, lq), rtol=1e-5
    )
    np.testing.assert_allclose(completion.diagonal_gaussian_kl(mq, lq, mq, lq), 0.0, atol=1e-6)


def test_diagonal_gaussian_kl_matches_a_monte_carlo_estimate():
    mq, lq = np.array([0.5, -1.0]), np.array([-0.5, 0.4])
    mp, lp = np.array([-0.3, 0.2]), np.array([0.3, -0.2])
    z = RNG.normal(size=(200_000, 2)) * np.exp(0.5 * lq) + mq
    log_ratio = (
        stats.norm.logpdf(z, mq, np.exp(0.5 * lq)) - stats.norm.logpdf(z, mp, np.exp(0.5 * lp))
    ).sum(axis=-1)
    args = (jnp.asarray(a[None], jnp.float32) for a in (mq, lq, mp, lp))
    kl = float(completion.diagonal_gaussian_kl(*args)[0])
    assert abs(kl - log_ratio.mean()) < 5 * log_ratio.std() / np.sqrt(len(z))


# ---- the CVAE's negative ELBO -------------------------------------------------------------------


def test_cvae_loss_terms_match_quadrature():
    """kl is the closed form at the networks' outputs; nll_term, averaged over many keys, is
    E_q[-log p(y | x, z)] integrated by quadrature."""
    keys = jax.random.split(jax.random.key(3), 4000)
    loss_fn = jax.vmap(
        lambda k: completion.cvae_loss(MODEL, PARAMS, X_NxD, Y_NxD, Y_HAT_NxD, MISSING_D, k)
    )
    loss_K, aux = loss_fn(keys)
    np.testing.assert_allclose(loss_K, aux["nll_term"] + aux["kl"], rtol=1e-6)
    mean_p, logvar_p = _gaussian("prior", X_NxD, Y_HAT_NxD)
    mean_q, logvar_q = _gaussian("recognize", X_NxD, Y_NxD)
    vq, vp = np.exp(logvar_q), np.exp(logvar_p)
    kl_N = 0.5 * np.sum(np.log(vp / vq) + (vq + (mean_q - mean_p) ** 2) / vp - 1.0, axis=-1)
    np.testing.assert_allclose(aux["kl"], kl_N.mean(), rtol=1e-5)
    np.testing.assert_allclose(kl_N, EXACT_KL_N, rtol=1e-4, atol=1e-6)  # the grid is wide enough
    nll = np.asarray(aux["nll_term"])
    sem = nll.std() / np.sqrt(len(nll))
    assert abs(nll.mean() + EXACT_E_LOG_PY_N.mean()) < 5 * sem + 1e-3


def test_cvae_loss_gradient_reaches_all_three_networks_but_not_y_hat():
    def loss(params, y_hat):
        args = (MODEL, params, X_NxD, Y_NxD, y_hat, MISSING_D, jax.random.key(0))
        return completion.cvae_loss(*args)[0]

    grads, grad_y_hat = jax.grad(loss, argnums=(0, 1))(PARAMS, Y_HAT_NxD)
    for name in ("prior_net", "recognition_net", "generation_net"):
        norm = _global_norm(grads["params"][name])
        assert np.isfinite(norm) and norm > 0, name
    np.testing.assert_array_equal(grad_y_hat[:, ~MISSING_D], 0.0)  # given pixels are not read


# ---- likelihood estimators ----------------------------------------------------------------------


def test_importance_sampled_estimate_converges_to_the_quadrature():
    log_p, elbo = _estimates(10_000)
    np.testing.assert_allclose(log_p, EXACT_LOG_P_N, atol=0.03)
    # The mean log-weight is the ELBO: E_q[log p(y | x, z)] - KL(q || p).
    np.testing.assert_allclose(elbo, EXACT_E_LOG_PY_N - EXACT_KL_N, atol=0.05)
    assert np.all(elbo < EXACT_LOG_P_N)


def test_prior_sampled_estimate_converges_to_the_quadrature():
    args = (MODEL, PARAMS, X_NxD, Y_NxD, Y_HAT_NxD, MISSING_D, jax.random.key(2), 10_000)
    log_p = completion.prior_sampled_log_likelihood(*args)
    np.testing.assert_allclose(log_p, EXACT_LOG_P_N, atol=0.03)


def test_importance_sampled_estimate_is_exact_when_q_is_the_posterior():
    """With the generation network's output kernel zeroed, p(y | x, z) = p(y | x) does not
    depend on z, so the posterior is the prior; with the recognition network a copy of the
    prior network and y_hat = y, q is that posterior and every log-weight is log p(y | x)."""
    params = jax.tree_util.tree_map(lambda a: a, PARAMS)
    params["params"]["recognition_net"] = params["params"]["prior_net"]
    out = params["params"]["generation_net"]["out"]
    out["kernel"] = jnp.zeros_like(out["kernel"])
    exact = -_numpy_masked_bce(np.broadcast_to(out["bias"], (5, D)), Y_NxD, MISSING_D)
    for k in (1, 7):
        log_p, elbo = _estimates(k, y_hat=Y_NxD, params=params)
        np.testing.assert_allclose(log_p, exact, rtol=1e-5)
        np.testing.assert_allclose(elbo, exact, rtol=1e-5)


def test_importance_sampled_estimate_bounds_the_elbo_and_tightens_with_k():
    gaps = {}
    for k in (1, 10, 100):
        runs = [_estimates(k, key=seed) for seed in range(4)]
        for log_p, elbo in runs:  # log-mean-exp >= mean on the same draws (Jensen)
            assert np.all(log_p >= elbo - 1e-5)
        gaps[k] = np.mean([log_p - EXACT_LOG_P_N for log_p, _ in runs])
    log_p_1, elbo_1 = _estimates(1)
    np.testing.assert_allclose(log_p_1, elbo_1, rtol=1e-6)  # K = 1: the ELBO's one draw
    assert gaps[1] < gaps[10] < gaps[100] < 0.02
    assert gaps[1] < -0.5 and gaps[100] > -0.1


def test_given_pixels_never_change_any_loss():
    y_junk = np.where(MISSING_D, Y_NxD, RNG.uniform(-1.0, 2.0, size=Y_NxD.shape)).astype(np.float32)
    y_hat_junk = np.where(MISSING_D, Y_HAT_NxD, -1.0).astype(np.float32)
    key = jax.random.key(5)

    @jax.jit
    def everything(y, y_hat):
        args = (MODEL, PARAMS, X_NxD, y, y_hat, MISSING_D, key)
        loss, aux = completion.cvae_loss(*args)
        log_p, elbo = completion.conditional_log_likelihood(*args, 16)
        prior_mc = completion.prior_sampled_log_likelihood(*args, 16)
        logits = BaselineNet(D, (8,)).apply(BASELINE_PARAMS, X_NxD)
        return [loss, aux["nll_term"], aux["kl"], log_p, elbo, prior_mc,
                completion.masked_bce(logits, y, MISSING_D)]  # fmt: skip

    for got, expected in zip(
        everything(y_junk, y_hat_junk), everything(Y_NxD, Y_HAT_NxD), strict=True
    ):
        np.testing.assert_array_equal(got, expected)


# ---- the models and the masks -------------------------------------------------------------------


def test_models_fill_the_missing_pixels_like_pyro():
    np.testing.assert_array_equal(X_NxD[:, MISSING_D], MISSING)
    np.testing.assert_array_equal(X_NxD[:, ~MISSING_D], IMAGE_NxD[:, ~MISSING_D])
    filled = np.asarray(fill_missing(X_NxD, Y_HAT_NxD))
    np.testing.assert_array_equal(filled, np.where(MISSING_D, Y_HAT_NxD, IMAGE_NxD))
    baseline = BaselineNet(D, (8,))
    y_hat = baseline_guess(baseline, BASELINE_PARAMS, X_NxD)
    assert y_hat.shape == (5, D) and np.all((y_hat > 0) & (y_hat < 1))
    mean, logvar = MODEL.apply(PARAMS, X_NxD, y_hat, method="prior")
    assert mean.shape == logvar.shape == (5, 1)
    assert MODEL.apply(PARAMS, X_NxD, Y_NxD, Y_HAT_NxD).shape == (5, D)


def test_generation_network_may_see_x():
    model = CompletionCVAE(out_dim=D, latent_size=2, hidden=(8,), generation_sees_x=True)
    params = numpy_init(model, X_NxD, Y_NxD, Y_HAT_NxD)
    assert params["params"]["generation_net"]["hidden_0"]["kernel"].shape == (2 + D, 8)
    loss, _ = completion.cvae_loss(
        model, params, X_NxD, Y_NxD, Y_HAT_NxD, MISSING_D, jax.random.key(0)
    )
    assert np.isfinite(loss)
    with pytest.raises(ValueError, match="needs x"):
        model.apply(params, jnp.zeros((5, 2)), method="generate")


def _pyro_missing(h, w, num_quadrant_inputs):
    """Pyro's examples/cvae/mnist.py MaskImages: True where the pixel is a target ("output" not
    -1), i.e. missing from the input."""
    out = np.zeros((h, w))
    out[h // 2 :, : w // 2] = -1
    if num_quadrant_inputs == 2:
        out[:, : w // 2] = -1
    if num_quadrant_inputs == 3:
        out[: h // 2, :] = -1
    return out != -1


@pytest.mark.parametrize("num", [1, 2, 3])
def test_given_regions_are_pyros_quadrant_inputs(num):
    for h, w in ((28, 28), (5, 7)):
        np.testing.assert_array_equal(missing_mask(h, w, f"given{num}"), _pyro_missing(h, w, num))
