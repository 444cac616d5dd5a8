"""Binary images from grey ones, the same way for every family that models bits (the VAEs with a
Bernoulli likelihood, the completion CVAE, the RBMs): training pixels drawn afresh each step
(dynamic binarization), evaluation splits drawn once with a fixed key, so that every run and
seed, of every family, is scored on the same binary test images."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from jaxgen.data.datasets import Split

# Fixed keys, independent of the run's seed: every run and seed sees the same binary images.
TEST_BINARIZATION_KEY = 0xB1
STATIC_TRAIN_BINARIZATION_KEY = 0xB2


def binarize(key: jax.Array, x: jax.Array) -> jax.Array:
    """One Bernoulli draw per pixel with the pixel intensity as its probability (drawn on the
    flattened pixels, the same bits, for the CPU's sake as in `log_bernoulli`)."""
    return jax.random.bernoulli(key, x.reshape(x.shape[0], -1)).astype(x.dtype).reshape(x.shape)


def binarized(split: Split, key_seed: int) -> Split:
    """The split binarized once with a fixed key (pixels 0 or 255)."""
    x = jax.numpy.asarray(split.pixels())
    bits = np.asarray(binarize(jax.random.key(key_seed), x))
    return dataclasses.replace(split, images_NxHxWxC=(bits * 255).astype(np.uint8))
