"""What every task that scores images in a feature classifier's space shares (FID, KID,
precision/recall): the data set's classifier and its features of the evaluation splits."""

from __future__ import annotations

import numpy as np


class ClassifierFeatures:
    """A mixin for tasks with `config` and `splits` ({"validation": Split, "test": Split}):
    `classifier`, the feature classifier of `config.dataset` at `config.preprocess` (trained
    and cached on first use), and `real_features(split)`, its features of a split's images,
    the reference of every FID, computed once per split."""

    @property
    def classifier(self):
        from jaxgen.feature_classifier import load_classifier

        return load_classifier(
            self.config.dataset, self.config.get("preprocess"), progress=self.config.progress
        )

    def real_features(self, split: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_real_features", {})
        if split not in cache:
            cache[split] = self.classifier.features(self.splits[split].pixel_view())
        return cache[split]

    def fid_to(self, split: str, images: np.ndarray) -> float:
        """FID of `images` (pixels in [0, 1]) against the split's images, in the classifier's
        features."""
        from jaxgen.metrics.sample_quality import fid

        return fid(self.real_features(split), self.classifier.features(images))
