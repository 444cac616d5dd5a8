"""The feature classifier behind the sample-quality metrics (FID, KID, classifier score): a
trained `DigitClassifier` (nn/classifier.py) and what it computes of images.

Metrics compute and never train: the classifier is trained once per machine and recipe by the
layer that orchestrates runs (jaxgen/feature_classifier.py, `load_classifier`), which hands back
a `FeatureClassifier`.

    clf = load_classifier("mnist5k")  # from jaxgen.feature_classifier
    feats_Nx128, probs_NxC = clf.features_and_probabilities(images_NxHxWxC)  # floats in [0, 1]
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nn.classifier import FEATURE_SIZE, DigitClassifier

PyTree = Any
CHUNK_SIZE = 500


@functools.partial(jax.jit, static_argnames=("num_classes", "multi_label"))
def _forward(params: PyTree, x_NxHxWxC: jax.Array, num_classes: int, multi_label: bool):
    features_NxF, logits_NxC = DigitClassifier(num_classes).apply(params, x_NxHxWxC)
    if multi_label:
        return features_NxF, jax.nn.sigmoid(logits_NxC)
    return features_NxF, jax.nn.softmax(logits_NxC, axis=-1)


@dataclasses.dataclass(frozen=True)
class FeatureClassifier:
    """A trained `DigitClassifier`: features and class probabilities of float NHWC images in
    [0, 1], shaped like the data set's images. Applied `chunk_size` images at a time.

    params: its Flax variables ({"params": ...}); workdir: the run that trained it;
    multi_label: one sigmoid per binary attribute (CelebA) instead of a softmax over classes,
    so `probabilities` gives each attribute's probability and `attribute_names` names them."""

    dataset: str
    test_accuracy: float
    params: PyTree
    num_classes: int
    image_shape: tuple[int, int, int]
    workdir: pathlib.Path
    multi_label: bool = False
    attribute_names: tuple[str, ...] = ()

    def features_and_probabilities(
        self, images_NxHxWxC: np.ndarray, chunk_size: int = CHUNK_SIZE
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N, 128) penultimate features and (N, num_classes) softmax probabilities, float64."""
        images = self._check(images_NxHxWxC)
        n = len(images)
        chunk = max(1, min(chunk_size, n))
        feats, probs = [], []
        for start in range(0, n, chunk):
            part = np.asarray(images[start : start + chunk])
            size = len(part)
            if size < chunk:  # pad the last chunk: one compiled shape for every chunk
                part = np.concatenate([part, np.zeros((chunk - size, *self.image_shape))])
            f, p = _forward(
                self.params, jnp.asarray(part, jnp.float32), self.num_classes, self.multi_label
            )
            feats.append(np.asarray(f, np.float64)[:size])
            probs.append(np.asarray(p, np.float64)[:size])
        if not feats:
            return np.zeros((0, FEATURE_SIZE)), np.zeros((0, self.num_classes))
        return np.concatenate(feats), np.concatenate(probs)

    def features(self, images_NxHxWxC: np.ndarray, chunk_size: int = CHUNK_SIZE) -> np.ndarray:
        """(N, 128) float64 penultimate-layer features."""
        return self.features_and_probabilities(images_NxHxWxC, chunk_size)[0]

    def probabilities(self, images_NxHxWxC: np.ndarray, chunk_size: int = CHUNK_SIZE) -> np.ndarray:
        """(N, num_classes) float64 class probabilities (rows sum to 1), or per-attribute
        probabilities for a multi-label classifier."""
        return self.features_and_probabilities(images_NxHxWxC, chunk_size)[1]

    def accuracy(self, split) -> float:
        """The fraction of `split`'s images whose most probable class is their label (of
        image-attribute pairs predicted right, for a multi-label classifier)."""
        probabilities = self.probabilities(split.pixel_view())
        if self.multi_label:
            return float(np.mean((probabilities > 0.5) == split.attributes_NxA))
        return float(np.mean(probabilities.argmax(axis=1) == split.labels_N))

    def _check(self, images: np.ndarray) -> np.ndarray:
        if not hasattr(images, "shape"):  # a streamed split's Pixels stays a view: chunks
            images = np.asarray(images)
        if images.ndim != 4 or tuple(images.shape[1:]) != tuple(self.image_shape):
            raise ValueError(
                f"the {self.dataset!r} feature classifier takes images shaped "
                f"(N, {', '.join(map(str, self.image_shape))}); got {images.shape}"
            )
        if not np.issubdtype(images.dtype, np.floating):
            raise ValueError(
                f"the {self.dataset!r} feature classifier takes float images in [0, 1]; got "
                f"{images.dtype} (divide uint8 pixels by 255, as Split.pixels() does)"
            )
        return images
