"""An RBM's partition function Z and likelihoods: exact by enumeration when one layer is small,
annealed importance sampling (AIS; Neal 2001, Salakhutdinov & Murray 2008) otherwise, reverse
AIS (RAISE; Burda, Grosse & Salakhutdinov 2015) for a conservative estimate of log p(v), and
scikit-learn's pseudo-log-likelihood.

AIS and RAISE anneal in the visible space, the hidden units summed out, between the base-rate
model p_0(v) = prod_i Bernoulli(v_i; sigmoid(a_i)) (a: the base-rate visible biases, fitted to
the training data) and the RBM, through the unnormalised marginals

    f_k(v) = exp((1 - beta_k) v.a + beta_k v.b) prod_j (1 + exp(beta_k (c_j + (v W)_j)))

(the RBM's energy times beta_k plus the base's times 1 - beta_k, as Salakhutdinov & Murray do),
f_0 = 2^H p_0 and f_K = exp(-F) at beta_K = 1. The transition at level k is one round of block
Gibbs sampling v -> h -> v under f_k, which leaves f_k invariant and is reversible in v.

AIS: v_0 ~ p_0, then log w += log f_k(v_{k-1}) - log f_{k-1}(v_{k-1}), v_k ~ T_k(v_{k-1}) for
k = 1..K; Z_K is estimated by Z_0 mean(w), unbiased in Z, so log Z is underestimated on average
and log p(v) = -F(v) - log Z overestimated: an optimistic likelihood.

RAISE: from a test image v_K = v, v_{k-1} ~ T_k(v_k) for k = K..1, and
w = p_0(v_0) prod_k f_k(v_k) / f_k(v_{k-1}), an unbiased estimate of the annealing model's
probability of v; its log is a stochastic lower bound on that, and in practice a conservative
estimate of the RBM's log p(v). Together the two bracket the test likelihood.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

from jaxgen.errors import UserError
from jaxgen.families.rbm import model

PyTree = dict

EXACT_MAX_UNITS = 20  # 2^20 states of the smaller layer: exact log Z in seconds on a CPU
ENUMERATION_CHUNK = 1 << 14  # states per jitted block of the enumeration


SCHEDULE = ((0.0, 0.5, 1e-3), (0.5, 0.9, 1e-4), (0.9, 1.0, 1e-5))  # Salakhutdinov & Murray
SCHEDULE_LENGTH = 14501  # 500 + 4,000 + 10,000 steps, and beta = 1


def annealing_schedule(num_temperatures: int = SCHEDULE_LENGTH) -> np.ndarray:
    """Salakhutdinov & Murray's inverse temperatures: 0 to 0.5 in steps of 1e-3, to 0.9 in 1e-4,
    to 1 in 1e-5 (14,501 in all). Fewer temperatures shorten each stretch in proportion (for
    tests and smoke runs); the length may differ from the one asked by rounding."""
    if num_temperatures < 2:
        raise ValueError("an annealing schedule needs at least 2 temperatures (0 and 1)")
    scale = (num_temperatures - 1) / (SCHEDULE_LENGTH - 1)
    parts = []
    for start, stop, step in SCHEDULE:
        count = max(1, int(round((stop - start) / step * scale)))
        parts.append(np.linspace(start, stop, count, endpoint=False))
    return np.concatenate([*parts, [1.0]])


# ---- exact -------------------------------------------------------------------------------------


def _bits(indices: jax.Array, width: int) -> jax.Array:
    """The binary states numbered `indices`, one row of `width` bits each."""
    return ((indices[:, None] >> jnp.arange(width)) & 1).astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=("width", "over_hidden"))
def _log_terms(params, start, width: int, over_hidden: bool):
    states = _bits(start + jnp.arange(ENUMERATION_CHUNK, dtype=jnp.int32), width)
    valid = start + jnp.arange(ENUMERATION_CHUNK) < (1 << width)
    if over_hidden:  # log sum_v exp(-E(v, h)) = h.c + sum_i softplus(b_i + (W h)_i)
        terms = states @ params["hidden_bias"] + jnp.sum(
            jax.nn.softplus(model.visible_logits(params, states)), axis=-1
        )
    else:
        terms = -model.free_energy(params, states)
    return jax.nn.logsumexp(jnp.where(valid, terms, -jnp.inf))


def log_z_exact(params: PyTree) -> float:
    """log Z by summing over every state of the smaller layer (at most `EXACT_MAX_UNITS` units)
    with the other layer summed out analytically; the blocks' sums are combined in float64."""
    num_visible, num_hidden = params["weights"].shape
    width = min(num_visible, num_hidden)
    if width > EXACT_MAX_UNITS:
        raise ValueError(f"exact log Z needs a layer of at most {EXACT_MAX_UNITS} units")
    over_hidden = num_hidden <= num_visible
    blocks = [
        float(_log_terms(params, jnp.int32(start), width, over_hidden))
        for start in range(0, 1 << width, ENUMERATION_CHUNK)
    ]
    return float(logsumexp(np.asarray(blocks, np.float64)))


