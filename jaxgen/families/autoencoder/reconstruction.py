"""Reconstruction losses, each the mean over pixels and examples (units: per pixel).

Every loss flattens its operands first: XLA:CPU vectorises along the last axis, which is the
size-1 channel axis of a (B, H, W, 1) image, and ran these reductions 16-25 times slower there
than on (B*H*W,) (benchmarks/replicas.py).
"""

import jax
import jax.numpy as jnp
import optax


def mse(recon: jax.Array, target: jax.Array) -> jax.Array:
    """Mean squared error per pixel."""
    return jnp.mean(jnp.square(recon.ravel() - target.ravel()))


def l1(recon: jax.Array, target: jax.Array) -> jax.Array:
    """Mean absolute error per pixel."""
    return jnp.mean(jnp.abs(recon.ravel() - target.ravel()))


def bce_with_logits(logits: jax.Array, target: jax.Array) -> jax.Array:
    """Binary cross-entropy per pixel in nats, from logits; targets may be grey levels in [0, 1]."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits.ravel(), target.ravel()))


def per_example_mse(recon: jax.Array, target: jax.Array) -> jax.Array:
    """Mean squared error per pixel of each example: shape (B,)."""
    b = recon.shape[0]
    return jnp.mean(jnp.square(recon.reshape(b, -1) - target.reshape(b, -1)), axis=1)
