"""Config blocks of the autoencoder family (tasks autoencoder, compression, anomaly)."""

from __future__ import annotations

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
