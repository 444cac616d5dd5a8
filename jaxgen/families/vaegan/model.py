"""The three VAE-GAN networks (Larsen et al. 2016), sized to any image shape.

  encoder        x -> (mean, logvar) of q(z | x): 5x5 stride-2 convolutions with leaky ReLU
                 (the DCGAN discriminator's stack), then a dense layer to 2 * latent_size
  decoder        z -> x~ in [-1, 1]: the DCGAN generator (families/gan/model.py; batch norm, tanh),
  which
                 is also the GAN's generator G(z_p) of prior draws z_p ~ N(0, I)
  discriminator  x -> (logit, features): the DCGAN discriminator's conv stack, returning also
                 the flattened activations of its layer `feature_layer` (Dis_l, whose Gaussian
                 likelihood is the VAE's reconstruction term, families/vaegan/losses.py)

Every conv stack has one stride-2 stage per halving the image allows (nn/common.py), the
recipe's widths fitted to that depth, so one config serves 8x8 digits and 28x28 MNIST alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import ml_collections

from jaxgen import nn as jnn
from jaxgen.families.gan.model import LEAK, DCGANGenerator
from jaxgen.nn.common import fit_channels, stride2_stages


class VAEGANEncoder(nn.Module):
    """q(z | x) = N(mean, diag(exp(logvar))), both (B, latent_size)."""

    latent_size: int
    channels: Sequence[int] = (64, 128)

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = x_BxHxWxC
        for ch in self.channels:
            h = nn.leaky_relu(jnn.Conv(ch, (5, 5), (2, 2), padding="SAME")(h), LEAK)
        code = nn.Dense(2 * self.latent_size)(h.reshape(h.shape[0], -1))
        return code[:, : self.latent_size], code[:, self.latent_size :]


class VAEGANDiscriminator(nn.Module):
    """5x5 stride-2 convolutions to `channels` with leaky ReLU, then a dense logit; returns
    (logit (B,), the flattened output (B, F) of conv layer `feature_layer`, negative indices
    counting from the last), the layer l whose features the reconstruction is compared in."""

    channels: Sequence[int] = (64, 128)
    feature_layer: int = -1

    @nn.compact
    def __call__(self, x_BxHxWxC: jax.Array) -> tuple[jax.Array, jax.Array]:
        layer = self.feature_layer % len(self.channels)
        h, features = x_BxHxWxC, None
        for i, ch in enumerate(self.channels):
            h = nn.leaky_relu(jnn.Conv(ch, (5, 5), (2, 2), padding="SAME")(h), LEAK)
            if i == layer:
                features = h.reshape(h.shape[0], -1)
        logit = nn.Dense(1)(h.reshape(h.shape[0], -1))[..., 0]
        return logit, features


def build_vaegan(model: ml_collections.ConfigDict, image_shape: tuple[int, int, int]):
    """(encoder, decoder, discriminator) of a `config.model` block (families/vaegan/config.py) for
    images of `image_shape` (H, W, C)."""
    if len(image_shape) != 3:
        raise ValueError(f"the VAE-GAN needs images, got data of shape {image_shape}")
    stages = stride2_stages(*image_shape[:2])
    disc_channels = fit_channels(model.discriminator_channels, stages, widest="last")
    if not -len(disc_channels) <= model.feature_layer < len(disc_channels):
        raise ValueError(
            f"model.feature_layer {model.feature_layer} outside the discriminator's "
            f"{len(disc_channels)} conv layers"
        )
    encoder = VAEGANEncoder(
        model.latent_size, fit_channels(model.encoder_channels, stages, widest="last")
    )
    decoder = DCGANGenerator(
        tuple(image_shape),
        fit_channels(model.decoder_channels, stages + 1, widest="first"),
        transposed_conv=model.get("transposed_conv", "jaxgen"),
    )
    discriminator = VAEGANDiscriminator(disc_channels, model.feature_layer)
    return encoder, decoder, discriminator
