"""The feature space that every image score is taken in (FID, KID, precision/recall, label
scores): a data set's feature classifier and the features of its real images, computed once."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class FeatureSpace:
    """The feature classifier of `dataset` at `preprocess` (trained and cached on first use, by
    the layer that orchestrates runs) and the features of real images, computed once per name.
    The image GANs, VAE-GAN, BiGAN and the comparison hold one for their data set; CycleGAN holds
    one per domain; pix2pix scores its outputs in one."""

    def __init__(self, dataset: str, preprocess=None, progress: bool = False):
        self.dataset, self.preprocess, self.progress = dataset, preprocess, progress
        self._references: dict = {}

    @property
    def classifier(self):
        return self.load_classifier()

    def load_classifier(self):
        """The classifier: from the cache, else trained and cached (memoized in-process)."""
        from jaxgen.feature_classifier import load_classifier

        return load_classifier(self.dataset, self.preprocess, progress=self.progress)

    def features(self, images: np.ndarray) -> np.ndarray:
        """The classifier's features of images with pixels in [0, 1]."""
        return self.classifier.features(np.asarray(images))

    def reference(self, name, images: Callable[[], np.ndarray]) -> np.ndarray:
        """The features of the real images `images()` returns, computed on the first call for
        `name` (a split, or a split and a count) and kept."""
        if name not in self._references:
            self._references[name] = self.features(images())
        return self._references[name]

    def fid(self, real_features: np.ndarray, images: np.ndarray) -> float:
        """FID of `images` (pixels in [0, 1]) against real images' features."""
        from jaxgen.metrics.sample_quality import fid

        return fid(real_features, self.features(images))


class ClassifierFeatures:
    """A mixin for tasks with `config` and `splits` ({"validation": Split, "test": Split}):
    `feature_space`, the `FeatureSpace` of `config.dataset` at `config.preprocess`, with
    `classifier`, `real_features(split)` (the reference of every FID, computed once per split)
    and `fid_to(split, images)`."""

    @property
    def feature_space(self) -> FeatureSpace:
        if "_feature_space" not in self.__dict__:
            c = self.config
            self._feature_space = FeatureSpace(c.dataset, c.get("preprocess"), c.progress)
        return self._feature_space

    @property
    def classifier(self):
        return self.feature_space.classifier

    # False where the data set has neither labels nor attributes to train a classifier on (an
    # unlabelled image folder): the task then scores without one (the GANs, VAE-GAN).
    has_feature_network: bool = True

    def prepare_evaluation(self) -> None:
        """The classifier, loaded, or trained and cached, while the run is set up
        (`Task.prepare_evaluation`)."""
        if self.has_feature_network:
            self.feature_space.load_classifier()

    def real_features(self, split: str) -> np.ndarray:
        return self.feature_space.reference(split, self.splits[split].pixel_view)

    def fid_to(self, split: str, images: np.ndarray) -> float:
        """FID of `images` (pixels in [0, 1]) against the split's images, in the classifier's
        features."""
        return self.feature_space.fid(self.real_features(split), images)

    def fid_protocol(self, split: str, n: int, what: str = "generated images") -> str:
        """The protocol of `fid_to(split, n images)`, for the report: its sample counts."""
        return f"FID of {n} {what} against the {len(self.splits[split])} {split} images"
