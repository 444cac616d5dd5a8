"""Config blocks of the autoencoder family (tasks autoencoder, compression, anomaly)."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections


def model_config(kind: str = "dense", **overrides) -> ml_collections.ConfigDict:
    """A `config.model` block with every key an autoencoder reads
    (families/autoencoder/model.py)."""
    block = ml_collections.ConfigDict(
        {
            "kind": kind,
            "code_size": 32,
            "hidden": (512, 256),
            "channels": (32, 64),
            "downsample": "stride",
            "upsample": "transpose",
            "activation": "relu",
            "code_activation": "linear",
        }
    )
    block.update(overrides)
    return block


def linear_model_config() -> ml_collections.ConfigDict:
    """The linear autoencoder: one dense map down, one up, no activations (biases kept)."""
    return model_config("dense", hidden=(), activation="linear", code_activation="linear")


def objective_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.objective` block with every key the autoencoder loss reads."""
    block = ml_collections.ConfigDict(
        {
            "reconstruction": "mse",
            "output": "sigmoid",
            "corruption": "none",
            "noise_level": 0.0,
            "sparsity": "none",
            "sparsity_weight": 0.0,
            "sparsity_target": 0.05,
            "contractive_weight": 0.0,
        }
    )
    block.update(overrides)
    return block


def model_choices(prefix: str = "model.") -> dict[str, Collection[str]]:
    """The enumerated keys of an autoencoder's `model` block (under `prefix`) and the values
    families/autoencoder/model.py takes for each."""
    from jaxgen.families.autoencoder import model

    return {
        f"{prefix}kind": model.KINDS,
        f"{prefix}activation": model.ACTIVATIONS,
        f"{prefix}code_activation": model.ACTIVATIONS,
        f"{prefix}downsample": model.DOWNSAMPLINGS,
        f"{prefix}upsample": model.UPSAMPLINGS,
    }


def objective_choices(prefix: str = "objective.") -> dict[str, Collection[str]]:
    """The enumerated keys of the autoencoder's `objective` block (under `prefix`) and the values
    its loss (families/autoencoder/losses.py) takes for each."""
    from jaxgen.families.autoencoder import corruption, losses

    return {
        f"{prefix}reconstruction": losses.RECONSTRUCTIONS,
        f"{prefix}output": losses.OUTPUTS,
        f"{prefix}corruption": corruption.CORRUPTIONS,
        f"{prefix}sparsity": losses.SPARSITIES,
    }


def choices() -> dict[str, Collection[str]]:
    """The keys of the autoencoder and anomaly tasks that select among fixed values, and the
    values (jaxgen/families/__init__.py: Family.choices)."""
    return {**model_choices(), **objective_choices()}
