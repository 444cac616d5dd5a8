"""The recipe of the feature classifier behind the sample-quality metrics."""

from __future__ import annotations

import ml_collections

from jaxgen.train.base_config import base_config, smoke

# 16 epochs of mnist5k's train split (2 px random shifts, cosine-decayed Adam).
DEFAULT_STEPS = 1000


def classifier_config(
    dataset: str, steps: int = DEFAULT_STEPS, preprocess: ml_collections.ConfigDict | None = None
) -> ml_collections.ConfigDict:
    """The classifier task's config: Adam 1e-3 with a cosine decay to zero, batch 64, each
    image randomly translated by up to a fourteenth of its height (families/classifier/task.py), on
    `dataset` cropped and resized as `preprocess` says (its flips are not used)."""
    config = base_config(
        task="classifier",
        experiment="feature_classifier",
        preset="default",
        dataset=dataset,
        architecture="conv32-conv64-dense128",  # nn/classifier.py; change it with the model
        steps=steps,
        batch_size=64,
        learning_rate=1e-3,
        lr_schedule="cosine",
        eval_every=max(steps // 4, 1),
        checkpoint_every=steps,
        keep_checkpoints=1,
    )
    if preprocess is not None:
        config.preprocess.update(crop=preprocess.crop, image_size=preprocess.image_size)
    return config


def classifier_smoke(config: ml_collections.ConfigDict) -> None:
    """Seconds long, on the 8x8 digits."""
    smoke(config, steps=40, batch_size=32)
