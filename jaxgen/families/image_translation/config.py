"""Config blocks of the image-translation family: pix2pix (paired) and CycleGAN (unpaired)."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.train.base_config import base_config, smoke


def translation_model_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.model` block with every key families/image_translation/model.py is built from; 0
    means the size-scaled default (U-Net depth, ResNet blocks, PatchGAN layers)."""
    block = ml_collections.ConfigDict(
        {
            "generator": "unet",  # unet (pix2pix) | resnet (CycleGAN)
            "generator_base": 64,
            "discriminator_base": 64,
            "norm": "batch",  # batch (pix2pix) | instance (CycleGAN)
            "dropout": 0.5,  # U-Net decoder dropout: pix2pix's noise source
            "unet_depth": 0,
            "resnet_blocks": 0,
            "patch_layers": 0,
        }
    )
    block.update(overrides)
    return block


def translation_objective_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.objective` block: the method and its weights (the reference defaults)."""
    block = ml_collections.ConfigDict(
        {
            "method": "pix2pix",  # pix2pix | cyclegan
            "gan_loss": "vanilla",  # vanilla (pix2pix) | lsgan (CycleGAN)
            "l1_weight": 100.0,  # pix2pix's lambda
            "lambda_a": 10.0,  # CycleGAN's cycle weights, each way
            "lambda_b": 10.0,
            "identity": 0.5,  # identity loss weight, times lambda
            "pool_size": 50,  # CycleGAN's history of generated images per discriminator
        }
    )
    block.update(overrides)
    return block


def translation_config(method: str, **overrides) -> ml_collections.ConfigDict:
    """A translation experiment's config: common keys, the family's blocks, then `overrides`.

    pix2pix reads `dataset` and `paired` (kind completion | edges | side_by_side, edge_sigma,
    direction) and `completion.missing` (jaxgen/data/masks.py); CycleGAN reads `dataset` (a
    cycle_gan/* set) or `domain_a` and `domain_b` (names or folders). Adam 2e-4, beta1 0.5,
    constant then linear decay to 0 from half-way, as the reference.
    """
    cyclegan = method == "cyclegan"
    config = base_config(
        task="image_translation",
        dataset="mnist5k",
        domain_a="",
        domain_b="",
        steps=2000,
        batch_size=16,
        eval_every=500,
        checkpoint_every=500,
        log_every=50,
        learning_rate=2e-4,
        adam_b1=0.5,
        lr_schedule="linear_decay",
        lr_decay_start=0.5,
        eval_examples=1000,  # validation/test examples each evaluation translates (0: all)
        report_examples=0,  # test examples of the report (0: all)
    )
    config.model = translation_model_config(
        generator="resnet" if cyclegan else "unet", norm="instance" if cyclegan else "batch"
    )
    config.objective = translation_objective_config(
        method=method, gan_loss="lsgan" if cyclegan else "vanilla"
    )
    config.paired = ml_collections.ConfigDict(
        {"kind": "completion", "edge_sigma": 1.0, "direction": "AtoB"}
    )
    config.completion = ml_collections.ConfigDict({"missing": "given3"})
    for key, value in overrides.items():
        config[key] = value
    return config


def translation_smoke(config: ml_collections.ConfigDict) -> None:
    """Seconds-long: 8x8 digits (CycleGAN: digits against themselves mirrored is not a real
    shift, so the smoke preset pairs `digits` with `mnist5k` at 8x8), tiny networks."""
    smoke(config, steps=6, batch_size=4, eval_examples=40, report_examples=40)
    config.model.update(generator_base=4, discriminator_base=4)
    if config.objective.method == "cyclegan":
        config.update(dataset="", domain_a="digits", domain_b="mnist5k")
        config.preprocess.image_size = 8
        config.objective.pool_size = 6


def choices() -> dict[str, Collection[str]]:
    """pix2pix's and CycleGAN's enumerated keys and the values their networks, losses and pair
    makers take for each (jaxgen/families/__init__.py: Family.choices)."""
    from jaxgen.data import image_pairs, masks
    from jaxgen.families.image_translation import losses, model, task

    return {
        "model.generator": task.GENERATORS,
        "model.norm": model.NORMS,
        "objective.method": task.METHODS,
        "objective.gan_loss": losses.GAN_MODES,
        "paired.kind": image_pairs.PAIRED_KINDS,
        "paired.direction": image_pairs.PAIRED_DIRECTIONS,
        "completion.missing": masks.REGIONS,
    }
