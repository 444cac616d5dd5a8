"""The compression task's enumerated keys: its nonlinear models are autoencoder `model` blocks
(experiments/pca_vs_ae.py builds them with families/autoencoder/config.py)."""

from __future__ import annotations

from collections.abc import Collection


def choices() -> dict[str, Collection[str]]:
    """Each block of `nonlinear_models` takes an autoencoder's model choices;
    `nonlinear_reconstruction` is the autoencoder loss's `reconstruction`
    (jaxgen/families/__init__.py: Family.choices)."""
    from jaxgen.families.autoencoder.config import model_choices, objective_choices

    reconstruction = objective_choices("")["reconstruction"]
    return {**model_choices("nonlinear_models.*."), "nonlinear_reconstruction": reconstruction}
