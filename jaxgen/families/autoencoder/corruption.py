"""Input corruptions for denoising autoencoders, each with an explicit key."""

import jax
import jax.numpy as jnp

CORRUPTIONS = ("none", "gaussian", "masking", "salt_pepper")


def gaussian(key: jax.Array, x: jax.Array, sigma: float) -> jax.Array:
    """x + sigma * N(0, 1), clipped to the pixel range [0, 1] the model sees at test time."""
    return jnp.clip(x + sigma * jax.random.normal(key, x.shape, x.dtype), 0.0, 1.0)


def masking(key: jax.Array, x: jax.Array, p: float) -> jax.Array:
    """Each value set to 0 with probability p."""
    return jnp.where(jax.random.bernoulli(key, p, x.shape), 0.0, x)


def salt_pepper(key: jax.Array, x: jax.Array, p: float) -> jax.Array:
    """Each value replaced with probability p by 0 or 1 (equally likely)."""
    hit_key, salt_key = jax.random.split(key)
    hit = jax.random.bernoulli(hit_key, p, x.shape)
    salt = jax.random.bernoulli(salt_key, 0.5, x.shape).astype(x.dtype)
    return jnp.where(hit, salt, x)


def corrupt(kind: str, key: jax.Array, x: jax.Array, level: float) -> jax.Array:
    """Applies the corruption named `kind` at `level` (sigma or probability)."""
    if kind == "none":
        return x
    if kind == "gaussian":
        return gaussian(key, x, level)
    if kind == "masking":
        return masking(key, x, level)
    if kind == "salt_pepper":
        return salt_pepper(key, x, level)
    raise ValueError(f"unknown corruption {kind!r}; choose one of {CORRUPTIONS}")
