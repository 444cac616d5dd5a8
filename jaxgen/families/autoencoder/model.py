"""Autoencoders: dense (shallow, deep, linear) and convolutional with five decoders.

Every autoencoder has `encode(x) -> (code, switches)` and `decode(code, switches) -> logits`;
`switches` carries the encoder's max-pooling argmaxes for the max-unpooling decoder (an empty
tuple otherwise). Decoders return pre-activation outputs ("logits"): the loss decides whether a
sigmoid maps them to pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import nn as jnn
from jaxgen.nn.common import fit_channels, stride2_stages

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "tanh": jnp.tanh,
    "sigmoid": nn.sigmoid,
    "linear": lambda x: x,
}

UPSAMPLINGS = ("transpose", "nearest", "bilinear", "bed_of_nails", "max_unpool")
DOWNSAMPLINGS = ("stride", "maxpool")
KINDS = ("dense", "conv")  # `model.kind`: build_autoencoder's networks


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class DenseAutoencoder(nn.Module):
    """x -> hidden... -> code -> reversed hidden... -> x. With `hidden=()` it is the shallow
    784-code-784 autoencoder; with `activation="linear"` it is the linear autoencoder."""

    image_shape: tuple[int, int, int]
    code_size: int = 32
    hidden: Sequence[int] = ()
    activation: str = "relu"
    code_activation: str = "linear"

    def setup(self):
        self.encoder_layers = [nn.Dense(h) for h in self.hidden]
        self.code_layer = nn.Dense(self.code_size)
        self.decoder_layers = [nn.Dense(h) for h in reversed(self.hidden)]
        self.output_layer = nn.Dense(math.prod(self.image_shape))

    def encode(self, x_BxHxWxC: jax.Array) -> tuple[jax.Array, tuple]:
        h = x_BxHxWxC.reshape(x_BxHxWxC.shape[0], -1)
        for layer in self.encoder_layers:
            h = activation(self.activation)(layer(h))
        return activation(self.code_activation)(self.code_layer(h)), ()

    def decode(self, z_BxZ: jax.Array, switches: tuple = ()) -> jax.Array:
        h = z_BxZ
        for layer in self.decoder_layers:
            h = activation(self.activation)(layer(h))
        return self.output_layer(h).reshape(z_BxZ.shape[0], *self.image_shape)

    def __call__(self, x_BxHxWxC: jax.Array) -> tuple[jax.Array, jax.Array]:
        z_BxZ, switches = self.encode(x_BxHxWxC)
        return self.decode(z_BxZ, switches), z_BxZ


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder.

    Encoder: per entry of `channels`, a 3x3 convolution that halves the resolution
    (`downsample="stride"`: stride 2; `"maxpool"`: stride 1 then 2x2 max-pooling), then a dense
    code. Decoder: dense to the smallest feature map, then per level an upsampling by 2 —
    a 4x4 stride-2 transposed convolution (`"transpose"`), or nearest / bilinear / bed-of-nails /
    max-unpooling (with the encoder's switches) followed by a 3x3 convolution.
    """

    image_shape: tuple[int, int, int]
    code_size: int = 32
    channels: Sequence[int] = (32, 64)
    downsample: str = "stride"
    upsample: str = "transpose"
    activation: str = "relu"
    code_activation: str = "linear"

    def setup(self):
        if self.downsample not in DOWNSAMPLINGS:
            raise ValueError(f"unknown downsample {self.downsample!r}; one of {DOWNSAMPLINGS}")
        if self.upsample not in UPSAMPLINGS:
            raise ValueError(f"unknown upsample {self.upsample!r}; one of {UPSAMPLINGS}")
        if self.upsample == "max_unpool" and self.downsample != "maxpool":
            raise ValueError("upsample='max_unpool' needs downsample='maxpool' (its switches)")
        height, width, _ = self.image_shape
        scale = 2 ** len(self.channels)
        if height % scale or width % scale:
            raise ValueError(f"image {self.image_shape} is not divisible by {scale}")
        self.bottom_shape = (height // scale, width // scale, self.channels[-1])
        stride = 2 if self.downsample == "stride" else 1
        self.encoder_convs = [
            jnn.Conv(ch, (3, 3), strides=(stride, stride), padding="SAME") for ch in self.channels
        ]
        self.code_layer = nn.Dense(self.code_size)
        self.bottom_layer = nn.Dense(math.prod(self.bottom_shape))
        # Decoder level k maps to the channels of encoder level k-1 (the image's for k=0).
        out_channels = [self.image_shape[-1], *self.channels[:-1]][::-1]
        if self.upsample == "transpose":
            self.decoder_convs = [
                jnn.ConvTranspose(ch, (4, 4), strides=(2, 2), padding="SAME") for ch in out_channels
            ]
        else:
            self.decoder_convs = [jnn.Conv(ch, (3, 3), padding="SAME") for ch in out_channels]

    def encode(self, x_BxHxWxC: jax.Array) -> tuple[jax.Array, tuple]:
        act = activation(self.activation)
        h = x_BxHxWxC
        switches = []
        for conv in self.encoder_convs:
            h = act(conv(h))
            if self.downsample == "maxpool":
                h, s = jnn.max_pool_with_switches(h, 2)
                switches.append(s)
        z = self.code_layer(h.reshape(h.shape[0], -1))
        return activation(self.code_activation)(z), tuple(switches)

    def _upsample(self, h: jax.Array, switches: jax.Array | None) -> jax.Array:
        if self.upsample == "nearest":
            return jnn.upsample_nearest(h, 2)
        if self.upsample == "bilinear":
            return jnn.upsample_bilinear(h, 2)
        if self.upsample == "bed_of_nails":
            return jnn.bed_of_nails(h, 2)
        return jnn.max_unpool(h, switches, 2)

    def decode(self, z_BxZ: jax.Array, switches: tuple = ()) -> jax.Array:
        act = activation(self.activation)
        h = act(self.bottom_layer(z_BxZ)).reshape(z_BxZ.shape[0], *self.bottom_shape)
        levels = len(self.decoder_convs)
        for k, conv in enumerate(self.decoder_convs):
            if self.upsample != "transpose":
                h = self._upsample(h, switches[levels - 1 - k] if switches else None)
            h = conv(h)
            if k < levels - 1:
                h = act(h)
        return h

    def __call__(self, x_BxHxWxC: jax.Array) -> tuple[jax.Array, jax.Array]:
        z_BxZ, switches = self.encode(x_BxHxWxC)
        return self.decode(z_BxZ, switches), z_BxZ


def build_autoencoder(model: ml_collections.ConfigDict, image_shape: tuple[int, int, int]):
    """The autoencoder a `config.model` block describes (`kind`: dense or conv)."""
    image_shape = tuple(int(d) for d in image_shape)
    common = dict(
        image_shape=image_shape,
        code_size=model.code_size,
        activation=model.activation,
        code_activation=model.code_activation,
    )
    if model.kind == "dense":
        return DenseAutoencoder(hidden=tuple(model.hidden), **common)
    if model.kind == "conv":
        # One stride-2 level per halving the image allows (two on 28x28, three on 32x32,
        # four on 64x64); the recipe's channels are fitted to that depth.
        levels = stride2_stages(*image_shape[:2])
        return ConvAutoencoder(
            channels=fit_channels(model.channels, levels, widest="last"),
            downsample=model.downsample,
            upsample=model.upsample,
            **common,
        )
    raise ValueError(f"unknown model kind {model.kind!r}; choose one of {', '.join(KINDS)}")
