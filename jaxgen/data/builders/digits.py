"""scikit-learn's 8x8 handwritten digits (1,797 images, 16 grey levels) as a TFDS data set."""

import numpy as np
import tensorflow_datasets as tfds

from jaxgen.data.builders.common import digit_features, generate_examples

# The UCI set has no official split; a fixed seeded 80/20 permutation stands in for one.
_TEST_FRACTION = 0.2
_SPLIT_SEED = 0


class Digits(tfds.core.GeneratorBasedBuilder):
    """8x8 digits from `sklearn.datasets.load_digits`, pixels rescaled from 0..16 to 0..255."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Seeded 80/20 train/test split of the 1,797 images."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="scikit-learn's 8x8 optical-recognition handwritten digits.",
            features=digit_features((8, 8, 1)),
            supervised_keys=("image", "label"),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html",
        )

    def _split_generators(self, dl_manager):
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
        order = np.random.default_rng(_SPLIT_SEED).permutation(len(images))
        n_test = int(round(_TEST_FRACTION * len(images)))
        test, train = order[:n_test], np.sort(order[n_test:])
        return {
            "train": self._generate_examples(images, bunch.target, train),
            "test": self._generate_examples(images, bunch.target, np.sort(test)),
        }

    def _generate_examples(self, images, labels, indices):
        return generate_examples(images, labels, indices)
