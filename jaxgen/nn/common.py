"""Helpers shared by all model families (not specific to one of them)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def count_params(params: Any) -> int:
    """Total number of scalars in a pytree of arrays (or of `jax.ShapeDtypeStruct`s)."""
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(params))


# Convolutional stacks halve the resolution until the feature map's smaller side would fall
# below this many pixels (or a side becomes odd): 28 -> 7 (two stages), 32 -> 4 (three),
# 64 -> 4 (four), 256 -> 4 (six), 8 -> 4 (one).
MIN_FEATURE_SIDE = 4


def stride2_stages(height: int, width: int, min_side: int = MIN_FEATURE_SIDE) -> int:
    """How many times an H x W image can be halved exactly with both sides staying at least
    `min_side`: the number of stride-2 stages a conv net of that image gets."""
    stages = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) // 2 >= min_side:
        height, width, stages = height // 2, width // 2, stages + 1
    return stages


def fit_channels(channels, count: int, widest: str) -> tuple[int, ...]:
    """`channels` with `count` entries: where the stack is wide (`widest` "first" for a decoder
    or generator, "last" for an encoder or discriminator), missing stages double the widest
    width, and extra stages are dropped from that end, so a recipe written for one image size
    keeps its narrow layers at every size."""
    channels = list(channels)
    if count < 1:
        raise ValueError(f"a conv stack needs at least one stage, got {count}")
    while len(channels) < count:
        channels = (
            [2 * channels[0], *channels] if widest == "first" else [*channels, 2 * channels[-1]]
        )
    return tuple(channels[-count:] if widest == "first" else channels[:count])
