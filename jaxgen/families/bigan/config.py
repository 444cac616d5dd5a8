"""Config blocks of the BiGAN / ALI family (families/bigan/task.py)."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.train.base_config import base_config, smoke


def bigan_model_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.model` block with every key families/bigan/model.py reads (widths for 28x28)."""
    block = ml_collections.ConfigDict(
        {
            "latent_size": 50,
            "encoder_channels": (64, 128),  # the DCGAN discriminator's trunk
            "stochastic_encoder": False,  # False: BiGAN's E(x); True: ALI's reparametrized E
            "generator_channels": (256, 128, 64),  # the DCGAN generator (families/gan/model.py)
            "transposed_conv": "jaxgen",
            "discriminator_channels": (64, 128),  # D's conv trunk on x
            "discriminator_z_hidden": (256,),  # D's MLP on z
            "discriminator_joint_hidden": (512,),  # D's MLP on the concatenated features
            "discriminator_dropout": 0.2,
        }
    )
    block.update(overrides)
    return block


def bigan_config(**overrides) -> ml_collections.ConfigDict:
    """A BiGAN experiment's config: common keys, the BiGAN task's keys, then `overrides`.

    eval_samples: generated images (and split images reconstructed) in the periodic evaluation;
    report_samples: generated images in the report; probe_train_examples: train images the
    report's linear probes fit on (0: all).
    """
    config = base_config(
        task="bigan",
        dataset="mnist5k",
        steps=2000,
        batch_size=64,
        eval_every=500,
        checkpoint_every=500,
        log_every=20,
        generator_learning_rate=2e-4,  # the encoder's too
        discriminator_learning_rate=2e-4,
        adam_b1=0.5,
        adam_b2=0.999,
        report_samples=2000,
        eval_samples=1000,
        probe_train_examples=0,
        model=bigan_model_config(),
        # The encoder's and generator's weight average for evaluation (0: none), as the
        # DCGAN's generator (families/gan/adversarial.py).
        objective=ml_collections.ConfigDict({"average_decay": 0.999}),
    )
    config.update(overrides)
    return config


def bigan_smoke(config: ml_collections.ConfigDict) -> None:
    """The seconds-long version of a BiGAN experiment on `digits`: tiny networks, few samples."""
    smoke(config, steps=20, batch_size=32, report_samples=200, eval_samples=100, seeds="")
    config.model.update(
        latent_size=8,
        encoder_channels=(4, 8),
        generator_channels=(16, 8, 4),
        discriminator_channels=(4, 8),
        discriminator_z_hidden=(16,),
        discriminator_joint_hidden=(16,),
    )


def choices() -> dict[str, Collection[str]]:
    """The BiGAN's enumerated keys: its generator is the DCGAN's (families/gan/model.py)
    (jaxgen/families/__init__.py: Family.choices)."""
    from jaxgen.families.gan.model import TRANSPOSED_CONVS

    return {"model.transposed_conv": TRANSPOSED_CONVS}
