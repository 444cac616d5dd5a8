"""The BiGAN / ALI objectives, on the joint discriminator's logits.

With D = sigmoid(l) and BCE(l, y) = -y log D - (1 - y) log(1 - D) = softplus(l) - y l:

  discriminator minimises   BCE(l(x, E(x)), 1) + BCE(l(G(z), z), 0)
                          = softplus(-l_real) + softplus(l_fake)
  encoder and generator     BCE(l(x, E(x)), 0) + BCE(l(G(z), z), 1)
  minimise (labels swapped) = softplus(l_real) + softplus(-l_fake)

the latter the non-saturating form that BiGAN trains E and G with; each term averaged over the
batch. `l_real` are the logits on encoder pairs (x, E(x)), `l_fake` on generator pairs (G(z), z).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def bce_with_logits(logits: jax.Array, label: float) -> jax.Array:
    """Mean binary cross-entropy of sigmoid(logits) against a constant label, stable for any
    logit: softplus(l) - label * l."""
    return jnp.mean(jax.nn.softplus(logits) - label * logits)


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """BCE(D(x, E(x)), 1) + BCE(D(G(z), z), 0)."""
    return bce_with_logits(real_logits, 1.0) + bce_with_logits(fake_logits, 0.0)


def encoder_generator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """BCE(D(x, E(x)), 0) + BCE(D(G(z), z), 1): the discriminator's labels swapped."""
    return bce_with_logits(real_logits, 0.0) + bce_with_logits(fake_logits, 1.0)
