"""Preprocessing as config: centre crop, resize, keyed random flips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from jaxgen.data import config_splits, load_split, train_dataset
from jaxgen.data.preprocess import center_crop, resize

from ..conftest import smoke_config


def test_center_crop_takes_the_middle_square():
    images = np.arange(2 * 4 * 6 * 1, dtype=np.uint8).reshape(2, 4, 6, 1)
    np.testing.assert_array_equal(center_crop(images), images[:, :, 1:5])
    assert center_crop(images.transpose(0, 2, 1, 3)).shape == (2, 4, 4, 1)


def test_resize_matches_a_bilinear_reference():
    from scipy import ndimage

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    out = resize(images, 32)  # upsampling: no antialiasing, so plain bilinear interpolation
    assert out.shape == (3, 32, 32, 3) and out.dtype == np.uint8
    # SciPy's linear zoom on pixel centres (grid_mode), edges clamped: PIL's bilinear, up to
    # PIL's rounding to uint8.
    ref = ndimage.zoom(images.astype(float), (1, 2, 2, 1), order=1, grid_mode=True, mode="nearest")
    assert np.max(np.abs(out - ref)) <= 1.0
    constant = np.full((1, 9, 7, 1), 77, np.uint8)
    assert (resize(constant, 4) == 77).all()


def test_config_splits_crop_and_resize_every_split_and_flip_only_train():
    config = smoke_config("autoencoder")
    with config.unlocked():
        config.preprocess.update(crop="center", image_size=4, flip=True)
    splits = config_splits(config)
    assert {s.image_shape for s in splits.values()} == {(4, 4, 1)}
    assert splits["train"].flip and not splits["test"].flip
    with config.unlocked():
        config.preprocess.crop = "corner"
    with pytest.raises(ValueError, match="crop"):
        config_splits(config)


def test_flips_are_keyed_by_seed_and_position():
    split = load_split("digits", "train")
    plain = train_dataset(split, 32, seed=1)
    flipped = train_dataset(dataclasses.replace(split, flip=True), 32, seed=1)
    pairs = list(zip(plain[3]["image"], flipped[3]["image"], strict=True))
    mirrored = [np.array_equal(y, x[:, ::-1]) and not np.array_equal(y, x) for x, y in pairs]
    same = [np.array_equal(x, y) for x, y in pairs]
    assert all(m or s for m, s in zip(mirrored, same, strict=True))
    assert 4 < sum(mirrored) < 28  # about half
    again = train_dataset(dataclasses.replace(split, flip=True), 32, seed=1)
    np.testing.assert_array_equal(again[3]["image"], flipped[3]["image"])  # replayed exactly
    other_seed = train_dataset(dataclasses.replace(split, flip=True), 32, seed=2)
    assert not np.array_equal(other_seed[3]["image"], flipped[3]["image"])