# ---- AIS and RAISE -----------------------------------------------------------------------------


def log_f(params: PyTree, base_bias: jax.Array, beta, v: jax.Array, x=None) -> jax.Array:
    """log f_beta(v) of each row: the annealed unnormalised marginal (module docstring); `x`,
    when given, is `hidden_logits(params, v)`, already computed."""
    x = model.hidden_logits(params, v) if x is None else x
    visible = v @ ((1.0 - beta) * base_bias + beta * params["visible_bias"])
    return visible + jnp.sum(jax.nn.softplus(beta * x), axis=-1)


def transition(params: PyTree, base_bias: jax.Array, beta, x: jax.Array, key: jax.Array):
    """One round of block Gibbs sampling v -> h -> v under f_beta, from the visible state whose
    hidden logits are `x`; returns the new state and its hidden logits."""
    key_h, key_v = jax.random.split(key)
    h = jax.random.bernoulli(key_h, jax.nn.sigmoid(beta * x)).astype(x.dtype)
    logits = (1.0 - beta) * base_bias + beta * model.visible_logits(params, h)
    v = jax.random.bernoulli(key_v, jax.nn.sigmoid(logits)).astype(x.dtype)
    return v, model.hidden_logits(params, v)


def log_base(base_bias: jax.Array, v: jax.Array) -> jax.Array:
    """log p_0(v) under the base-rate model."""
    return v @ base_bias - jnp.sum(jax.nn.softplus(base_bias))


def base_log_z(base_bias, num_hidden: int) -> float:
    """log Z_0 = log sum_v f_0(v) = H log 2 + sum_i log(1 + exp(a_i))."""
    return num_hidden * math.log(2.0) + float(np.sum(np.logaddexp(0.0, np.asarray(base_bias))))


def _anneal_one(params, base_bias, schedule, v, key):
    """The sweep both AIS and RAISE are: for each (beta_t, beta_from, beta_to) of `schedule`,
    v <- T_{beta_t}(v), then log w += log f_{beta_to}(v) - log f_{beta_from}(v); from `v`."""

    def step(carry, inputs):
        v, x, log_w = carry
        (beta_t, beta_from, beta_to), key = inputs
        v, x = transition(params, base_bias, beta_t, x, key)
        log_w += log_f(params, base_bias, beta_to, v, x) - log_f(params, base_bias, beta_from, v, x)
        return (v, x, log_w), None

    keys = jax.random.split(key, schedule[0].shape[0])
    start = (v, model.hidden_logits(params, v), jnp.zeros(()))
    (_, _, log_w), _ = jax.lax.scan(step, start, (schedule, keys))
    return log_w


# Chains in blocks of a fixed size (the last one padded), so that AIS and RAISE of one model
# and schedule length compile once, whatever the number of chains.
CHAIN_BLOCK = 100
_anneal_block = jax.jit(jax.vmap(_anneal_one, in_axes=(None, None, None, 0, 0)))


def anneal(params: PyTree, base_bias, schedule, v_NxV: np.ndarray, key: jax.Array) -> np.ndarray:
    """log w of one sweep along `schedule` from each row of `v_NxV`, chains under `vmap`."""
    schedule = tuple(jnp.asarray(b, jnp.float32) for b in schedule)
    base_bias = jnp.asarray(base_bias, jnp.float32)
    n = len(v_NxV)
    keys = jax.random.split(key, n)
    blocks = []
    for start in range(0, n, CHAIN_BLOCK):
        rows = np.arange(start, start + CHAIN_BLOCK) % n  # the last block wraps around
        block = _anneal_block(params, base_bias, schedule, jnp.asarray(v_NxV[rows]), keys[rows])
        blocks.append(np.asarray(block, np.float64)[: min(CHAIN_BLOCK, n - start)])
    log_w = np.concatenate(blocks)
    if not np.all(np.isfinite(log_w)):
        raise UserError(
            "annealed importance sampling produced a non-finite weight: the RBM's parameters "
            "are not finite or far too large; no estimate"
        )
    return log_w


