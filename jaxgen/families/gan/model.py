"""GAN players: MLPs for 2-D data and the DCGAN pair for small images, optionally conditional.

Every generator is `G(z, label, train) -> x` and every discriminator `D(x, label, update_stats)
-> one logit per example`, with variables {"params", "batch_stats"}:
  - the generator's batch norm normalises with the batch's statistics when `train` and with
    its running averages otherwise (evaluation);
  - with `spectral_norm`, every discriminator layer's weight is divided by its largest singular
    value, estimated by one power iteration per call with `update_stats` (Miyato et al. 2018;
    flax's `nn.SpectralNorm` keeps the iteration's vector in "batch_stats").
A conditional player (num_classes > 0) receives the label as a one-hot vector: concatenated to z
and to a 2-D point, and as constant image planes concatenated to the discriminator's input image.

Generated images are in [-1, 1] (tanh); the task maps data to that range.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import nn as jnn
from jaxgen.nn.common import fit_channels, stride2_stages

LEAK = 0.2  # leaky ReLU slope of both DCGAN players (Radford et al. 2016)

# `model.transposed_conv`: the DCGAN generator's transposed convolution. Both take the same
# arguments and have the same parameters and output (SAME padding as `lax.conv_transpose`,
# kernel (kh, kw, in, out)); jaxgen's has a custom VJP whose kernel gradient is fast on XLA:CPU,
# flax's is autodiff's (benchmarks/dcgan_step.py times both).
TRANSPOSED_CONVS = {"jaxgen": jnn.ConvTranspose, "flax": nn.ConvTranspose}
# `model.kind`: the players build_players makes (MLPs for 2-D data, the DCGAN's for images).
KINDS = ("mlp", "dcgan")


def transposed_conv_layer(name: str) -> type[nn.Module]:
    """The transposed-convolution module that `model.transposed_conv` names."""
    if name not in TRANSPOSED_CONVS:
        raise ValueError(
            f"unknown transposed_conv {name!r}; choose one of {', '.join(TRANSPOSED_CONVS)}"
        )
    return TRANSPOSED_CONVS[name]


def _with_label(x: jax.Array, label: jax.Array | None, num_classes: int) -> jax.Array:
    """x with the label's one-hot code appended on the last axis (broadcast over images)."""
    if not num_classes:
        return x
    code = jax.nn.one_hot(label, num_classes, dtype=x.dtype)
    code = code.reshape(code.shape[:1] + (1,) * (x.ndim - 2) + code.shape[-1:])
    return jnp.concatenate([x, jnp.broadcast_to(code, x.shape[:-1] + (num_classes,))], axis=-1)


def _layer(layer: nn.Module, x: jax.Array, spectral_norm: bool, update_stats: bool) -> jax.Array:
    """`layer(x)`, with its weight spectrally normalised if asked."""
    if spectral_norm:
        return nn.SpectralNorm(layer)(x, update_stats=update_stats)
    return layer(x)


class MLPGenerator(nn.Module):
    hidden: Sequence[int]
    output_size: int
    num_classes: int = 0

    @nn.compact
    def __call__(self, z, label=None, train: bool = True):
        x = _with_label(z, label, self.num_classes)
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.output_size)(x)


class MLPDiscriminator(nn.Module):
    hidden: Sequence[int]
    num_classes: int = 0
    spectral_norm: bool = False

    @nn.compact
    def __call__(self, x, label=None, update_stats: bool = False):
        x = _with_label(x, label, self.num_classes)
        for width in self.hidden:
            x = nn.leaky_relu(_layer(nn.Dense(width), x, self.spectral_norm, update_stats), LEAK)
        return _layer(nn.Dense(1), x, self.spectral_norm, update_stats)[..., 0]


