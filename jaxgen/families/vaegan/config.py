"""Config blocks of the VAE-GAN family (Larsen et al. 2016)."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.families.vaegan.losses import EQUILIBRIUM, GENERATOR_LOSSES
from jaxgen.train.base_config import base_config, smoke


def vaegan_model_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.model` block with every key families/vaegan/model.py reads (widths for 28x28,
    fitted to other sizes)."""
    block = ml_collections.ConfigDict(
        {
            "latent_size": 32,
            "encoder_channels": (32, 64),
            "decoder_channels": (128, 64, 32),  # the DCGAN generator's
            "discriminator_channels": (32, 64),
            "feature_layer": -1,  # Dis_l: the conv layer whose features L_llike compares
            "transposed_conv": "jaxgen",
        }
    )
    block.update(overrides)
    return block


def vaegan_objective_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.objective` block with every key families/vaegan/losses.py reads."""
    block = ml_collections.ConfigDict(
        {
            "gamma": 1e-2,  # decoder: gamma * L_llike + adversarial_weight * L_G
            "adversarial_weight": 1.0,
            "generator_loss": "non_saturating",  # non_saturating | minimax (the reference's)
            "equilibrium": False,  # the reference's margin rule
            "equilibrium_value": EQUILIBRIUM,
            "margin": 0.35,
            # The encoder's and decoder's weight average for evaluation (0: none), as the
            # DCGAN's generator (families/gan/adversarial.py).
            "average_decay": 0.999,
        }
    )
    block.update(overrides)
    return block


def vaegan_config(**overrides) -> ml_collections.ConfigDict:
    """A VAE-GAN experiment's config: common keys, the task's keys, then `overrides`.

    One Adam per player at `learning_rate` with betas (adam_b1, adam_b2); report_samples prior
    samples in the final report, eval_samples in the periodic evaluation (which ranks the
    checkpoints by FID).
    """
    config = base_config(
        task="vaegan",
        dataset="mnist5k",
        steps=1500,
        batch_size=64,
        learning_rate=3e-4,
        adam_b1=0.5,
        adam_b2=0.999,
        eval_every=250,
        checkpoint_every=250,
        log_every=10,
        report_samples=4000,
        eval_samples=1000,
        model=vaegan_model_config(),
        objective=vaegan_objective_config(),
    )
    config.update(overrides)
    return config


def vaegan_smoke(config: ml_collections.ConfigDict) -> None:
    """The seconds-long version: digits, tiny networks, few samples."""
    smoke(config, steps=20, batch_size=32, report_samples=200, eval_samples=100, seeds="")
    config.model.update(
        latent_size=8,
        encoder_channels=(4, 8),
        decoder_channels=(16, 8, 4),
        discriminator_channels=(4, 8),
    )


def choices() -> dict[str, Collection[str]]:
    """The VAE-GAN's enumerated keys: its decoder is the DCGAN's generator
    (families/gan/model.py) (jaxgen/families/__init__.py: Family.choices)."""
    from jaxgen.families.gan.model import TRANSPOSED_CONVS

    return {
        "model.transposed_conv": TRANSPOSED_CONVS,
        "objective.generator_loss": GENERATOR_LOSSES,
    }
