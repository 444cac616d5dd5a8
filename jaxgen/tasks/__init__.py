"""Tasks: what a run trains and how it is evaluated, one module per family.

Every task implements the protocol of jaxgen/tasks/base.py, the only thing the training loop
calls. `build_task(config)` builds the task that `config.task` names; with `--config.seeds`, it
wraps it into the R-replica task of jaxgen/tasks/replicated.py, which has the same protocol.
"""

from __future__ import annotations

import importlib

import ml_collections

from jaxgen.errors import UserError
from jaxgen.tasks.base import Task

# name -> (module, builder: a Task class or a function of the config); imported on use so that
# a run loads only its own family.
TASKS = {
    "autoencoder": ("jaxgen.tasks.autoencoder", "AutoencoderTask"),
    "compression": ("jaxgen.tasks.compression", "CompressionTask"),
    "anomaly": ("jaxgen.tasks.anomaly", "AnomalyTask"),
    "vae": ("jaxgen.tasks.vae", "VAETask"),
    "language_model": ("jaxgen.tasks.language_model", "LanguageModelTask"),
    "gan": ("jaxgen.tasks.gan", "build_gan_task"),
    "bigan": ("jaxgen.tasks.bigan", "BiGANTask"),
    "classifier": ("jaxgen.tasks.classifier", "ClassifierTask"),
    "translation": ("jaxgen.tasks.translation", "build_translation_task"),
    "completion": ("jaxgen.tasks.completion", "CompletionTask"),
    "vaegan": ("jaxgen.tasks.vaegan", "VAEGANTask"),
    "latent_codes": ("jaxgen.tasks.latent_codes", "LatentCodesTask"),
    "comparison": ("jaxgen.tasks.comparison", "ComparisonTask"),
}


def build_task(config: ml_collections.ConfigDict) -> Task:
    """The task named by `config.task`, built from the config (replicated over
    `config.seeds` when that names several seeds)."""
    from jaxgen.tasks.replicated import ReplicatedTask
    from jaxgen.train import replicas

    if config.task not in TASKS:
        raise UserError(f"unknown task {config.task!r}; choose one of {sorted(TASKS)}")
    module, name = TASKS[config.task]
    builder = getattr(importlib.import_module(module), name)
    seeds = replicas.parse_seeds(config.get("seeds", ""), config.seed)
    try:
        task = builder(config)
    except ValueError as err:  # bad model/objective names and combinations
        raise UserError(f"bad config: {err}") from None
    return ReplicatedTask(task, seeds, config) if seeds else task
