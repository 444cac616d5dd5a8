"""Streamed splits (read from their array_record files as they are indexed) hold the pixels,
labels and attributes of in-memory ones, feed the same batches in the same order (with worker
processes too), evaluate to the same numbers in chunks, and carry no pixels when pickled.
Exact resume after SIGKILL from a streamed split read by workers: tests/train/test_contract.py."""

from __future__ import annotations

import dataclasses
import pickle

import jax
import numpy as np
import pytest

from jaxgen.data import load_split, train_dataset
from jaxgen.data.datasets import clear_caches
from jaxgen.data.pipeline import iterate
from jaxgen.data.records import Pixels, RecordImages

from ..conftest import smoke_config
from ..tfds_formats import write_celeb_a, write_mnist

STREAM = 0  # data_in_memory_mb: every split streams


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tensorflow_datasets")
    write_mnist(root, train=70, test=30)
    write_celeb_a(root)
    return root


@pytest.fixture(autouse=True)
def _use(tfds_dir, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tfds_dir))
    clear_caches()
    yield
    clear_caches()


@pytest.mark.parametrize(
    "name, crop, size", [("mnist", "none", 0), ("celeb_a", "center", 16), ("digits", "none", 0)]
)
def test_a_streamed_split_holds_the_in_memory_split_s_data(name, crop, size):
    for split in ("train", "validation", "test"):
        held = load_split(name, split, crop, size)
        streamed = load_split(name, split, crop, size, STREAM)
        assert not held.streamed and streamed.streamed
        assert isinstance(streamed.images_NxHxWxC, RecordImages)
        assert len(streamed) == len(held) and streamed.image_shape == held.image_shape
        np.testing.assert_array_equal(streamed.images_NxHxWxC[:], held.images_NxHxWxC)
        np.testing.assert_array_equal(streamed.int_labels(), held.int_labels())
        if held.attributes_NxA is not None:
            np.testing.assert_array_equal(streamed.attributes_NxA, held.attributes_NxA)
        # Any index, slice, index array or mask; float pixels through the lazy view.
        pick = np.array([len(held) - 1, 0, 3])
        np.testing.assert_array_equal(streamed.images_NxHxWxC[pick], held.images_NxHxWxC[pick])
        np.testing.assert_array_equal(streamed.images_NxHxWxC[2], held.images_NxHxWxC[2])
        pixels = streamed.pixels()
        assert isinstance(pixels, Pixels) and pixels.shape == held.pixels().shape
        np.testing.assert_array_equal(pixels[1:4], held.pixels()[1:4])
        mask = held.int_labels() % 2 == 0
        np.testing.assert_array_equal(
            streamed.select(mask).images_NxHxWxC[:], held.select(mask).images_NxHxWxC
        )


def test_a_streamed_split_pickles_without_its_pixels():
    streamed = load_split("celeb_a", "train", "none", 0, STREAM)
    assert streamed.images_NxHxWxC.nbytes == 12 * 218 * 178 * 3
    blob = pickle.dumps(streamed.images_NxHxWxC)
    assert len(blob) < 5_000  # a path, a split name and the record indices
    np.testing.assert_array_equal(pickle.loads(blob)[:3], streamed.images_NxHxWxC[:3])


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_batches_are_the_in_memory_batches_in_order(workers):
    held = load_split("mnist", "train")
    streamed = load_split("mnist", "train", "none", 0, STREAM)
    batches = [_flipped_batches(s) for s in (held, streamed)]
    expected = [batches[0][i] for i in range(9)]  # over 2 epochs of the 63 train images
    iterator = iterate(batches[1], workers=workers, prefetch=2)
    for want in expected:
        got = next(iterator)
        np.testing.assert_array_equal(got["image"], want["image"])
        np.testing.assert_array_equal(got["label"], want["label"])
    iterator.close()


def _flipped_batches(split):
    return train_dataset(dataclasses.replace(split, flip=True), 16, seed=4)


@pytest.mark.parametrize("experiment", ["denoising_ae", "vae"])
def test_evaluation_of_a_streamed_split_is_the_in_memory_one(experiment):
    from jaxgen.families import build_task

    numbers = []
    for in_memory_mb in (512, STREAM):
        config = smoke_config(experiment, dataset="mnist", data_in_memory_mb=in_memory_mb)
        task = build_task(config)
        params = task.eval_params(task.init_state(jax.random.key(0)))
        numbers.append(task.evaluate(params, "test"))
    assert numbers[0] == pytest.approx(numbers[1], rel=1e-6)
