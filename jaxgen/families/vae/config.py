"""Config blocks of the VAE family (VAE, beta-VAE, conditional VAE, IWAE)."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.families.autoencoder.config import model_choices, model_config
from jaxgen.train.base_config import base_config, smoke


def vae_model_config(kind: str = "dense", **overrides) -> ml_collections.ConfigDict:
    """A `config.model` block: an autoencoder block (the network) plus the VAE's keys."""
    block = model_config(kind, latent_size=20, conditional=False)
    block.update(overrides)
    return block


def vae_objective_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.objective` block with every key the VAE loss reads (see families/vae/losses.py)."""
    block = ml_collections.ConfigDict(
        {
            "kind": "elbo",  # elbo | iwae
            # z draws per example in the training objective: averaged (elbo) or the IWAE's K.
            "importance_samples": 1,
            "beta": 1.0,
            "kl_warmup_steps": 0,
            # auto (bernoulli on grey images, discretized_logistic on colour) | bernoulli |
            # gaussian_fixed | gaussian_learned | discretized_logistic
            "likelihood": "auto",
            "gaussian_scale": 0.1,
            "binarize": "auto",  # auto (dynamic for bernoulli, else none) | dynamic | static | none
        }
    )
    block.update(overrides)
    return block


def vae_config(**overrides) -> ml_collections.ConfigDict:
    """A VAE experiment's config: the common keys, the VAE task's keys, then `overrides`.

    nll_samples: K of the final importance-sampled NLL; eval_nll_samples: K of the periodic
    evaluation on the validation split (which ranks the checkpoints).
    """
    config = base_config(
        task="vae",
        dataset="mnist5k",
        steps=3000,
        eval_every=1000,
        checkpoint_every=1000,
        nll_samples=1000,
        eval_nll_samples=50,
        model=vae_model_config(),
        objective=vae_objective_config(),
    )
    config.update(overrides)
    return config


def vae_smoke(config: ml_collections.ConfigDict) -> None:
    """The seconds-long version of a VAE experiment: digits, tiny nets, few draws."""
    smoke(config, steps=20, batch_size=32, nll_samples=20, eval_nll_samples=5)
    config.model.update(hidden=(32,), channels=(8,), latent_size=min(config.model.latent_size, 4))


def vae_objective_choices(prefix: str = "objective.") -> dict[str, Collection[str]]:
    """The enumerated keys of a VAE's `objective` block (under `prefix`) and the values
    families/vae/losses.py takes for each."""
    from jaxgen.families.vae import losses

    return {
        f"{prefix}kind": losses.OBJECTIVES,
        f"{prefix}likelihood": losses.LIKELIHOOD_CHOICES,
        f"{prefix}binarize": losses.BINARIZE_CHOICES,
    }


def choices() -> dict[str, Collection[str]]:
    """The VAE's enumerated keys: its network is an autoencoder's `model` block
    (jaxgen/families/__init__.py: Family.choices)."""
    return {**model_choices(), **vae_objective_choices()}
