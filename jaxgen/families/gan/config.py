"""Config blocks of the GAN family (2-D mixtures, DCGAN, conditional GAN)."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.data.mixtures import MIXTURES, mixture_config
from jaxgen.train.base_config import base_config, smoke


def gan_model_config(kind: str = "mlp", **overrides) -> ml_collections.ConfigDict:
    """A `config.model` block with every key families/gan/model.py reads."""
    block = ml_collections.ConfigDict(
        {
            "kind": kind,  # mlp | dcgan
            "latent_size": 2 if kind == "mlp" else 100,
            "generator_hidden": (128, 128, 128),  # mlp
            "discriminator_hidden": (128, 128, 128),  # mlp
            "generator_channels": (256, 128, 64),  # dcgan
            "discriminator_channels": (64, 128),  # dcgan
            "transposed_conv": "jaxgen",  # dcgan generator: jaxgen (fast CPU gradient) | flax
            "spectral_norm": False,
            "conditional": False,
        }
    )
    block.update(overrides)
    return block


def gan_objective_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.objective` block with every key families/gan/adversarial.py reads."""
    block = ml_collections.ConfigDict(
        {
            "loss": "non_saturating",  # minimax | non_saturating | wasserstein_gp | hinge
            "discriminator_steps": 1,
            "gradient_penalty": 10.0,
            "average_decay": 0.999,  # generator weight average for evaluation; 0: none
            "compare_generator_losses": False,
        }
    )
    block.update(overrides)
    return block


def gan_config(model_kind: str = "mlp", **overrides) -> ml_collections.ConfigDict:
    """A GAN experiment's config: common keys, the GAN task's keys, then `overrides`.

    dataset: "ring" or "grid" (2-D mixtures, shaped by `mixture`) or an image set.
    report_samples: generated examples in the final report; eval_samples: in the periodic
    evaluation (which ranks the checkpoints).
    """
    config = base_config(
        task="gan",
        dataset="ring",
        steps=4000,
        batch_size=256,
        eval_every=500,
        checkpoint_every=500,
        log_every=10,
        generator_learning_rate=1e-3,
        discriminator_learning_rate=1e-3,
        adam_b1=0.5,
        adam_b2=0.999,
        report_samples=2500,
        eval_samples=2500,
        mixture=mixture_config(),
        model=gan_model_config(model_kind),
        objective=gan_objective_config(),
    )
    config.update(overrides)
    return config


def gan_smoke(config: ml_collections.ConfigDict) -> None:
    """The seconds-long version of a GAN experiment: one seed, tiny players, few samples."""
    image_set = config.dataset not in MIXTURES
    smoke(
        config,
        steps=20,
        batch_size=32,
        report_samples=200,
        eval_samples=100,
        seeds="",
        dataset="digits" if image_set else config.dataset,
    )
    config.model.update(
        generator_hidden=(16,),
        discriminator_hidden=(16,),
        generator_channels=(16, 8, 4),
        discriminator_channels=(4, 8),
        latent_size=min(config.model.latent_size, 8),
    )


def choices() -> dict[str, Collection[str]]:
    """The GAN's enumerated keys and the values families/gan/ takes for each
    (jaxgen/families/__init__.py: Family.choices)."""
    from jaxgen.families.gan import losses, model

    return {
        "model.kind": model.KINDS,
        "model.transposed_conv": model.TRANSPOSED_CONVS,
        "objective.loss": losses.LOSSES,
    }
