"""Image-to-image translation networks: pix2pix's U-Net generator and PatchGAN discriminator
(Isola et al. 2017) and CycleGAN's ResNet generator (Zhu et al. 2017).

A port of junyanz/pytorch-CycleGAN-and-pix2pix `models/networks.py` (UnetGenerator with its
UnetSkipConnectionBlock, ResnetGenerator with its ResnetBlock, NLayerDiscriminator) to Flax
linen and NHWC, layer for layer: the same kernels, strides, paddings, activations, norms and
bias rule (a convolution followed by a norm has a bias only with instance norm, whose
normalisation is not affine and would not cancel it), so the parameter counts are the
reference's. Every module is `__call__(x_NxHxWxC, train)` with images in [-1, 1]:
  - `train` selects batch norm's batch statistics (and then "batch_stats" must be mutable) over
    its running averages, and turns the U-Net's dropout on (it draws from the 'dropout' rng);
  - instance norm normalises each image's channels over its own H x W in both modes (the
    reference's InstanceNorm2d(affine=False, track_running_stats=False)) and has no variables.
The generators end in tanh; the discriminator returns one logit per patch, (N, h, w, 1). For
pix2pix, the caller concatenates the condition and the (real or generated) image on the channel
axis before the discriminator, as the reference does.

Where the reference is written for 256 x 256 images, the sizes of the `None` defaults come from
the image side (`unet_depth`, `resnet_blocks`, `patch_layers`): the reference's networks at 256
(and 128), scaled down for jaxgen's 28-64 pixel data sets.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen import nn as jnn

LEAK = 0.2  # leaky ReLU slope of the U-Net encoder and the PatchGAN (the reference's)
NORMS = ("instance", "batch")
MAX_WIDTH_MULTIPLE = 8  # every stack's width stops doubling at 8 * base (512 at base 64)
PATCH_KERNEL = 4  # the PatchGAN's and the U-Net's kernel side (stride 2 or 1, padding 1)
RESNET_DOWNSAMPLINGS = 2  # CycleGAN's generator halves the size twice around its blocks
BACKGROUND = -1.0  # the value images are padded with to fit a network's stride: black in [-1, 1]


def norm_layer(kind: str, train: bool, name: str | None = None) -> nn.Module:
    """The normalisation after a convolution: "instance" (per image and channel over H x W, no
    learned scale or offset, no state) or "batch" (affine, running averages in "batch_stats",
    PyTorch's momentum 0.1 and epsilon; normalises with the batch's statistics when `train`).
    Flax's running variance averages the biased batch variance, PyTorch's the unbiased one."""
    if kind == "instance":
        return nn.InstanceNorm(epsilon=1e-5, use_bias=False, use_scale=False, name=name)
    if kind == "batch":
        return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name=name)
    raise ValueError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")


def _conv_bias(norm: str) -> bool:
    """Whether a convolution followed by `norm` has a bias: batch norm's offset subsumes it
    (the reference's `use_bias = norm_layer == InstanceNorm2d`)."""
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    return norm == "instance"


def _pad_to_multiple(x_NxHxWxC: jax.Array, multiple: int) -> tuple[jax.Array, tuple[int, int]]:
    """x padded at the bottom and right with background up to sides divisible by `multiple`,
    and its original (H, W) to crop the output back to."""
    height, width = x_NxHxWxC.shape[1:3]
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h or pad_w:
        pads = ((0, 0), (0, pad_h), (0, pad_w), (0, 0))
        x_NxHxWxC = jnp.pad(x_NxHxWxC, pads, constant_values=BACKGROUND)
    return x_NxHxWxC, (height, width)


def _reflect_pad(x_NxHxWxC: jax.Array, pad: int) -> jax.Array:
    """PyTorch's ReflectionPad2d(pad): mirrors without repeating the edge pixel."""
    return jnp.pad(x_NxHxWxC, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


def _conv_down(features: int, kernel: int, use_bias: bool, name: str | None = None) -> nn.Conv:
    """PyTorch's Conv2d(kernel, stride 2, padding 1): halves an even side for kernel 3 or 4."""
    return jnn.Conv(
        features, (kernel, kernel), (2, 2), padding=((1, 1), (1, 1)), use_bias=use_bias, name=name
    )


def _conv_up(
    x_NxHxWxC: jax.Array, features: int, kernel: int, use_bias: bool, name: str | None = None
) -> jax.Array:
    """PyTorch's ConvTranspose2d(kernel, stride 2, padding 1), with output_padding 1 for an odd
    kernel: doubles the sides, with the reference's alignment of taps to output pixels (its
    kernel is this one flipped). jaxgen's transposed convolution (fast CPU gradient) takes SAME
    or VALID only, and SAME shifts the taps of kernel 3 by one pixel; VALID gives every output
    pixel with the reference's at index + 1, so the crop drops row and column 0 and the tail."""
    height, width = x_NxHxWxC.shape[1:3]
    conv = jnn.ConvTranspose(
        features, (kernel, kernel), (2, 2), padding="VALID", use_bias=use_bias, name=name
    )
    return conv(x_NxHxWxC)[:, 1 : 1 + 2 * height, 1 : 1 + 2 * width]


# --------------------------------------------------------------------------------------------
# pix2pix's U-Net generator


def unet_depth(size: int) -> int:
    """The U-Net's number of stride-2 levels for images of side `size`: floor(log2(size)), at
    most 8. The reference's unet_256 (8 levels, a 1 x 1 bottleneck) and unet_128 (7); 6 at 64,
    5 at 32 (1 x 1 bottlenecks), 4 at 28 (padded to 32, a 2 x 2 bottleneck)."""
    if size < 2:
        raise ValueError(f"a U-Net needs images of at least 2 pixels a side, got {size}")
    return min(8, int(math.floor(math.log2(size))))


def unet_dropout_levels(depth: int) -> tuple[int, ...]:
    """The U-Net levels (0 outermost, depth - 1 innermost) whose decoder output gets dropout:
    from level min(4, depth - 2) up to, not including, the innermost, never the outermost.
    At depth >= 6 these are the reference's use_dropout blocks, the depth - 5 of width 8 * base
    between its 4b -> 8b block and the innermost (levels 4, 5, 6 at depth 8: the first three
    decoder layers the pix2pix paper drops out but one); the reference puts none below depth 6,
    and jaxgen there drops out the one block just outside the innermost, so that pix2pix keeps
    its noise source on small images."""
    return tuple(range(max(1, min(4, depth - 2)), depth - 1))


def _unet_width(base: int, level: int) -> int:
    """Channels of the U-Net encoder's output at `level`: base, 2b, 4b, 8b, 8b, ..."""
    return min(2**level, MAX_WIDTH_MULTIPLE) * base


class UNetGenerator(nn.Module):
    """pix2pix's U-Net (the reference's UnetGenerator): `depth` 4x4 stride-2 convolutions down
    to base, 2b, 4b, 8b, 8b, ... channels, each but the first preceded by leaky ReLU 0.2 and
    each but the first and the innermost followed by `norm`; back up, each level's ReLU, 4x4
    stride-2 transposed convolution and `norm` (none at the outermost, which ends in tanh),
    with every level but the outermost handing its decoder the concatenation of its input and
    its decoder's output (the skip connection). Dropout at `dropout` rate follows the norm on
    `unet_dropout_levels(depth)`, only when `train`: it is pix2pix's noise, there is no z.

    `depth` None is `unet_depth(min(H, W))`. Images whose sides are not multiples of 2**depth
    are padded with background up to the next multiple and the output cropped back.
    Convolutions followed by a norm have a bias only with instance norm (the reference's rule);
    the outermost transposed convolution always has one."""

    out_channels: int
    base: int = 64
    depth: int | None = None
    norm: str = "batch"
    dropout: float = 0.5

    @nn.compact
    def __call__(self, x_NxHxWxC: jax.Array, train: bool) -> jax.Array:
        depth = unet_depth(min(x_NxHxWxC.shape[1:3])) if self.depth is None else self.depth
        x_NxHxWxC, (height, width) = _pad_to_multiple(x_NxHxWxC, 2**depth)
        use_bias = _conv_bias(self.norm)
        dropout_levels = unet_dropout_levels(depth)

        def level(x: jax.Array, i: int) -> jax.Array:
            """The reference's UnetSkipConnectionBlock at level i applied to its input x."""
            outermost, innermost = i == 0, i == depth - 1
            # The reference's in-place LeakyReLU also rewrites the x it concatenates below; the
            # only reader of that is the enclosing level's ReLU, and relu(leaky_relu(x)) ==
            # relu(x): the same network.
            h = x if outermost else nn.leaky_relu(x, LEAK)
            h = _conv_down(_unet_width(self.base, i), PATCH_KERNEL, use_bias, name=f"down{i}")(h)
            if not (outermost or innermost):
                h = norm_layer(self.norm, train, name=f"down_norm{i}")(h)
            if not innermost:
                h = level(h, i + 1)
            outer = self.out_channels if outermost else _unet_width(self.base, i - 1)
            h = _conv_up(nn.relu(h), outer, PATCH_KERNEL, outermost or use_bias, name=f"up{i}")
            if outermost:
                return jnp.tanh(h)
            h = norm_layer(self.norm, train, name=f"up_norm{i}")(h)
            if i in dropout_levels:
                h = nn.Dropout(self.dropout, deterministic=not train)(h)
            return jnp.concatenate([x, h], axis=-1)

        return level(x_NxHxWxC, 0)[:, :height, :width]


# --------------------------------------------------------------------------------------------
# CycleGAN's ResNet generator


def resnet_blocks(size: int) -> int:
    """jaxgen's scaled default number of residual blocks for images of side `size`: the
    reference's resnet_9blocks at 256 and above, its resnet_6blocks (used at 128) below that,
    and 3 at 32 and below, where 6 would only cost CPU time (the 7x7 stem and two stride-2
    convolutions already see most of a 28 or 32 pixel image)."""
    if size >= 256:
        return 9
    return 6 if size > 32 else 3


class ResnetBlock(nn.Module):
    """x plus (reflect pad 1, 3x3 conv, norm, ReLU, reflect pad 1, 3x3 conv, norm) of x."""

    norm: str = "instance"

    @nn.compact
    def __call__(self, x_NxHxWxC: jax.Array, train: bool) -> jax.Array:
        channels, use_bias = x_NxHxWxC.shape[-1], _conv_bias(self.norm)
        h = jnn.Conv(channels, (3, 3), padding="VALID", use_bias=use_bias)(
            _reflect_pad(x_NxHxWxC, 1)
        )
        h = nn.relu(norm_layer(self.norm, train)(h))
        h = jnn.Conv(channels, (3, 3), padding="VALID", use_bias=use_bias)(_reflect_pad(h, 1))
        return x_NxHxWxC + norm_layer(self.norm, train)(h)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator (the reference's ResnetGenerator, after Johnson et al. 2016):
    reflect pad 3 and a 7x7 convolution to `base` channels, two 3x3 stride-2 convolutions to 2b
    and 4b, each followed by `norm` and ReLU; `blocks` ResnetBlocks at 4b; two 3x3 stride-2
    transposed convolutions back to 2b and b, each with `norm` and ReLU; reflect pad 3 and a
    7x7 convolution to `out_channels` (with a bias), tanh.

    `blocks` None is `resnet_blocks(min(H, W))`. Images whose sides are not multiples of 4
    are padded with background and the output cropped back. The other convolutions have a
    bias only with instance norm (the reference's rule)."""

    out_channels: int
    base: int = 64
    blocks: int | None = None
    norm: str = "instance"

    @nn.compact
    def __call__(self, x_NxHxWxC: jax.Array, train: bool) -> jax.Array:
        blocks = resnet_blocks(min(x_NxHxWxC.shape[1:3])) if self.blocks is None else self.blocks
        x, (height, width) = _pad_to_multiple(x_NxHxWxC, 2**RESNET_DOWNSAMPLINGS)
        use_bias = _conv_bias(self.norm)

        x = jnn.Conv(self.base, (7, 7), padding="VALID", use_bias=use_bias)(_reflect_pad(x, 3))
        x = nn.relu(norm_layer(self.norm, train)(x))
        for i in range(RESNET_DOWNSAMPLINGS):
            x = _conv_down(self.base * 2 ** (i + 1), 3, use_bias)(x)
            x = nn.relu(norm_layer(self.norm, train)(x))
        for _ in range(blocks):
            x = ResnetBlock(self.norm)(x, train)
        for i in reversed(range(RESNET_DOWNSAMPLINGS)):
            x = _conv_up(x, self.base * 2**i, 3, use_bias)
            x = nn.relu(norm_layer(self.norm, train)(x))
        x = jnn.Conv(self.out_channels, (7, 7), padding="VALID")(_reflect_pad(x, 3))
        return jnp.tanh(x)[:, :height, :width]


# --------------------------------------------------------------------------------------------
# pix2pix's and CycleGAN's PatchGAN discriminator


def patch_layers(size: int) -> int:
    """jaxgen's scaled default number of stride-2 layers of the PatchGAN for images of side
    `size`: the reference's 3 (its 70 x 70 PatchGAN, 30 x 30 logits at 256) from 128 up, 2 from
    64 (34 x 34 patches), 1 below (16 x 16 patches: a 70-pixel patch would cover a 28 or 32
    pixel image whole)."""
    if size >= 128:
        return 3
    return 2 if size >= 64 else 1


def _patch_layer_list(base: int, n_layers: int) -> list[tuple[int, int, bool]]:
    """The PatchGAN's convolutions as (features, stride, followed by norm and leaky ReLU);
    all are 4x4 with padding 1. The last is the per-patch logit, with no activation."""
    width = lambda n: min(2**n, MAX_WIDTH_MULTIPLE) * base  # noqa: E731
    return [
        (base, 2, False),
        *[(width(n), 2, True) for n in range(1, n_layers)],
        (width(n_layers), 1, True),
        (1, 1, False),
    ]


def receptive_field(n_layers: int) -> int:
    """Side in pixels of the input square one logit of a PatchGAN with `n_layers` stride-2
    layers sees: 70 for 3, 34 for 2, 16 for 1 (r_in = (r_out - 1) * stride + kernel, from the
    logit back to the image)."""
    side = 1
    for _, stride, _ in reversed(_patch_layer_list(1, n_layers)):
        side = (side - 1) * stride + PATCH_KERNEL
    return side


class PatchDiscriminator(nn.Module):
    """The PatchGAN (the reference's NLayerDiscriminator): a 4x4 stride-2 convolution to base
    channels and leaky ReLU 0.2; n_layers - 1 more 4x4 stride-2 convolutions to 2b, 4b, 8b, ...
    (at most 8b), each with `norm` and leaky ReLU; a 4x4 stride-1 convolution to
    min(2**n_layers, 8) * base with `norm` and leaky ReLU; a 4x4 stride-1 convolution to one
    logit per patch of `receptive_field(n_layers)` pixels a side. All pad by 1; a 256 x 256 image
    gets 30 x 30 logits. Returns (N, h, w, 1), for any number of input channels.

    `n_layers` None is `patch_layers(min(H, W))`. The first and last convolutions have a bias;
    the normed ones only with instance norm (the reference's rule)."""

    base: int = 64
    n_layers: int | None = None
    norm: str = "batch"

    @nn.compact
    def __call__(self, x_NxHxWxC: jax.Array, train: bool) -> jax.Array:
        n_layers = self.n_layers
        if n_layers is None:
            n_layers = patch_layers(min(x_NxHxWxC.shape[1:3]))
        use_bias = _conv_bias(self.norm)
        x = x_NxHxWxC
        layers = _patch_layer_list(self.base, n_layers)
        for i, (features, stride, normed) in enumerate(layers):
            conv = jnn.Conv(
                features,
                (PATCH_KERNEL, PATCH_KERNEL),
                (stride, stride),
                padding=((1, 1), (1, 1)),
                use_bias=use_bias or not normed,
            )
            x = conv(x)
            if normed:
                x = norm_layer(self.norm, train)(x)
            if i < len(layers) - 1:
                x = nn.leaky_relu(x, LEAK)
        return x
