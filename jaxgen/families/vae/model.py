"""Variational autoencoders, dense or convolutional, optionally conditioned on a class label.

A VAE reuses an autoencoder (jaxgen.families.autoencoder.model) as its network: the encoder's
code has 2 * latent_size units, read as the mean and the log-variance of q(z | x); the decoder
maps z to the parameters of p(x | z) (Bernoulli logits or Gaussian means). The conditional VAE shows
the label to both: as one-hot channels appended to the image for the encoder, and appended to z
for the decoder.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.families.autoencoder.model import build_autoencoder
from jaxgen.families.vae.losses import LEARNED_SCALE, resolve_objective


class VAE(nn.Module):
    """q(z | x[, y]) = N(mean, diag(exp(logvar))), p(z) = N(0, I), p(x | z[, y]) by `likelihood`.

    `likelihood`: "bernoulli" (decode returns logits), "gaussian_fixed" (means, scale
    `gaussian_scale`), "gaussian_learned" or "discretized_logistic" (means and one learned
    log-scale shared by all pixels). `num_classes` > 0 makes it a conditional VAE.
    """

    network: nn.Module  # an autoencoder whose code has 2 * latent_size units
    latent_size: int
    likelihood: str = "bernoulli"
    gaussian_scale: float = 0.1
    num_classes: int = 0

    def setup(self):
        if self.likelihood in LEARNED_SCALE:
            self.log_scale = self.param("log_scale", nn.initializers.zeros, ())

    def _one_hot(self, label_B: jax.Array | None) -> jax.Array:
        if label_B is None:
            raise ValueError("a conditional VAE needs the labels")
        return jax.nn.one_hot(label_B, self.num_classes)

    def encode(self, x_BxHxWxC: jax.Array, label_B: jax.Array | None = None):
        """(mean, logvar) of q(z | x), each (B, latent_size)."""
        if self.num_classes:
            b, h, w, _ = x_BxHxWxC.shape
            y = jnp.broadcast_to(
                self._one_hot(label_B)[:, None, None, :], (b, h, w, self.num_classes)
            )
            x_BxHxWxC = jnp.concatenate([x_BxHxWxC, y], axis=-1)
        code, _ = self.network.encode(x_BxHxWxC)
        mean, logvar = jnp.split(code, 2, axis=-1)
        return mean, logvar

    def decode(self, z_BxZ: jax.Array, label_B: jax.Array | None = None):
        """(parameters of p(x | z): logits or means (B, H, W, C), log-scale (scalar))."""
        if self.num_classes:
            z_BxZ = jnp.concatenate([z_BxZ, self._one_hot(label_B)], axis=-1)
        out = self.network.decode(z_BxZ)
        if self.likelihood in LEARNED_SCALE:
            return out, self.log_scale
        return out, jnp.log(jnp.asarray(self.gaussian_scale, out.dtype))

    def mean_image(self, z_BxZ: jax.Array, label_B: jax.Array | None = None) -> jax.Array:
        """E[x | z] in pixel space: sigmoid(logits) for Bernoulli, the means for Gaussians."""
        out, _ = self.decode(z_BxZ, label_B)
        return nn.sigmoid(out) if self.likelihood == "bernoulli" else out

    def __call__(self, x_BxHxWxC: jax.Array, label_B: jax.Array | None = None):
        """Initialises every parameter: encodes, decodes the mean code."""
        mean, _ = self.encode(x_BxHxWxC, label_B)
        return self.decode(mean, label_B)


def build_vae(model: ml_collections.ConfigDict, objective, image_shape, num_classes: int = 0):
    """The VAE a `config.model` block (an autoencoder block plus `latent_size`, `conditional`)
    and a `config.objective` block (`likelihood`, `gaussian_scale`) describe."""
    network_block = ml_collections.ConfigDict(model.to_dict())
    network_block.code_size = 2 * model.latent_size
    network_block.code_activation = "linear"
    if model.conditional and not num_classes:
        raise ValueError("model.conditional needs a data set with labels")
    objective = resolve_objective(objective, image_shape[-1])
    return VAE(
        network=build_autoencoder(network_block, image_shape),
        latent_size=model.latent_size,
        likelihood=objective.likelihood,
        gaussian_scale=objective.gaussian_scale,
        num_classes=num_classes if model.conditional else 0,
    )
