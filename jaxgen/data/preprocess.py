"""Image preprocessing as config (`config.preprocess`): centre crop and resize, applied once to
a split's uint8 images when it is loaded, and random horizontal flips, drawn per example by the
training pipeline (jaxgen/data/pipeline.py) from the run's seed.

    preprocess.crop        "none" | "center" (the largest centred square: DCGAN's CelebA recipe)
    preprocess.image_size  0 (keep) | N (resize to N x N, bilinear, after the crop)
    preprocess.flip        False | True (train batches only)
"""

from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np

CROPS = ("none", "center")


def preprocess_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.preprocess` block: no crop, no resize, no flips."""
    block = ml_collections.ConfigDict({"crop": "none", "image_size": 0, "flip": False})
    block.update(overrides)
    return block


def center_crop(images_NxHxWxC: np.ndarray) -> np.ndarray:
    """The largest centred square of every image."""
    _, height, width, _ = images_NxHxWxC.shape
    if height == width:
        return images_NxHxWxC
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return images_NxHxWxC[:, top : top + side, left : left + side]


def resize(images_NxHxWxC: np.ndarray, size: int) -> np.ndarray:
    """Every image resized to size x size with PIL's bilinear filter (antialiased when
    shrinking), uint8 in and out."""
    from PIL import Image

    channels = images_NxHxWxC.shape[-1]
    out = np.empty((len(images_NxHxWxC), size, size, channels), np.uint8)
    for i, image in enumerate(images_NxHxWxC):
        pil = Image.fromarray(image[..., 0] if channels == 1 else image)
        resized = np.asarray(pil.resize((size, size), Image.BILINEAR))
        out[i] = resized.reshape(size, size, channels)
    return out


def apply(split, crop: str = "none", image_size: int = 0):
    """`split` (a data.datasets.Split) with its images centre-cropped and/or resized."""
    if crop not in CROPS:
        raise ValueError(f"unknown preprocess.crop {crop!r}; choose one of {CROPS}")
    images = split.images_NxHxWxC
    if crop == "center":
        images = center_crop(images)
    # An image folder of mixed sizes was already brought to this size as it was prepared.
    if image_size and images.shape[1:3] != (image_size, image_size):
        images = resize(images, int(image_size))
    if images is split.images_NxHxWxC:
        return split
    images = np.ascontiguousarray(images)
    images.setflags(write=False)
    return dataclasses.replace(split, images_NxHxWxC=images)


def random_flip(example: dict, rng: np.random.Generator) -> dict:
    """The example's image mirrored left to right with probability 1/2 (grain's random_map
    draws `rng` from the pipeline's seed and the example's position, so resume replays it)."""
    if rng.random() < 0.5:
        example = {**example, "image": example["image"][:, ::-1]}
    return example
