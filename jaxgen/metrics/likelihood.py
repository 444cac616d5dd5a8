"""Importance-sampled log-likelihood estimates (Burda et al. 2016), in nats and bits per dim.

With K draws z_k ~ q(z | x) and weights w_k = p(x, z_k) / q(z_k | x),

    log p(x) ~= log (1/K) sum_k w_k,

a lower bound in expectation that rises with K to log p(x); the mean of log w_k is the ELBO.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp


def importance_sampled_log_likelihood(
    log_weight_fn: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    num_samples: int,
    chunk_size: int = 100,
) -> tuple[jax.Array, jax.Array]:
    """Returns (log p(x) estimate, ELBO estimate), each (B,) in nats, from `num_samples` draws.

    `log_weight_fn(key) -> (B,)` draws one z per example with `key` and returns log w. The draws
    run `chunk_size` at a time under `vmap` (memory stays O(chunk_size * B)); the chunks are
    combined by a running log-sum-exp, so the result does not depend on the chunking beyond
    float rounding. Draw k always uses `fold_in(key, k)`.
    """
    chunk_size = min(chunk_size, num_samples)
    num_chunks = -(-num_samples // chunk_size)

    def chunk(c):
        ks = c * chunk_size + jnp.arange(chunk_size)
        log_w_CxB = jax.vmap(lambda k: log_weight_fn(jax.random.fold_in(key, k)))(ks)
        valid_C = (ks < num_samples)[:, None]  # the last chunk may run past num_samples
        lse_B = jax.nn.logsumexp(jnp.where(valid_C, log_w_CxB, -jnp.inf), axis=0)
        return lse_B, jnp.sum(jnp.where(valid_C, log_w_CxB, 0.0), axis=0)

    lse_NxB, sums_NxB = jax.lax.map(chunk, jnp.arange(num_chunks))
    log_px_B = jax.nn.logsumexp(lse_NxB, axis=0) - math.log(num_samples)
    elbo_B = jnp.sum(sums_NxB, axis=0) / num_samples
    return log_px_B, elbo_B


def bits_per_dim(nll_nats: float, num_dims: int) -> float:
    """A negative log-likelihood in nats per example as bits per dimension."""
    return float(nll_nats) / (num_dims * math.log(2.0))
