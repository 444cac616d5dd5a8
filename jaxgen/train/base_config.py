"""The keys every experiment has, and the smoke preset's shape."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import ml_collections

# Every experiment has these; experiment files add their own.
COMMON_DEFAULTS = {
    "seed": 0,
    "seeds": "",  # "" one run; "4" or "0,1,2,3": replicas in one program (train/replicas.py)
    "steps": 1000,
    "batch_size": 128,
    "dataset": "mnist5k",
    "eval_every": 500,
    "checkpoint_every": 500,
    "log_every": 50,
    "keep_checkpoints": 2,
    "progress": True,
    "learning_rate": 1e-3,
    "lr_schedule": "constant",
    "grad_clip_norm": 0.0,
    # The input pipeline (data/pipeline.py: iterate): batches read ahead, worker processes.
    "prefetch_batches": 2,
    "data_workers": 0,
    # Splits up to this many MiB of pixels are decoded once into memory; larger ones stream
    # from their array_record files (data/datasets.py: IN_MEMORY_MB). Never changes the data.
    "data_in_memory_mb": 512,
}


def common_choices() -> dict[str, Collection[str]]:
    """The keys of COMMON_DEFAULTS and `preprocess` that select among fixed values, and those
    values, as the code that dispatches on them holds them (families/enumerated.py)."""
    from jaxgen.data.preprocess import CROPS
    from jaxgen.train.state import LR_SCHEDULES

    return {"lr_schedule": LR_SCHEDULES, "preprocess.crop": CROPS}


def base_config(**overrides: Any) -> ml_collections.ConfigDict:
    """Returns a ConfigDict with the common keys (and an image `preprocess` block: no crop, no
    resize, no flips), updated by `overrides` (which may add keys)."""
    from jaxgen.data.preprocess import preprocess_config

    config = ml_collections.ConfigDict(dict(COMMON_DEFAULTS))
    config.preprocess = preprocess_config()
    for key, value in overrides.items():
        config[key] = value
    return config


def smoke(config: ml_collections.ConfigDict, steps: int, batch_size: int, **overrides) -> None:
    """Turns `config` into a seconds-long test run on the 8x8 `digits` set: evaluates and
    checkpoints twice, logs every few steps."""
    half = max(steps // 2, 1)
    config.update(
        steps=steps,
        batch_size=batch_size,
        eval_every=half,
        checkpoint_every=half,
        log_every=max(half // 2, 1),
        **{"dataset": "digits", **overrides},
    )


def sibling_experiment(this_file: str, name: str):
    """The experiment module `name` beside `this_file`: an experiment that is another one plus a
    change (the conditional GAN is the DCGAN with labels) builds on its recipe instead of
    copying it."""
    import importlib.util
    import pathlib

    path = pathlib.Path(this_file).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"jaxgen_experiment_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
