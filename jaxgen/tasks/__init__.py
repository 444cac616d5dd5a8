"""Tasks: what a run trains and how it is evaluated. The training loop is the same for all.

A task is built from a config and provides:
  init_params(key) -> params
  loss(params, batch, key, step) -> (scalar, aux dict)     (pure; differentiated by the loop)
  train_dataset(seed) -> grain.MapDataset of this process's batches, in the order `seed` gives
  batch_axis: the batch axis of those arrays (1 when a leading axis holds replicas)
  evaluate(params) -> dict of eval numbers (periodic; ranks checkpoints by best_metric/best_mode)
  report(params, workdir) -> viz.report.Report (final numbers with protocol, figures)
and optionally:
  param_labels(params), group_learning_rates: optimizer groups (own Adam and clipping each)
  initial_carry() -> pytree carried from batch to batch in the train state (truncated BPTT);
      then loss(params, batch, key, step, carry) -> (scalar, (aux dict, new carry))
  snapshot(params) -> dict of arrays saved at each evaluation (samples from fixed noise), for
      figures of training progress: snapshots/STEP.npz
A task with its own update rule (a GAN's alternating updates) provides instead of `loss`:
  init_state(key) -> train_state.TrainState, train_step(state, batch, key) -> (state, metrics)
      (pure; metrics include "loss"), and eval_params(state) -> what evaluate/report receive
"""

from __future__ import annotations

import importlib

import ml_collections

from jaxgen.errors import UserError

# name -> (module, class); imported on use so that a run loads only its own task.
TASKS = {
    "autoencoder": ("jaxgen.tasks.autoencoder", "AutoencoderTask"),
    "compression": ("jaxgen.tasks.compression", "CompressionTask"),
    "anomaly": ("jaxgen.tasks.anomaly", "AnomalyTask"),
    "vae": ("jaxgen.tasks.vae", "VAETask"),
    "language_model": ("jaxgen.tasks.language_model", "LanguageModelTask"),
    "gan": ("jaxgen.tasks.gan", "GANTask"),
}


def build_task(config: ml_collections.ConfigDict):
    """The task named by `config.task`, built from the config."""
    if config.task not in TASKS:
        raise UserError(f"unknown task {config.task!r}; choose one of {sorted(TASKS)}")
    module, name = TASKS[config.task]
    task_class = getattr(importlib.import_module(module), name)
    try:
        return task_class(config)
    except ValueError as err:  # bad model/objective names and combinations
        raise UserError(f"bad config: {err}") from None
