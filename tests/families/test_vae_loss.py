"""The VAE objectives against NumPy/SciPy: closed forms, Monte Carlo, and hand-computed losses."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from jaxgen.families.vae import losses as vae
from jaxgen.families.vae.config import vae_model_config, vae_objective_config
from jaxgen.families.vae.model import build_vae

from ..conftest import numpy_init

RNG = np.random.default_rng(0)
MEAN_BxZ = RNG.normal(size=(4, 3)).astype(np.float32)
LOGVAR_BxZ = RNG.normal(scale=0.7, size=(4, 3)).astype(np.float32)
IMAGE_SHAPE = (4, 4, 1)
X_BxHxWxC = np.random.default_rng(1).uniform(size=(6, *IMAGE_SHAPE)).astype(np.float32)
LABELS_B = np.array([0, 1, 2, 0, 1, 2], np.int32)


# ---- closed forms -------------------------------------------------------------------------------


def _kl_full_covariance(mean0, cov0, mean1, cov1):
    """KL(N0 || N1) for full covariances (the general textbook formula), in nats."""
    k = len(mean0)
    inv1 = np.linalg.inv(cov1)
    diff = mean1 - mean0
    logdet = np.linalg.slogdet(cov1)[1] - np.linalg.slogdet(cov0)[1]
    return 0.5 * (np.trace(inv1 @ cov0) + diff @ inv1 @ diff - k + logdet)


def test_gaussian_kl_matches_the_general_closed_form():
    expected = [
        _kl_full_covariance(m, np.diag(np.exp(lv)), np.zeros(3), np.eye(3))
        for m, lv in zip(MEAN_BxZ.astype(np.float64), LOGVAR_BxZ.astype(np.float64), strict=True)
    ]
    np.testing.assert_allclose(vae.gaussian_kl(MEAN_BxZ, LOGVAR_BxZ), expected, rtol=1e-5)


def test_gaussian_kl_matches_a_monte_carlo_estimate():
    mean, logvar = np.array([0.5, -1.0]), np.array([-0.5, 0.4])
    q = stats.multivariate_normal(mean, np.diag(np.exp(logvar)))
    p = stats.multivariate_normal(np.zeros(2), np.eye(2))
    z = q.rvs(size=200_000, random_state=np.random.default_rng(2))
    log_ratio = q.logpdf(z) - p.logpdf(z)
    kl = vae.gaussian_kl(jnp.asarray(mean[None], jnp.float32), jnp.asarray(logvar[None]))
    sem = log_ratio.std() / np.sqrt(len(z))
    assert abs(float(kl[0]) - log_ratio.mean()) < 5 * sem


def test_gaussian_kl_is_zero_for_the_prior():
    np.testing.assert_allclose(vae.gaussian_kl(jnp.zeros((2, 5)), jnp.zeros((2, 5))), 0.0)


def test_log_normal_diag_and_log_standard_normal_match_scipy():
    z = RNG.normal(size=(4, 3)).astype(np.float32)
    std = np.exp(0.5 * LOGVAR_BxZ.astype(np.float64))
    expected = stats.norm.logpdf(z, MEAN_BxZ, std).sum(axis=-1)
    np.testing.assert_allclose(vae.log_normal_diag(z, MEAN_BxZ, LOGVAR_BxZ), expected, rtol=1e-5)
    expected = stats.norm.logpdf(z).sum(axis=-1)
    np.testing.assert_allclose(vae.log_standard_normal(z), expected, rtol=1e-5)


def _scipy_log_bernoulli(x, logits):
    """sum log Bernoulli(x; sigmoid(logits)), evaluated on the side where p <= 1/2: that is
    Bernoulli(1 - x; sigmoid(-logits)) for positive logits, so that p never rounds to 1."""
    x, logits = x.astype(np.float64), logits.astype(np.float64)
    low = stats.bernoulli.logpmf(x, special.expit(logits))
    high = stats.bernoulli.logpmf(1.0 - x, special.expit(-logits))
    per_dim = np.where(logits > 0, high, low)
    return per_dim.reshape(len(x), -1).sum(axis=-1)


def test_log_bernoulli_matches_scipy_for_large_logits():
    x = np.random.default_rng(3).integers(0, 2, size=(3, 4, 4, 1)).astype(np.float32)
    logits = np.random.default_rng(4).normal(scale=3.0, size=x.shape).astype(np.float32)
    logits[0, 0, 0, 0], logits[0, 0, 1, 0], logits[1, 0, 0, 0], logits[1, 0, 1, 0] = (
        30,
        -30,
        30,
        -30,
    )
    x[0, 0, :2, 0] = 0.0, 1.0  # the unlikely outcomes: log p ~ -30 each
    x[1, 0, :2, 0] = 1.0, 0.0  # the likely outcomes: log p ~ -1e-13 each
    got = vae.log_bernoulli(jnp.asarray(x), jnp.asarray(logits))
    np.testing.assert_allclose(got, _scipy_log_bernoulli(x, logits), rtol=1e-5)
    # The naive float32 formula loses the unlikely outcomes to log(0).
    p = jax.nn.sigmoid(jnp.asarray(logits))
    naive = jnp.sum(x * jnp.log(p) + (1 - x) * jnp.log(1 - p), axis=(1, 2, 3))
    assert not np.isfinite(naive[0]) and np.isfinite(got[0])


def test_log_gaussian_matches_scipy():
    mean = np.random.default_rng(5).uniform(size=X_BxHxWxC.shape).astype(np.float32)
    for log_scale in (-2.0, 0.0, 0.7):
        expected = stats.norm.logpdf(X_BxHxWxC, mean, np.exp(log_scale)).reshape(6, -1).sum(-1)
        got = vae.log_gaussian(X_BxHxWxC, mean, jnp.float32(log_scale))
        np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_log_likelihood_dispatches_on_the_likelihood():
    x = (X_BxHxWxC > 0.5).astype(np.float32)
    decoded = np.random.default_rng(6).normal(size=x.shape).astype(np.float32)
    np.testing.assert_allclose(
        vae.log_likelihood(x, decoded, 0.0, "bernoulli"), _scipy_log_bernoulli(x, decoded), 1e-5
    )
    gaussian = stats.norm.logpdf(x, decoded, 0.5).reshape(6, -1).sum(-1)
    for name in ("gaussian_fixed", "gaussian_learned"):
        got = vae.log_likelihood(x, decoded, jnp.log(0.5), name)
        np.testing.assert_allclose(got, gaussian, rtol=1e-5)


# ---- sampling -----------------------------------------------------------------------------------


def test_reparametrize_draws_from_the_gaussian():
    n = 100_000
    mean = np.broadcast_to(MEAN_BxZ[0], (n, 3))
    logvar = np.broadcast_to(LOGVAR_BxZ[0], (n, 3))
    z = np.asarray(vae.reparametrize(jax.random.key(0), jnp.asarray(mean), jnp.asarray(logvar)))
    std = np.exp(0.5 * LOGVAR_BxZ[0])
    np.testing.assert_allclose(z.mean(axis=0), MEAN_BxZ[0], atol=5 * std.max() / np.sqrt(n))
    np.testing.assert_allclose(z.std(axis=0), std, rtol=0.02)


def test_reparametrize_is_differentiable_in_mean_and_logvar():
    key = jax.random.key(1)
    d_mean = jax.jacobian(lambda m: vae.reparametrize(key, m, LOGVAR_BxZ[:1])[0])(MEAN_BxZ[:1])
    np.testing.assert_allclose(d_mean[:, 0, :], np.eye(3), atol=1e-6)
    eps = np.asarray(jax.random.normal(key, (1, 3)))
    d_logvar = jax.grad(lambda lv: jnp.sum(vae.reparametrize(key, MEAN_BxZ[:1], lv)))(
        LOGVAR_BxZ[:1]
    )
    np.testing.assert_allclose(d_logvar, 0.5 * np.exp(0.5 * LOGVAR_BxZ[:1]) * eps, rtol=1e-5)


def test_binarize_draws_one_bernoulli_per_pixel():
    intensity = np.array([0.0, 0.25, 0.7, 1.0], np.float32)
    x = jnp.asarray(np.broadcast_to(intensity, (40_000, 4)))
    bits = np.asarray(vae.binarize(jax.random.key(0), x))
    assert bits.dtype == np.float32 and set(np.unique(bits)) <= {0.0, 1.0}
    np.testing.assert_allclose(bits.mean(axis=0), intensity, atol=0.01)
    np.testing.assert_array_equal(bits, vae.binarize(jax.random.key(0), x))
    assert np.any(bits != np.asarray(vae.binarize(jax.random.key(1), x)))


# ---- the objective's configuration -------------------------------------------------------------


def test_kl_weight_without_warmup_is_beta():
    objective = vae_objective_config(beta=0.25)
    for step in (0, 7, 10_000):
        np.testing.assert_allclose(vae.kl_weight(objective, jnp.int32(step)), 0.25)


def test_kl_weight_ramps_linearly_over_the_warmup():
    objective = vae_objective_config(beta=2.0, kl_warmup_steps=10)
    steps = np.array([0, 4, 8, 9, 10, 500])
    expected = 2.0 * np.minimum(1.0, (steps + 1) / 10)  # step s uses (s + 1) / warm-up steps
    got = jax.jit(jax.vmap(lambda s: vae.kl_weight(objective, s)))(jnp.asarray(steps))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert np.all(np.diff(got) >= 0)


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(kind="vi"), "objective"),
        (dict(likelihood="poisson"), "likelihood"),
        (dict(binarize="otsu"), "binarize"),
        (dict(likelihood="bernoulli", binarize="none"), "Bernoulli"),
        (dict(likelihood="gaussian_fixed", binarize="dynamic"), "Bernoulli"),
        (dict(likelihood="gaussian_learned", binarize="static"), "Bernoulli"),
        (dict(kind="iwae", beta=2.0, importance_samples=5), "beta"),
        (dict(importance_samples=0), "importance_samples"),
    ],
)
def test_validate_objective_rejects(overrides, match):
    with pytest.raises(ValueError, match=match):
        vae.validate_objective(vae_objective_config(**overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        dict(),
        dict(binarize="static"),
        dict(likelihood="gaussian_fixed", binarize="none"),
        dict(kind="iwae", importance_samples=5),
        dict(beta=4.0, kl_warmup_steps=100),
    ],
)
def test_validate_objective_accepts(overrides):
    vae.validate_objective(vae_objective_config(**overrides))


# ---- the losses, recomputed by hand ------------------------------------------------------------


@functools.cache
def _model(likelihood: str, num_classes: int):
    """One tiny dense VAE (and its parameters) per likelihood and label count, built once."""
    objective = vae_objective_config(likelihood=likelihood)
    block = vae_model_config("dense", hidden=(8,), latent_size=2, conditional=num_classes > 0)
    model = build_vae(block, objective, IMAGE_SHAPE, num_classes)
    params = numpy_init(model, jnp.zeros((1, *IMAGE_SHAPE)), jnp.zeros((1,), jnp.int32))
    if likelihood == "gaussian_learned":  # away from its zero init
        params = {"params": {**params["params"], "log_scale": jnp.float32(-0.6)}}
    return model, params


def _setup(num_classes=0, **objective):
    # "auto" resolved as the loss resolves it: Bernoulli with dynamic binarization on grey data.
    objective = vae.resolve_objective(vae_objective_config(**objective), IMAGE_SHAPE[-1])
    model, params = _model(objective.likelihood, num_classes)
    return model, params, vae.make_vae_loss(model, objective), objective


def _hand_terms(model, params, objective, key, labels=LABELS_B):
    """Per draw and example, from the model's own encode/decode and NumPy closed forms:
    log p(x | z) (K, B), log p(z) - log q(z | x) (K, B), and the analytic KL (B,), in nats."""
    binarize_key, sample_key = jax.random.split(key)
    x = X_BxHxWxC
    if objective.binarize == "dynamic":
        x = np.asarray(jax.random.bernoulli(binarize_key, x), np.float32)
    mean, logvar = (
        np.asarray(a, np.float64) for a in model.apply(params, x, labels, method="encode")
    )
    std = np.exp(0.5 * logvar)
    kl = 0.5 * np.sum(np.exp(logvar) + mean**2 - 1.0 - logvar, axis=-1)
    log_px_z, log_pz_qz = [], []
    for k in jax.random.split(sample_key, objective.importance_samples):
        eps = np.asarray(jax.random.normal(k, mean.shape, jnp.float32), np.float64)
        z = mean + std * eps
        decoded, log_scale = model.apply(
            params, jnp.asarray(z, jnp.float32), labels, method="decode"
        )
        decoded, xd = np.asarray(decoded, np.float64), x.astype(np.float64)
        if objective.likelihood == "bernoulli":
            per_dim = -(xd * np.logaddexp(0, -decoded) + (1 - xd) * np.logaddexp(0, decoded))
        else:
            per_dim = stats.norm.logpdf(xd, decoded, np.exp(float(log_scale)))
        log_px_z.append(per_dim.reshape(len(x), -1).sum(-1))
        log_pz = stats.norm.logpdf(z).sum(-1)
        log_pz_qz.append(log_pz - stats.norm.logpdf(z, mean, std).sum(-1))
    return np.array(log_px_z), np.array(log_pz_qz), kl


@pytest.mark.parametrize("num_samples", [1, 3])
@pytest.mark.parametrize(
    "likelihood, binarize",
    [("bernoulli", "dynamic"), ("bernoulli", "static"), ("gaussian_learned", "none")],
)
def test_elbo_loss_matches_a_hand_computation(likelihood, binarize, num_samples):
    model, params, loss_fn, objective = _setup(
        likelihood=likelihood, binarize=binarize, importance_samples=num_samples, beta=1.5
    )
    key = jax.random.key(7)
    loss, aux = loss_fn(params, {"image": X_BxHxWxC, "label": LABELS_B}, key, 0)
    log_px_z, _, kl = _hand_terms(model, params, objective, key)
    recon = log_px_z.mean(axis=0)
    np.testing.assert_allclose(loss, np.mean(-recon + 1.5 * kl), rtol=2e-5)
    np.testing.assert_allclose(aux["elbo"], np.mean(recon - kl), rtol=2e-5)
    np.testing.assert_allclose(aux["reconstruction_nats"], -np.mean(recon), rtol=2e-5)
    np.testing.assert_allclose(aux["kl_nats"], np.mean(kl), rtol=2e-5)
    np.testing.assert_allclose(aux["kl_weight"], 1.5)


@pytest.mark.parametrize("num_samples", [1, 4])
def test_iwae_loss_matches_a_hand_computation(num_samples):
    model, params, loss_fn, objective = _setup(kind="iwae", importance_samples=num_samples)
    key = jax.random.key(8)
    loss, aux = loss_fn(params, {"image": X_BxHxWxC, "label": LABELS_B}, key, 0)
    log_px_z, log_pz_qz, _ = _hand_terms(model, params, objective, key)
    log_w = log_px_z + log_pz_qz
    bound = special.logsumexp(log_w, axis=0) - np.log(num_samples)
    np.testing.assert_allclose(loss, -np.mean(bound), rtol=2e-5)
    np.testing.assert_allclose(aux["elbo"], np.mean(log_w), rtol=2e-5)
    if num_samples == 1:  # one draw: the bound is the single-sample ELBO estimate
        np.testing.assert_allclose(loss, -aux["elbo"], rtol=1e-6)


def test_iwae_with_one_draw_is_the_elbo_at_the_same_z():
    """Same key, same z: -IWAE_1 = -ELBO + mean(log q(z|x) - log p(z) - KL), the only difference
    being the sampled rather than the analytic KL."""
    model, params, iwae, objective = _setup(kind="iwae", importance_samples=1)
    *_, elbo, _ = _setup(kind="elbo", importance_samples=1)
    key = jax.random.key(9)
    batch = {"image": X_BxHxWxC, "label": LABELS_B}
    _, log_pz_qz, kl = _hand_terms(model, params, objective, key)
    np.testing.assert_allclose(
        iwae(params, batch, key, 0)[0],
        elbo(params, batch, key, 0)[0] + np.mean(-log_pz_qz[0] - kl),
        rtol=1e-5,
    )


def test_iwae_bound_is_tighter_on_average():
    """E[-IWAE_16] < E[-IWAE_1] = E[-ELBO], estimated over 50 keys."""
    batch = {"image": X_BxHxWxC, "label": LABELS_B}
    _, params, iwae1, _ = _setup(kind="iwae", importance_samples=1)
    *_, iwae16, _ = _setup(kind="iwae", importance_samples=16)
    *_, elbo, _ = _setup(kind="elbo")

    @jax.jit
    def losses(keys):
        return [
            jax.vmap(lambda k, f=f: f(params, batch, k, 0)[0])(keys) for f in (iwae1, iwae16, elbo)
        ]

    loss1, loss16, loss_elbo = map(np.asarray, losses(jax.random.split(jax.random.key(10), 50)))
    sem = loss1.std() / np.sqrt(len(loss1))
    assert loss16.mean() < loss1.mean() - 3 * sem
    # The sampled and the analytic KL agree in expectation.
    assert abs(loss1.mean() - loss_elbo.mean()) < 4 * sem


def test_beta_scales_only_the_kl():
    _, params, beta1, _ = _setup(beta=1.0)
    *_, beta2, _ = _setup(beta=2.0)
    batch, key = {"image": X_BxHxWxC, "label": LABELS_B}, jax.random.key(11)
    loss1, aux1 = beta1(params, batch, key, 0)
    loss2, aux2 = beta2(params, batch, key, 0)
    np.testing.assert_allclose(loss2 - loss1, aux1["kl_nats"], rtol=1e-4)
    np.testing.assert_allclose(aux1["reconstruction_nats"], aux2["reconstruction_nats"])
    np.testing.assert_allclose(aux1["elbo"], aux2["elbo"])


def test_warmup_weights_the_kl_by_step():
    _, params, loss_fn, _ = _setup(beta=1.0, kl_warmup_steps=4)
    batch, key = {"image": X_BxHxWxC, "label": LABELS_B}, jax.random.key(12)
    for step, weight in [(0, 0.25), (2, 0.75), (3, 1.0), (50, 1.0)]:
        loss, aux = loss_fn(params, batch, key, jnp.int32(step))
        expected = aux["reconstruction_nats"] + weight * aux["kl_nats"]
        np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_loss_is_differentiable():
    _, params, loss_fn, _ = _setup(kind="iwae", importance_samples=3)
    batch = {"image": X_BxHxWxC, "label": LABELS_B}
    grads = jax.jit(jax.grad(lambda p: loss_fn(p, batch, jax.random.key(0), 0)[0]))(params)
    leaves = jax.tree.leaves(grads)
    assert all(np.all(np.isfinite(g)) for g in leaves)
    assert any(np.any(g != 0) for g in leaves)


def test_conditional_vae_loss_uses_the_labels():
    model, params, loss_fn, objective = _setup(num_classes=3)
    z = jnp.asarray(RNG.normal(size=(2, 2)), jnp.float32)
    out0, _ = model.apply(params, z, jnp.array([0, 0]), method="decode")
    out1, _ = model.apply(params, z, jnp.array([1, 1]), method="decode")
    assert np.max(np.abs(np.asarray(out0) - np.asarray(out1))) > 1e-4
    key = jax.random.key(13)
    loss, _ = loss_fn(params, {"image": X_BxHxWxC, "label": LABELS_B}, key, 0)
    other, _ = loss_fn(params, {"image": X_BxHxWxC, "label": (LABELS_B + 1) % 3}, key, 0)
    assert np.isfinite(loss) and abs(float(loss) - float(other)) > 1e-5
    log_px_z, _, kl = _hand_terms(model, params, objective, key)
    np.testing.assert_allclose(loss, np.mean(-log_px_z.mean(0) + kl), rtol=2e-5)


def test_unconditional_vae_loss_ignores_the_labels():
    _, params, loss_fn, _ = _setup()
    key = jax.random.key(14)
    loss, _ = loss_fn(params, {"image": X_BxHxWxC, "label": LABELS_B}, key, 0)
    other, _ = loss_fn(params, {"image": X_BxHxWxC, "label": LABELS_B * 0}, key, 0)
    np.testing.assert_array_equal(loss, other)


def test_discretized_logistic_is_the_logistic_mass_of_each_pixel_bin():
    from scipy.stats import logistic

    from jaxgen.families.vae.losses import log_discretized_logistic

    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, (4, 3, 2, 3))
    levels[0, 0, 0] = [0, 255, 128]  # both end bins and a middle one
    x = levels / 255.0
    mean = rng.uniform(-0.2, 1.2, x.shape)
    log_scale = np.log(0.05)
    scale, h = np.exp(log_scale), 0.5 / 255
    upper = np.where(levels == 255, 1.0, logistic.cdf(x + h, loc=mean, scale=scale))
    lower = np.where(levels == 0, 0.0, logistic.cdf(x - h, loc=mean, scale=scale))
    expected = np.log(upper - lower).reshape(4, -1).sum(axis=1)
    got = log_discretized_logistic(jnp.asarray(x, jnp.float32), jnp.asarray(mean), log_scale)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    # A probability over the 256 levels: the masses of one pixel sum to one.
    every_level = jnp.arange(256.0)[:, None] / 255.0
    total = jnp.sum(jnp.exp(log_discretized_logistic(every_level, jnp.full((256, 1), 0.3), -3.0)))
    assert float(total) == pytest.approx(1.0, abs=1e-4)


def test_colour_data_default_to_the_discretized_logistic():
    from jaxgen.families.vae.config import vae_objective_config
    from jaxgen.families.vae.losses import resolve_objective

    grey, colour = (
        resolve_objective(vae_objective_config(), 1),
        resolve_objective(vae_objective_config(), 3),
    )
    assert (grey.likelihood, grey.binarize) == ("bernoulli", "dynamic")
    assert (colour.likelihood, colour.binarize) == ("discretized_logistic", "none")
    with pytest.raises(ValueError, match="colour images"):
        resolve_objective(vae_objective_config(likelihood="bernoulli"), 3)
