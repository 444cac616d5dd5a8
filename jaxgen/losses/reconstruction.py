"""Reconstruction losses, each the mean over pixels and examples (units: per pixel)."""

import jax
import jax.numpy as jnp
import optax


def mse(recon: jax.Array, target: jax.Array) -> jax.Array:
    """Mean squared error per pixel."""
    return jnp.mean(jnp.square(recon - target))


def l1(recon: jax.Array, target: jax.Array) -> jax.Array:
    """Mean absolute error per pixel."""
    return jnp.mean(jnp.abs(recon - target))


def bce_with_logits(logits: jax.Array, target: jax.Array) -> jax.Array:
    """Binary cross-entropy per pixel in nats, from logits; targets may be grey levels in [0, 1]."""
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, target))


def per_example_mse(recon: jax.Array, target: jax.Array) -> jax.Array:
    """Mean squared error per pixel of each example: shape (B,)."""
    return jnp.mean(jnp.square(recon - target).reshape(recon.shape[0], -1), axis=1)
