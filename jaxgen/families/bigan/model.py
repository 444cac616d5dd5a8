"""BiGAN / ALI players (Donahue et al. 2017; Dumoulin et al. 2017): an encoder E(x) -> z, the
DCGAN generator G(z) -> x of families/gan/model.py, and a discriminator D(x, z) on joint pairs.

  - `Encoder(x) -> (mean, log_std)`: the DCGAN discriminator's trunk (5x5 convolutions of
    stride 2 with leaky ReLU), flattened, to a dense code. Deterministic (BiGAN: z = mean,
    log_std is None) or, with `stochastic`, ALI's Gaussian encoder: z = mean + exp(log_std) * eps
    by reparametrization (`encode`); evaluation uses the mean.
  - `JointDiscriminator(x, z, train) -> one logit per example`: x through a conv trunk, z through
    a small MLP, the two concatenated, then an MLP to one logit; dropout (rate `dropout`, drawn
    from the "dropout" rng when `train`) after every hidden layer, as ALI's discriminator has.

Images are in [-1, 1]; only the generator has batch norm ("batch_stats").
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import nn as jnn
from jaxgen.families.gan.model import LEAK, DCGANGenerator, transposed_conv_layer
from jaxgen.nn.common import fit_channels, stride2_stages


def _conv_trunk(x, channels, dropout: float, train: bool):
    """5x5 stride-2 convolutions with leaky ReLU (and dropout), flattened."""
    for ch in channels:
        x = nn.leaky_relu(jnn.Conv(ch, (5, 5), (2, 2), padding="SAME")(x), LEAK)
        if dropout:
            x = nn.Dropout(dropout, deterministic=not train)(x)
    return x.reshape(x.shape[0], -1)


class Encoder(nn.Module):
    """x -> (mean, log_std) of the code; log_std is None unless `stochastic`."""

    latent_size: int
    channels: Sequence[int] = (64, 128)
    stochastic: bool = False

    @nn.compact
    def __call__(self, x):
        h = _conv_trunk(x, self.channels, 0.0, False)
        if not self.stochastic:
            return nn.Dense(self.latent_size)(h), None
        out = nn.Dense(2 * self.latent_size)(h)
        mean, log_std = jnp.split(out, 2, axis=-1)
        return mean, log_std


def encode(encoder: nn.Module, params, x, key: jax.Array | None) -> jax.Array:
    """E(x): the deterministic code, or a reparametrized draw of a stochastic encoder (its mean
    when `key` is None: evaluation)."""
    mean, log_std = encoder.apply({"params": params}, x)
    if log_std is None or key is None:
        return mean
    return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)


class JointDiscriminator(nn.Module):
    """D(x, z): conv features of x and MLP features of z, concatenated, to one logit."""

    channels: Sequence[int] = (64, 128)
    z_hidden: Sequence[int] = (256,)
    joint_hidden: Sequence[int] = (512,)
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, z, train: bool = False):
        hx = _conv_trunk(x, self.channels, self.dropout, train)
        hz = z
        for width in self.z_hidden:
            hz = nn.leaky_relu(nn.Dense(width)(hz), LEAK)
            if self.dropout:
                hz = nn.Dropout(self.dropout, deterministic=not train)(hz)
        h = jnp.concatenate([hx, hz], axis=-1)
        for width in self.joint_hidden:
            h = nn.leaky_relu(nn.Dense(width)(h), LEAK)
            if self.dropout:
                h = nn.Dropout(self.dropout, deterministic=not train)(h)
        return nn.Dense(1)(h)[..., 0]


def build_bigan(
    model: ml_collections.ConfigDict, image_shape: tuple[int, int, int]
) -> tuple[Encoder, DCGANGenerator, JointDiscriminator]:
    """The (encoder, generator, discriminator) a `config.model` block names; the conv stages
    follow the image size like the DCGAN's (the widths are written for 28x28)."""
    if len(image_shape) != 3:
        raise ValueError(f"BiGAN needs images, got data of shape {image_shape}")
    transposed_conv = model.get("transposed_conv", "jaxgen")
    transposed_conv_layer(transposed_conv)  # a bad name fails here, before any tracing
    stages = stride2_stages(*image_shape[:2])
    encoder = Encoder(
        model.latent_size,
        fit_channels(model.encoder_channels, stages, widest="last"),
        bool(model.stochastic_encoder),
    )
    generator = DCGANGenerator(
        tuple(image_shape),
        fit_channels(model.generator_channels, stages + 1, widest="first"),
        0,
        transposed_conv=transposed_conv,
    )
    discriminator = JointDiscriminator(
        fit_channels(model.discriminator_channels, stages, widest="last"),
        tuple(model.discriminator_z_hidden),
        tuple(model.discriminator_joint_hidden),
        float(model.discriminator_dropout),
    )
    return encoder, generator, discriminator
