"""Image preprocessing as config (`config.preprocess`): centre crop and resize, applied to each
uint8 image as it is decoded (jaxgen/data/records.py), and random horizontal flips, drawn per
example by the training pipeline (jaxgen/data/pipeline.py) from the run's seed.

    preprocess.crop        "none" | "center" (the largest centred square: DCGAN's CelebA recipe)
    preprocess.image_size  0 (keep) | N (resize to N x N, bilinear, after the crop)
    preprocess.flip        False | True (train batches only)
"""

from __future__ import annotations

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


def resize_image(image_HxWxC: np.ndarray, size: int) -> np.ndarray:
    """One uint8 image resized to size x size with PIL's bilinear filter (antialiased when
    shrinking); an image already that size is returned as it is."""
    from PIL import Image

    height, width, channels = image_HxWxC.shape
    if (height, width) == (size, size):
        return image_HxWxC
    pil = Image.fromarray(image_HxWxC[..., 0] if channels == 1 else image_HxWxC)
    return np.asarray(pil.resize((size, size), Image.BILINEAR)).reshape(size, size, channels)


def resize(images_NxHxWxC: np.ndarray, size: int) -> np.ndarray:
    """Every image of a batch resized by `resize_image`."""
    return np.stack([resize_image(image, size) for image in images_NxHxWxC])


def random_flip(example: dict, rng: np.random.Generator, keys=("image",)) -> dict:
    """The example's images under `keys` (a pair's input and target alike) mirrored left to
    right with probability 1/2 (grain's random_map draws `rng` from the pipeline's seed and the
    example's position, so resume replays it)."""
    if rng.random() < 0.5:
        example = {**example, **{k: example[k][:, ::-1] for k in keys}}
    return example
