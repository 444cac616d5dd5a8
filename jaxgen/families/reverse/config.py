"""Config builders of the convnets-in-reverse experiments (experiments/style_transfer.py,
texture_synthesis.py, deepdream.py, class_visualisation.py).

Keys every method has:
- `network` (networks.NETWORKS), `weights` (a Keras VGG HDF5 file, or a classifier run's
  workdir; "" for the random networks and the cached feature classifier), `network_seed`,
  `channels` (3 or 1: the images of a random network; VGG takes RGB, a classifier what it was
  trained on);
- `check_network`, `check_weights`, `check_seed`: the second network, never optimised against,
  that measures the result ("" for none);
- `image_size`: the longer side of every image in pixels (0 keeps each image's size; an image
  already that size is not resampled);
- `learning_rate`, `optimizer` ("adam" or "lbfgs"), `adam_b1`, `adam_eps`.
Layer lists are comma-separated names; "" takes the network's own defaults (networks.py).
"""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.train.base_config import base_config


def _common(method: str, experiment: str, **overrides) -> ml_collections.ConfigDict:
    defaults = dict(
        task="reverse",
        method=method,
        experiment=experiment,
        preset="default",
        network="random_multiscale",
        weights="",
        network_seed=0,
        channels=3,
        check_network="random_multiscale",
        check_weights="",
        check_seed=1,
        # The random multi-scale network: its filter sizes and filters a size.
        multiscale_sizes="3,5,7,11,15,23",
        multiscale_width=64,
        image_size=256,
        batch_size=1,  # one image (class visualisation: one a class)
        optimizer="adam",
        learning_rate=0.02,
        adam_b1=0.99,
        adam_eps=0.1,
    )
    return base_config(**{**defaults, **overrides})


def style_config(texture: bool = False) -> ml_collections.ConfigDict:
    """Style transfer (or, with `texture`, texture synthesis), the TensorFlow tutorial's recipe:
    1,000 Adam steps (lr 0.02, beta1 0.99, eps 0.1) on pixels clipped to [0, 1]. The default
    network is the random multi-scale one, which needs no file; its loss weights make the style
    term dominate at the start as the tutorial's do in VGG19 (the tutorial's own, 1e-2, 1e4 and
    30, are for VGG19 on [0, 255] inputs, and are what the `full` presets set).

    Style transfer: scikit-image's `chelsea` in the style of `coffee`, RGB, measured in another
    seed of the random network. Texture: the gray `gravel`, measured in jaxgen's feature
    classifier of mnist5k (a trained network the texture was not made in)."""
    config = _common(
        "texture" if texture else "style_transfer",
        "texture_synthesis" if texture else "style_transfer",
        image_size=128,
        steps=1000,
        eval_every=250,
        checkpoint_every=250,
        log_every=25,
        style_image="gravel" if texture else "coffee",
        style_layers="",
        check_style_layers="",
        style_weight=1e4,
        tv_weight=1e-3,
        init="noise" if texture else "content",
    )
    if texture:
        # Total variation 100 times weaker: at 1e-3 it dominates the style term from noise and
        # the texture comes out as flat patches (measured on `gravel`).
        config.update(channels=1, check_network="classifier", check_seed=0, tv_weight=1e-5)
    else:
        config.update(
            content_image="chelsea",
            content_layers="",
            check_content_layers="",
            content_weight=1.0,
        )
    return config


def vgg19_style(config: ml_collections.ConfigDict) -> None:
    """The TensorFlow tutorial exactly: VGG19 from Keras's file, block5_conv2 for content,
    block1_conv1 ... block5_conv1 for style, weights 1e4, 1e-2 and 30, images of 512 pixels;
    measured in the random multi-scale network."""
    config.update(network="vgg19", image_size=512, style_weight=1e-2, tv_weight=30.0)
    if "content_weight" in config:
        config.content_weight = 1e4


def style_smoke(config: ml_collections.ConfigDict) -> None:
    """Seconds long: 32-pixel images, small random networks (the check network too), 6 steps."""
    config.update(
        image_size=32,
        steps=6,
        eval_every=3,
        checkpoint_every=3,
        log_every=1,
        multiscale_sizes="3,5",
        multiscale_width=8,
        check_network="random_multiscale",
        check_seed=1,
    )


def dream_config() -> ml_collections.ConfigDict:
    """DeepDream with the TensorFlow tutorial's protocol: 5 octaves (-2 ... 2) of scale 1.3, 50
    steps each, random rolls. Offline by default: the conv2 maps of jaxgen's feature classifier
    of mnist5k (gray) on scikit-image's `camera`, with steps of 0.0015: the tutorial's 0.01 on
    pixels in [-1, 1] (0.005 here, what the `full` preset sets for VGG19) turns the whole scene
    into saturated digit strokes within two octaves (root-mean-square distance from the start
    0.43, against 0.33)."""
    return _common(
        "deepdream",
        "deepdream",
        network="classifier",
        check_network="",
        start_image="camera",
        image_size=256,
        dream_layers="",
        octaves="-2,-1,0,1,2",
        octave_scale=1.3,
        steps_per_octave=50,
        steps=250,
        step_size=0.0015,
        max_roll=0,  # 0: up to the whole image
        eval_every=50,
        checkpoint_every=50,
        log_every=10,
    )


def dream_smoke(config: ml_collections.ConfigDict) -> None:
    """Seconds long: a small random network, 3 octaves of 2 steps on a 24-pixel image."""
    config.update(
        network="random_multiscale",
        multiscale_sizes="3,5",
        multiscale_width=8,
        image_size=24,
        octaves="-1,0,1",
        steps_per_octave=2,
        steps=6,
        eval_every=2,
        checkpoint_every=2,
        log_every=1,
    )


def visualisation_config() -> ml_collections.ConfigDict:
    """Class visualisation: one image per class of jaxgen's feature classifier of mnist5k,
    maximising log p(class), 512 Adam steps (lr 0.05) on a decorrelated Fourier
    parametrisation, jittered by 2 pixels and scaled by 0.9 ... 1.1; measured also in the same
    recipe trained from another seed."""
    return _common(
        "activation_maximisation",
        "class_visualisation",
        network="classifier",
        check_network="classifier",
        image_size=0,  # the classifier's own size
        batch_size=10,  # one image a class
        target_layer="logits",
        target_units="",  # all
        objective="log_probability",
        parametrisation="fourier",
        decay_power=1.0,
        init_sd=0.01,
        jitter=2,
        scales="0.9,0.95,1,1.05,1.1",
        tv_weight=0.0,
        learning_rate=0.05,
        adam_b1=0.9,
        adam_eps=1e-8,
        steps=512,
        eval_every=128,
        checkpoint_every=128,
        log_every=16,
    )


def visualisation_smoke(config: ml_collections.ConfigDict) -> None:
    """Seconds long: the 8x8 digits' classifiers, 6 steps."""
    config.update(
        dataset="digits", jitter=1, steps=6, eval_every=3, checkpoint_every=3, log_every=1
    )


def choices() -> dict[str, Collection[str]]:
    """The enumerated keys of the convnets-in-reverse experiments and the values their tasks take
    for each; `check_network` may be "" (no second network) (jaxgen/families/__init__.py:
    Family.choices)."""
    from jaxgen.families.reverse import networks, pixel_task, style, task, visualise

    return {
        "method": task.METHODS,
        "network": networks.NETWORKS,
        "check_network": ("", *networks.NETWORKS),
        "optimizer": pixel_task.OPTIMIZERS,
        "init": style.INITS,
        "parametrisation": visualise.PARAMETRISATIONS,
        "objective": visualise.OBJECTIVES,
    }
