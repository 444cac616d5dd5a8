"""The feature classifier behind the sample-quality metrics (FID, KID, classifier score).

A small CNN (models/classifier.py) trained by jaxgen's own loop as a normal task
(tasks/classifier.py, recipe in configs/classifier.py) on a labelled set's train split. Its
128-unit penultimate layer gives the features (FID, KID) and its softmax the class
probabilities (classifier score). It is trained once per machine and recipe, deterministically,
into a normal jaxgen workdir under `$JAXGEN_CACHE_DIR` (else ~/.cache/jaxgen/classifiers) named
`{dataset}-{hash of the recipe}`, so a changed recipe is a new entry and a run's report can say
which classifier it used.

    clf = load_classifier("mnist5k")
    feats_Nx128, probs_NxC = clf.features_and_probabilities(images_NxHxWxC)  # floats in [0, 1]
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.configs import classifier as recipe
from jaxgen.data.datasets import data_dir, file_lock
from jaxgen.errors import UserError
from jaxgen.models.classifier import FEATURE_SIZE, DigitClassifier

PyTree = Any
CHUNK_SIZE = 500


def cache_dir() -> pathlib.Path:
    """`$JAXGEN_CACHE_DIR`, else the `classifiers` folder next to the data (~/.cache/jaxgen)."""
    if "JAXGEN_CACHE_DIR" in os.environ:
        return pathlib.Path(os.environ["JAXGEN_CACHE_DIR"]).expanduser().absolute()
    return data_dir().parent.absolute() / "classifiers"


# Keys that change how training is shown, not what it computes: not part of the recipe's hash.
DISPLAY_KEYS = ("progress", "log_every")


def recipe_hash(config) -> str:
    """12 hex digits of sha256 over the recipe's JSON (sorted keys, display keys left out)."""
    recipe_dict = {k: v for k, v in json.loads(config.to_json()).items() if k not in DISPLAY_KEYS}
    text = json.dumps(recipe_dict, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


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


@functools.lru_cache(maxsize=8)
def _load(
    dataset: str, crop: str, image_size: int, steps: int, root: pathlib.Path, progress: bool
) -> FeatureClassifier:
    from jaxgen.data.preprocess import preprocess_config
    from jaxgen.train.loop import restore_params, train

    preprocess = preprocess_config(crop=crop, image_size=image_size)
    config = recipe.classifier_config(dataset, steps, preprocess)
    config.progress = progress
    workdir = root / f"{dataset}-{recipe_hash(config)}"
    if not (workdir / "summary.json").exists():
        if jax.process_count() > 1:
            raise UserError(
                f"the feature classifier of {dataset!r} is not cached in {root}; train it once "
                "in a single process: `jaxgen train --config=experiments/feature_classifier.py "
                f"--config.dataset={dataset} --workdir={workdir}`"
            )
        # pytest-xdist workers (or two runs) may ask at once: one trains, the rest wait and load.
        with file_lock(root / f".{workdir.name}.lock"):
            if not (workdir / "summary.json").exists():
                config.lock()
                train(config, workdir)  # resumes if an earlier training was interrupted
    summary = json.loads((workdir / "summary.json").read_text())
    params = restore_params(workdir)
    multi_label = bool(summary.get("multi_label", False))
    return FeatureClassifier(
        dataset=dataset,
        test_accuracy=float(summary["test_accuracy"]),
        params=params,
        num_classes=int(summary["num_classes"]),
        image_shape=_image_shape(dataset, crop, image_size),
        workdir=workdir,
        multi_label=multi_label,
        attribute_names=_attribute_names(dataset) if multi_label else (),
    )


def _attribute_names(dataset: str) -> tuple[str, ...]:
    from jaxgen.data import load_split

    return load_split(dataset, "train").attribute_names


def _image_shape(dataset: str, crop: str, image_size: int) -> tuple[int, int, int]:
    from jaxgen.data import load_split

    return load_split(dataset, "train", crop, image_size).image_shape


def load_classifier(dataset: str, preprocess=None, progress: bool = True) -> FeatureClassifier:
    """The feature classifier of `dataset` (cropped and resized as the `preprocess` block
    says): loaded from the cache, else trained by the training loop (`configs/classifier.py`'s
    recipe with `DEFAULT_STEPS` steps, with a progress bar when `progress`) and cached.
    Memoized in-process; `load_classifier.cache_clear()` forgets the memo."""
    crop = preprocess.crop if preprocess is not None else "none"
    size = int(preprocess.image_size) if preprocess is not None else 0
    return _load(dataset, crop, size, recipe.DEFAULT_STEPS, cache_dir(), bool(progress))


load_classifier.cache_clear = _load.cache_clear
