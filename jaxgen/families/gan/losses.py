"""The GAN objectives, written on the discriminator's logits (critic values for WGAN-GP).

With D(x) = sigmoid(l(x)), log D = -softplus(-l) and log(1 - D) = -softplus(l), so every loss is
a softplus or a linear function of the logits, stable for any logit.

  kind            discriminator minimises                       generator minimises
  minimax         -log D(x) - log(1 - D(G(z)))                   log(1 - D(G(z)))  (saturates)
  non_saturating  the same                                       -log D(G(z))
  wasserstein_gp  l(G(z)) - l(x) + weight * (||grad l(x_hat)|| - 1)^2       -l(G(z))
  hinge           relu(1 - l(x)) + relu(1 + l(G(z)))             -l(G(z))

each averaged over the batch. x_hat is a uniform random point on the segment between a real and a
generated example (Gulrajani et al. 2017).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

LOSSES = ("minimax", "non_saturating", "wasserstein_gp", "hinge")


def check_loss(kind: str) -> None:
    if kind not in LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}; choose one of {LOSSES}")


def discriminator_loss(kind: str, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """The discriminator's loss without the gradient penalty (see `gradient_penalty`)."""
    check_loss(kind)
    if kind in ("minimax", "non_saturating"):
        return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
    if kind == "wasserstein_gp":
        return jnp.mean(fake_logits) - jnp.mean(real_logits)
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def generator_loss(kind: str, fake_logits: jax.Array) -> jax.Array:
    """The generator's loss on the logits of its samples."""
    check_loss(kind)
    if kind == "minimax":
        return -jnp.mean(jax.nn.softplus(fake_logits))  # mean log(1 - D(G(z)))
    if kind == "non_saturating":
        return jnp.mean(jax.nn.softplus(-fake_logits))  # mean -log D(G(z))
    return -jnp.mean(fake_logits)


def gradient_penalty(
    critic: Callable[[jax.Array], jax.Array], real: jax.Array, fake: jax.Array, key: jax.Array
) -> jax.Array:
    """mean over examples of (||d critic / d x at x_hat|| - 1)^2, x_hat = real + u (fake - real)
    with u ~ U(0, 1) per example. `critic` maps a batch to one logit per example; since each
    logit depends only on its own example, the gradient of their sum gives every example's."""
    u = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1))
    x_hat = real + u * (fake - real)
    grads = jax.grad(lambda x: jnp.sum(critic(x)))(x_hat)
    norms = jnp.sqrt(jnp.sum(jnp.square(grads.reshape(grads.shape[0], -1)), axis=-1) + 1e-12)
    return jnp.mean(jnp.square(norms - 1.0))