@dataclasses.dataclass(frozen=True)
class AISEstimate:
    """log Z by AIS, with Salakhutdinov & Murray's interval log(Z_hat -/+ 3 sigma), sigma the
    standard error of the mean importance weight (`log_z_low` is -inf when 3 sigma > Z_hat)."""

    log_z: float
    log_z_low: float
    log_z_high: float
    log_weights: np.ndarray
    num_temperatures: int


def ais(
    params: PyTree, base_bias, betas: np.ndarray, num_chains: int, key: jax.Array
) -> AISEstimate:
    """log Z of the RBM by AIS with `num_chains` chains. The first transition, at beta_0 = 0,
    is an exact draw from the base-rate model, wherever the chain starts; then, for k = 1..K,
    log w += log f_k(v) - log f_{k-1}(v) and v <- T_k(v) (the last transition is not needed)."""
    betas = np.asarray(betas, np.float32)
    schedule = (betas[:-1], betas[:-1], betas[1:])
    v = np.zeros((num_chains, params["weights"].shape[0]), np.float32)
    log_w = anneal(params, base_bias, schedule, v, key)
    log_z0 = base_log_z(base_bias, params["weights"].shape[1])
    log_mean = float(logsumexp(log_w) - math.log(num_chains))
    shift = float(np.max(log_w))
    # The sample standard deviation (MATLAB's std, as in Salakhutdinov & Murray's code).
    std_error = np.std(np.exp(log_w - shift), ddof=1) / math.sqrt(num_chains)
    mean = math.exp(log_mean - shift)
    high = math.log(mean + 3 * std_error) + shift
    low = math.log(mean - 3 * std_error) + shift if mean > 3 * std_error else -math.inf
    return AISEstimate(
        log_z=log_z0 + log_mean,
        log_z_low=log_z0 + low,
        log_z_high=log_z0 + high,
        log_weights=log_w,
        num_temperatures=len(betas),
    )


def raise_log_likelihood(
    params: PyTree, base_bias, betas: np.ndarray, v_NxV: np.ndarray, num_chains: int, key
) -> np.ndarray:
    """RAISE's estimate of log p(v) for each row of `v_NxV`, from `num_chains` reverse chains
    each (log of their mean weight). With f_0 = Z_0 p_0, the module docstring's weight
    telescopes to log f_K(v) + sum_k [log f_{k-1}(v_{k-1}) - log f_k(v_{k-1})] - log Z_0, with
    v_{k-1} = T_k(v_k) for k = K..1: the same sweep as AIS on the reversed schedule."""
    betas = np.asarray(betas, np.float32)
    down = betas[::-1]  # 1 = beta_K, ..., beta_0 = 0
    schedule = (down[:-1], down[:-1], down[1:])
    starts = np.repeat(np.asarray(v_NxV, np.float32), num_chains, axis=0)
    log_w = anneal(params, base_bias, schedule, starts, key).reshape(len(v_NxV), num_chains)
    start = np.asarray(log_f(params, jnp.asarray(base_bias), 1.0, jnp.asarray(v_NxV)), np.float64)
    log_z0 = base_log_z(base_bias, params["weights"].shape[1])
    return start - log_z0 + logsumexp(log_w, axis=1) - math.log(num_chains)


# ---- pseudo-likelihood -------------------------------------------------------------------------


def pseudo_log_likelihood(params: PyTree, v_NxV: jax.Array, flip_N: jax.Array) -> jax.Array:
    """scikit-learn's `BernoulliRBM.score_samples`: V log sigmoid(F(v~) - F(v)) per row, v~ the
    row with bit `flip_N[n]` flipped (a one-sample stochastic proxy of the pseudo-likelihood,
    sum_i log p(v_i | v_-i))."""
    v_NxV = jnp.asarray(v_NxV)
    rows = jnp.arange(v_NxV.shape[0])
    flipped = v_NxV.at[rows, flip_N].set(1.0 - v_NxV[rows, flip_N])
    gap = model.free_energy(params, flipped) - model.free_energy(params, v_NxV)
    return v_NxV.shape[1] * jax.nn.log_sigmoid(gap)