class DCGANGenerator(nn.Module):
    """Dense to (H/2^n, W/2^n, channels[0]) with n = len(channels) - 1, then 5x5 transposed
    convolutions to channels[1] (stride 1), channels[2:] and the image's channels (stride 2
    each), batch norm and leaky ReLU between, tanh out (the DCGAN of the TensorFlow tutorial:
    (256, 128, 64) on 28x28 starts at 7x7; `build_players` fits the channels to the image
    size). `transposed_conv` names the transposed convolution (see TRANSPOSED_CONVS): jaxgen's
    by default, whose gradient is fast on the CPU."""

    image_shape: tuple[int, int, int]
    channels: Sequence[int] = (256, 128, 64)
    num_classes: int = 0
    batch_norm_momentum: float = 0.9
    transposed_conv: str = "jaxgen"

    @nn.compact
    def __call__(self, z, label=None, train: bool = True):
        height, width, image_channels = self.image_shape
        conv_transpose = transposed_conv_layer(self.transposed_conv)
        scale = 2 ** (len(self.channels) - 1)
        if height % scale or width % scale:
            raise ValueError(
                f"the DCGAN generator with {len(self.channels) - 1} stride-2 stages needs sides "
                f"divisible by {scale}, got {height}x{width}"
            )

        def norm_act(x):
            x = nn.BatchNorm(use_running_average=not train, momentum=self.batch_norm_momentum)(x)
            return nn.leaky_relu(x, LEAK)

        first, *rest = self.channels
        x = _with_label(z, label, self.num_classes)
        x = norm_act(nn.Dense(height // scale * width // scale * first, use_bias=False)(x))
        x = x.reshape(x.shape[0], height // scale, width // scale, first)
        for i, ch in enumerate(rest):
            stride = 1 if i == 0 else 2
            x = norm_act(conv_transpose(ch, (5, 5), (stride, stride), use_bias=False)(x))
        x = conv_transpose(image_channels, (5, 5), (2, 2))(x)
        return jnp.tanh(x)


class DCGANDiscriminator(nn.Module):
    """5x5 convolutions of stride 2 to `channels` (64, 128 on 28x28) with leaky ReLU, then a
    dense logit."""

    channels: Sequence[int] = (64, 128)
    num_classes: int = 0
    spectral_norm: bool = False

    @nn.compact
    def __call__(self, x, label=None, update_stats: bool = False):
        x = _with_label(x, label, self.num_classes)
        for ch in self.channels:
            conv = jnn.Conv(ch, (5, 5), (2, 2), padding="SAME")
            x = nn.leaky_relu(_layer(conv, x, self.spectral_norm, update_stats), LEAK)
        x = x.reshape(x.shape[0], -1)
        return _layer(nn.Dense(1), x, self.spectral_norm, update_stats)[..., 0]


def build_players(
    model: ml_collections.ConfigDict, data_shape: tuple[int, ...], num_classes: int
) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) pair a `config.model` block names."""
    classes = num_classes if model.conditional else 0
    if model.kind == "mlp":
        generator = MLPGenerator(tuple(model.generator_hidden), data_shape[-1], classes)
        discriminator = MLPDiscriminator(
            tuple(model.discriminator_hidden), classes, model.spectral_norm
        )
    elif model.kind == "dcgan":
        if len(data_shape) != 3:
            raise ValueError(f"the DCGAN needs images, got data of shape {data_shape}")
        # A config saved before the key existed means today's default.
        transposed_conv = model.get("transposed_conv", "jaxgen")
        transposed_conv_layer(transposed_conv)  # a bad name fails here, before any tracing
        # Stride-2 stages follow the image size; the recipe's widths are for 28x28.
        stages = stride2_stages(*data_shape[:2])
        generator = DCGANGenerator(
            tuple(data_shape),
            fit_channels(model.generator_channels, stages + 1, widest="first"),
            classes,
            transposed_conv=transposed_conv,
        )
        discriminator = DCGANDiscriminator(
            fit_channels(model.discriminator_channels, stages, widest="last"),
            classes,
            model.spectral_norm,
        )
    else:
        raise ValueError(f"unknown GAN model kind {model.kind!r}; choose one of {', '.join(KINDS)}")
    return generator, discriminator
