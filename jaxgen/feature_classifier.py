"""The feature classifier of a data set, trained once and cached: the run that other runs'
sample-quality metrics (FID, KID, classifier score) need, orchestrated beside the CLI.

A small CNN (nn/classifier.py) trained by jaxgen's own loop as a normal run of the `classifier`
family (families/classifier/, recipe in families/classifier/config.py) on a labelled set's
train split. It is trained once per machine and recipe, deterministically, into a normal jaxgen
workdir under `$JAXGEN_CACHE_DIR` (else ~/.cache/jaxgen/classifiers) named
`{dataset}-{hash of the recipe}`, so a changed recipe is a new entry and a run's report can say
which classifier it used. What the trained network computes is metrics/classifier.py's.

    clf = load_classifier("mnist5k")
    feats_Nx128, probs_NxC = clf.features_and_probabilities(images_NxHxWxC)  # floats in [0, 1]
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib

import jax

from jaxgen.data.datasets import data_dir, file_lock
from jaxgen.errors import UserError
from jaxgen.families.classifier import config as recipe
from jaxgen.metrics.classifier import FeatureClassifier


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


def entry_name(dataset: str, config) -> str:
    """The cache folder's name: `{data set}-{recipe hash}`. A folder given by path is named by
    its last component: the whole path would put the classifier beside the data, outside the
    cache (the recipe's hash holds the full path, so two folders of one name do not collide)."""
    return f"{pathlib.Path(dataset).name or 'folder'}-{recipe_hash(config)}"


@functools.lru_cache(maxsize=8)
def _load(
    dataset: str,
    crop: str,
    image_size: int,
    steps: int,
    root: pathlib.Path,
    progress: bool,
    seed: int = 0,
) -> FeatureClassifier:
    from jaxgen.data.preprocess import preprocess_config
    from jaxgen.train.loop import restore_params, train

    preprocess = preprocess_config(crop=crop, image_size=image_size)
    config = recipe.classifier_config(dataset, steps, preprocess)
    config.progress = progress
    config.seed = seed  # 0, the recipe's own, keeps its hash (and cache entry) as before
    workdir = root / entry_name(dataset, config)
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


def load_classifier(
    dataset: str, preprocess=None, progress: bool = True, seed: int = 0
) -> FeatureClassifier:
    """The feature classifier of `dataset` (cropped and resized as the `preprocess` block
    says): loaded from the cache, else trained by the training loop
    (`families/classifier/config.py`'s recipe with `DEFAULT_STEPS` steps, with a progress bar when
    `progress`) and cached. Another `seed` trains the same recipe independently (another cache
    entry): the second classifier that tests whether something transfers.
    Memoized in-process; `load_classifier.cache_clear()` forgets the memo."""
    crop = preprocess.crop if preprocess is not None else "none"
    size = int(preprocess.image_size) if preprocess is not None else 0
    return _load(dataset, crop, size, recipe.DEFAULT_STEPS, cache_dir(), bool(progress), int(seed))


load_classifier.cache_clear = _load.cache_clear
