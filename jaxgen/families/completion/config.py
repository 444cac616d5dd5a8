"""Config blocks of the image-completion baselines: the Pyro CVAE tutorial's NN and CVAE."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.train.base_config import base_config, smoke


def completion_model_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.model` block (families/completion/model.py): every network's ReLU hidden layers,
    the CVAE's latent size, and whether its generation network sees x besides z (Pyro: no)."""
    block = ml_collections.ConfigDict(
        {"hidden": (500, 500), "latent_size": 200, "generation_sees_x": False}
    )
    block.update(overrides)
    return block


def completion_block(**overrides) -> ml_collections.ConfigDict:
    """A `config.completion` block: the quadrant counts trained side by side (regions
    given1/given2/given3, jaxgen/data/masks.py) and the region whose completions the report
    scores as pix2pix's are scored (experiments/pix2pix_completion.py's default, given3)."""
    block = ml_collections.ConfigDict({"quadrants": (1, 2, 3), "missing": "given3"})
    block.update(overrides)
    return block


def completion_config(**overrides) -> ml_collections.ConfigDict:
    """A completion experiment's config: the common keys, the task's keys, then `overrides`.

    nll_samples: K of the report's importance-sampled conditional NLLs on the test split;
    eval_nll_samples: K of the periodic evaluation on the validation split (which ranks the
    checkpoints). Adam 1e-3 and batch 128, as the Pyro tutorial.
    """
    config = base_config(
        task="completion",
        dataset="mnist5k",
        steps=2000,
        batch_size=128,
        learning_rate=1e-3,
        eval_every=500,
        checkpoint_every=500,
        nll_samples=100,
        eval_nll_samples=20,
        model=completion_model_config(),
        completion=completion_block(),
    )
    config.update(overrides)
    return config


def completion_smoke(config: ml_collections.ConfigDict) -> None:
    """The seconds-long version: 8x8 digits, tiny nets, few draws."""
    smoke(config, steps=20, batch_size=32, nll_samples=20, eval_nll_samples=5)
    config.model.update(hidden=(32,), latent_size=4)


def choices() -> dict[str, Collection[str]]:
    """`completion.missing` names the region of one of the trained quadrant counts
    (jaxgen/families/__init__.py: Family.choices)."""
    from jaxgen.families.completion.task import MISSING

    return {"completion.missing": MISSING}
