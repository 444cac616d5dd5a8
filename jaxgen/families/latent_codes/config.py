"""Config blocks of the latent-code experiments (task latent_codes): an AE and a VAE with the
same network and code size trained side by side (families/latent_codes/task.py)."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.families.autoencoder.config import model_choices
from jaxgen.families.vae.config import (
    vae_model_config,
    vae_objective_choices,
    vae_objective_config,
)
from jaxgen.train.base_config import base_config, smoke


def latent_codes_config(report_kind: str, **overrides) -> ml_collections.ConfigDict:
    """The task's config: the common keys, the dense 784-512-256-16 network shared by the AE
    (code: latent_size units) and the VAE, the VAE's ELBO objective, then `overrides`.

    report_kind: latent_sampling | clustering (families/latent_codes/report.py).
    elbo_samples: z draws of the evaluation's ELBO.
    report_samples: images decoded per latent source for FID, precision/recall, classifier score.
    interpolation_pairs, interpolation_steps: the leave rate's test pairs and points per path.
    cluster_k: the k of k-means.
    """
    config = base_config(
        task="latent_codes",
        dataset="mnist5k",
        report_kind=report_kind,
        steps=3000,
        eval_every=1000,
        checkpoint_every=1000,
        elbo_samples=10,
        report_samples=2000,
        interpolation_pairs=200,
        interpolation_steps=10,
        cluster_k=10,
        model=vae_model_config("dense", hidden=(512, 256), latent_size=16),
        objective=vae_objective_config(),
    )
    config.update(overrides)
    return config


def latent_codes_smoke(config: ml_collections.ConfigDict) -> None:
    """The seconds-long version: digits, a 64-32-4 network, few samples and pairs."""
    smoke(config, steps=20, batch_size=32, elbo_samples=2, report_samples=200)
    config.update(interpolation_pairs=20, interpolation_steps=5)
    config.model.update(hidden=(32,), channels=(8,), latent_size=4)


def choices() -> dict[str, Collection[str]]:
    """The network's and the VAE objective's enumerated keys, and `report_kind`
    (jaxgen/families/__init__.py: Family.choices)."""
    from jaxgen.families.latent_codes.task import REPORT_KINDS

    return {**model_choices(), **vae_objective_choices(), "report_kind": REPORT_KINDS}
