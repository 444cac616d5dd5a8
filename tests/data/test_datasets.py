import gzip

import numpy as np
import pytest

from jaxgen.data import load_split
from jaxgen.data.builders.mnist5k import csv_path
from jaxgen.errors import UserError


def _csv():
    with gzip.open(csv_path(), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return table[:, :784].astype(np.uint8), table[:, 784]


def _row_set(images):
    return sorted(image.tobytes() for image in images.reshape(len(images), -1))


def test_mnist5k_split_is_first_400_rows_of_each_class_in_file_order():
    # TFDS's train split is the first 400 rows of each class; jaxgen holds 10% of every class
    # out of it as the validation split.
    pixels, labels = _csv()
    train, test = load_split("mnist5k", "train"), load_split("mnist5k", "test")
    validation = load_split("mnist5k", "validation")
    assert train.image_shape == (28, 28, 1) and len(train) == 3600 and len(test) == 1000
    assert np.bincount(train.labels_N).tolist() == [360] * 10
    assert np.bincount(validation.labels_N).tolist() == [40] * 10
    assert np.bincount(test.labels_N).tolist() == [100] * 10
    for c in range(10):
        rows = pixels[labels == c]
        held_in = train.images_NxHxWxC[train.labels_N == c]
        held_out = validation.images_NxHxWxC[validation.labels_N == c]
        assert _row_set(np.concatenate([held_in, held_out])) == _row_set(rows[:400])
        assert not set(_row_set(held_in)) & set(_row_set(held_out))
        assert _row_set(test.images_NxHxWxC[test.labels_N == c]) == _row_set(rows[400:])


def test_validation_split_is_seeded_per_class_and_fixed():
    from jaxgen.data.datasets import validation_indices

    labels = np.repeat(np.arange(3), [10, 20, 7])
    chosen = validation_indices(labels, len(labels))
    assert np.bincount(labels[chosen]).tolist() == [1, 2, 1]  # ceil(10% of each class)
    np.testing.assert_array_equal(chosen, validation_indices(labels, len(labels)))
    assert len(validation_indices(None, 50)) == 5


def test_digits_is_sklearn_digits_rescaled():
    from sklearn.datasets import load_digits

    train, test = load_split("digits", "train"), load_split("digits", "test")
    validation = load_split("digits", "validation")
    assert len(train) + len(validation) + len(test) == 1797 and train.image_shape == (8, 8, 1)
    expected = np.round(load_digits().images * 255 / 16).astype(np.uint8)
    everything = [train.images_NxHxWxC, validation.images_NxHxWxC, test.images_NxHxWxC]
    assert _row_set(np.concatenate(everything)) == _row_set(expected)
    pixels = train.pixels()
    assert pixels.dtype == np.float32 and pixels.min() >= 0 and pixels.max() <= 1


def test_unknown_dataset_is_a_user_error():
    with pytest.raises(UserError, match="unknown dataset 'no_such_set'"):
        load_split("no_such_set", "train")


def test_unprepared_tfds_set_says_how_to_prepare_it(tmp_path, monkeypatch):
    from jaxgen.data import idx

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    # Where Debian's Fashion-MNIST is installed (CI installs it) the name loads its IDX files.
    monkeypatch.setattr(idx, "FASHION_MNIST_DEBIAN", tmp_path / "absent")
    with pytest.raises(UserError, match="tfds build fashion_mnist --file_format=array_record"):
        load_split("fashion_mnist", "train")


def test_prepared_tfds_set_loads_by_name(tmp_path, monkeypatch):
    # A set prepared in array_record format in TFDS_DATA_DIR loads by its TFDS name; jaxgen's
    # own builder stands in for one prepared by `tfds build`.
    from jaxgen.data.builders import Digits
    from jaxgen.data.datasets import _tfds_builder

    Digits(data_dir=str(tmp_path), file_format="array_record").download_and_prepare()
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    builder = _tfds_builder("digits")
    held_in, held_out = len(load_split("digits", "train")), len(load_split("digits", "validation"))
    assert builder.info.splits["train"].num_examples == held_in + held_out
