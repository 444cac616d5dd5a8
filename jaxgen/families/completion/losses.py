"""Objectives and conditional likelihoods of the image-completion baselines
(jaxgen/families/completion/model.py): the NN's masked binary cross-entropy and the CVAE's negative
ELBO, importance-sampled and prior-sampled estimates of log p(y_missing | x).

Only the missing pixels count (True in `missing_D`, (D,) or (N, D)): the given pixels of the
target y are never read, so y may be the whole image or Pyro's "output" with -1 there. The
likelihood is Bernoulli on the missing pixels, written with logits; a target may be binary or
grey. jaxgen evaluates likelihoods on binarized targets (the caller binarizes with a fixed key):
the Bernoulli "log-likelihood" of grey values that the Pyro tutorial reports is a cross-entropy,
not the log-probability of anything. All values are in nats, summed over the missing pixels (and
the latent units) of one example.

Every function takes the model input x (missing pixels at -1), the target y and the frozen
baseline's guess y_hat = baseline_guess(...) that the prior network sees.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxgen.families.vae.losses import log_normal_diag, reparametrize
from jaxgen.metrics.likelihood import importance_sampled_log_likelihood


def masked_bce(logits_NxD: jax.Array, y_NxD: jax.Array, missing_D: jax.Array) -> jax.Array:
    """-log Bernoulli(y; sigmoid(logits)) summed over the missing pixels, (N,) in nats.

    The NN baseline's loss and its conditional NLL (Pyro's MaskedBCELoss, which skips the
    pixels where the target is -1), and -log p(y | x, z) of the CVAE. The given pixels of y are
    replaced by 0 before the cross-entropy, so whatever they hold (-1, NaN) changes neither the
    value nor the gradient.
    """
    y_NxD = jnp.where(missing_D, y_NxD, 0.0)
    bce_NxD = optax.sigmoid_binary_cross_entropy(logits_NxD, y_NxD)
    return jnp.sum(jnp.where(missing_D, bce_NxD, 0.0), axis=-1)


def diagonal_gaussian_kl(
    mean_q_NxZ: jax.Array, logvar_q_NxZ: jax.Array, mean_p_NxZ: jax.Array, logvar_p_NxZ: jax.Array
) -> jax.Array:
    """KL(N(mean_q, diag(exp(logvar_q))) || N(mean_p, diag(exp(logvar_p)))) per example, (N,)
    in nats: the closed form 1/2 sum [logvar_p - logvar_q + (var_q + (mean_q - mean_p)^2) / var_p
    - 1]. (jaxgen.families.vae.losses.gaussian_kl is the case p = N(0, I).)"""
    ratio = jnp.exp(logvar_q_NxZ - logvar_p_NxZ)
    sq = jnp.square(mean_q_NxZ - mean_p_NxZ) * jnp.exp(-logvar_p_NxZ)
    return 0.5 * jnp.sum(ratio + sq - 1.0 - (logvar_q_NxZ - logvar_p_NxZ), axis=-1)


def cvae_loss(model, params, x_NxD, y_NxD, y_hat_NxD, missing_D, key):
    """The negative ELBO of log p(y_missing | x), batch mean, in nats, and its two terms:

        E_q[-log p(y | x, z)] + KL(q(z | x, y) || p(z | x)),

    the expectation from one reparametrized z ~ q(z | x, y) drawn with `key`, the KL in closed
    form (Pyro's Trace_ELBO estimates the KL from the same draw instead: the same expectation,
    noisier). Returns (loss, {"nll_term", "kl"}), each a batch mean.
    """
    mean_q, logvar_q = model.apply(params, x_NxD, y_NxD, method="recognize")
    mean_p, logvar_p = model.apply(params, x_NxD, y_hat_NxD, method="prior")
    z_NxZ = reparametrize(key, mean_q, logvar_q)
    logits_NxD = model.apply(params, z_NxZ, x_NxD, method="generate")
    nll_N = masked_bce(logits_NxD, y_NxD, missing_D)
    kl_N = diagonal_gaussian_kl(mean_q, logvar_q, mean_p, logvar_p)
    nll_term, kl = jnp.mean(nll_N), jnp.mean(kl_N)
    return nll_term + kl, {"nll_term": nll_term, "kl": kl}


def conditional_log_likelihood(
    model,
    params,
    x_NxD,
    y_NxD,
    y_hat_NxD,
    missing_D,
    key,
    num_samples: int,
    chunk_size: int = 100,
):
    """Importance-sampled log p(y_missing | x) per example, with q(z | x, y) as the proposal:

        log p(y | x) ~= logsumexp_k [log p(y | x, z_k) + log p(z_k | x) - log q(z_k | x, y)]
                        - log K,    z_k ~ q(z | x, y), k = 1 .. K = num_samples,

    a lower bound in expectation that rises with K to log p(y | x) (Burda et al. 2016; Sohn et
    al. 2015's importance-sampling CLL estimate). Returns (log p estimate, ELBO estimate), each
    (N,) in nats, from the same draws (jaxgen.metrics.likelihood); the second, the mean of the
    log-weights, is what the Pyro tutorial's table reports as "CVAE (Monte Carlo)" (negated, on
    grey targets): its util.generate_table takes Trace_ELBO(num_particles=10).differentiable_loss
    of the model and the guide, i.e. the 10-particle negative ELBO with z ~ q(z | x, y).
    """
    mean_q, logvar_q = model.apply(params, x_NxD, y_NxD, method="recognize")
    mean_p, logvar_p = model.apply(params, x_NxD, y_hat_NxD, method="prior")

    def log_weight(k):
        z_NxZ = reparametrize(k, mean_q, logvar_q)
        logits_NxD = model.apply(params, z_NxZ, x_NxD, method="generate")
        log_py_N = -masked_bce(logits_NxD, y_NxD, missing_D)
        return (
            log_py_N
            + log_normal_diag(z_NxZ, mean_p, logvar_p)
            - log_normal_diag(z_NxZ, mean_q, logvar_q)
        )

    return importance_sampled_log_likelihood(log_weight, key, num_samples, chunk_size)


def prior_sampled_log_likelihood(
    model,
    params,
    x_NxD,
    y_NxD,
    y_hat_NxD,
    missing_D,
    key,
    num_samples: int,
    chunk_size: int = 100,
):
    """The Monte Carlo estimate of log p(y_missing | x) of Sohn et al. (2015) with the prior as
    the proposal, per example, (N,) in nats:

        log p(y | x) ~= log (1/K) sum_k p(y | x, z_k),    z_k ~ p(z | x), K = num_samples.

    Also a lower bound in expectation that rises with K to log p(y | x), but far looser than
    `conditional_log_likelihood` for the same K when p(z | x) is much wider than the posterior.
    (This is not the estimator behind the Pyro tutorial's "CVAE (Monte Carlo)" row, which is a
    negative ELBO; see `conditional_log_likelihood`.)
    """
    mean_p, logvar_p = model.apply(params, x_NxD, y_hat_NxD, method="prior")

    def log_likelihood(k):
        z_NxZ = reparametrize(k, mean_p, logvar_p)
        logits_NxD = model.apply(params, z_NxZ, x_NxD, method="generate")
        return -masked_bce(logits_NxD, y_NxD, missing_D)

    log_py_N, _ = importance_sampled_log_likelihood(log_likelihood, key, num_samples, chunk_size)
    return log_py_N
