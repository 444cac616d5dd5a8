"""What the embedded digit builders share: the feature spec and the example generator."""

import numpy as np
import tensorflow_datasets as tfds


def digit_features(shape: tuple[int, int, int]) -> tfds.features.FeaturesDict:
    """uint8 images as `Tensor` (the `Image` feature's encoder would import TensorFlow)."""
    return tfds.features.FeaturesDict(
        {
            "image": tfds.features.Tensor(shape=shape, dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=10),
        }
    )


def generate_examples(images: np.ndarray, labels: np.ndarray, indices: np.ndarray):
    """(key, example) pairs keyed by the row index in the source file."""
    for i in indices:
        yield int(i), {"image": images[i], "label": int(labels[i])}
