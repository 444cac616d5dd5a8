"""Config blocks of the character-level language models."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.train.base_config import base_config, smoke


def language_model_config(**overrides) -> ml_collections.ConfigDict:
    """A language-model experiment's config: the common keys, this task's keys, `overrides`.

    cells: the cells to train (several: compared side by side). param_budget: when > 0, each
    cell's hidden size is the largest whose whole model has at most this many parameters (else
    model.hidden_size). eval_chars: how many validation characters the periodic evaluation
    scores (0: all; the final report scores the whole test text).
    """
    config = base_config(
        task="language_model",
        dataset="pydoc",
        cells=("lstm",),
        param_budget=0,
        seq_len=100,
        batch_size=32,
        steps=2000,
        eval_every=500,
        checkpoint_every=500,
        learning_rate=2e-3,
        grad_clip_norm=1.0,  # exploding gradients: clip each model's global norm
        eval_chars=10000,
        model=ml_collections.ConfigDict({"hidden_size": 256, "num_layers": 1, "embed_dim": 32}),
        sampling=ml_collections.ConfigDict(
            {
                "prompt": "The ",
                "length": 300,
                "num_texts": 3,
                "temperatures": (0.5, 1.0),
                "top_k": 10,
            }
        ),
    )
    config.update(overrides)
    return config


def language_model_smoke(config: ml_collections.ConfigDict) -> None:
    """Seconds long: a few short steps of tiny models on the embedded text."""
    smoke(config, steps=10, batch_size=8, seq_len=16, eval_chars=400, dataset="pydoc")
    config.model.update(hidden_size=16, embed_dim=8)
    config.sampling.update(length=20, num_texts=2)
    if config.param_budget:
        config.param_budget = 8000


def choices() -> dict[str, Collection[str]]:
    """Each of `cells` names a cell of jaxgen/nn/cells.py (jaxgen/families/__init__.py:
    Family.choices)."""
    from jaxgen.nn.cells import CELLS

    return {"cells": CELLS}
