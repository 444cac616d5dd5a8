"""The feature networks that images are optimised against, chosen by name in the config.

- `vgg16`, `vgg19`: Keras's ImageNet VGG read from its published HDF5 weights file
  (`--config.weights=PATH`; nn/vgg.py), with Keras's own input preprocessing;
- `random_vgg16`, `random_vgg19`: the same architecture with seeded He-normal weights (He, Wang &
  Hopcroft 2016: a deep network with random weights already transfers style);
- `random_multiscale`: one layer of seeded random filters of several sizes, ReLU, no pooling
  (Ustyuzhaninov, Brendel, Gatys & Bethge 2016: such a layer synthesises textures that compete
  with VGG's); usable offline with no weights at all;
- `classifier`: one of jaxgen's own trained networks, the cached feature classifier of
  `config.dataset` (jaxgen/feature_classifier.py), or any classifier run's workdir given as
  `weights`.

A `FeatureNetwork` is data plus a pure function: `forward(weights, images, layers)` maps float
images in [0, 1] (N x H x W x C) to {layer name: activations}; the weights travel to the jitted
step as frozen inputs (train/protocol.py), never as compiled constants.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.errors import UserError
from jaxgen.nn import onednn, vgg

PyTree = Any
NETWORKS = (
    "vgg16",
    "vgg19",
    "random_vgg16",
    "random_vgg19",
    "random_multiscale",
    "classifier",
)
# Ustyuzhaninov et al. use sizes up to 55 pixels; past 23 a CPU step costs seconds at 256x256.
MULTISCALE_SIZES = (3, 5, 7, 11, 15, 23)
# All the scales' maps together: their Gram matrix holds the cross-scale terms too.
MULTISCALE_LAYER = "multiscale"
# The TensorFlow style-transfer tutorial's style layers (its content layer is block5_conv2).
VGG_STYLE_LAYERS = tuple(f"block{b}_conv1" for b in range(1, 6))


@dataclasses.dataclass(frozen=True)
class FeatureNetwork:
    """A frozen network whose activations images are optimised against.

    name: a short tag for summary keys ("random_multiscale_seed1", "vgg19", "classifier").
    description: one phrase for reports (what it is, where its weights came from).
    channels: the image channels it takes (3 RGB, 1 gray).
    layers: the names `forward` can return, in forward order.
    weights: the arrays `forward` reads.
    identity: what the weights are (sha256 of a file, a seed recipe, a run's fingerprint).
    forward: forward(weights, images_NxHxWxC in [0, 1], layers tuple) -> {layer: activations}.
    min_size: min_size(layers) -> the smallest image side those layers can take.
    style_layers, content_layers, dream_layers: the layers used when the config names none
        (for VGG, the TensorFlow tutorials' choices).
    exact_size: the H x W that the layers in `sized_layers` need (a classifier's dense layers),
        else None.
    num_classes: the classes of a classifier's `logits` (0 for the others).
    """

    name: str
    description: str
    channels: int
    layers: tuple[str, ...]
    weights: PyTree
    identity: str
    forward: Callable[[PyTree, jax.Array, tuple[str, ...]], dict[str, jax.Array]]
    min_size: Callable[[Sequence[str]], int]
    style_layers: tuple[str, ...]
    content_layers: tuple[str, ...]
    dream_layers: tuple[str, ...]
    exact_size: tuple[int, int] | None = None
    sized_layers: tuple[str, ...] = ()
    num_classes: int = 0

    def check(self, layers: Sequence[str], image_shape: tuple[int, ...], role: str) -> None:
        """UserError (one line) unless `layers` exist and an image of `image_shape` (H, W, C)
        fits them; `role` names the images in the message ("style image")."""
        unknown = [name for name in layers if name not in self.layers]
        if unknown:
            raise UserError(
                f"{self.name} has no layer {', '.join(map(repr, unknown))}; its layers are "
                f"{', '.join(self.layers)}"
            )
        height, width = image_shape[:2]
        need = self.min_size(layers)
        if min(height, width) < need:
            raise UserError(
                f"the {role} is {height}x{width} pixels, smaller than {self.name}'s layers "
                f"{', '.join(layers)} can take ({need} pixels a side): raise image_size"
            )
        if any(name in self.sized_layers for name in layers) and (height, width) != tuple(
            self.exact_size
        ):
            raise UserError(
                f"the {role} is {height}x{width} pixels but {self.name}'s layers "
                f"{', '.join(n for n in layers if n in self.sized_layers)} take exactly "
                f"{self.exact_size[0]}x{self.exact_size[1]} (its dense layers): set image_size "
                f"to {max(self.exact_size)}"
            )


def load_network(
    name: str, weights: str, seed: int, channels: int, config: ml_collections.ConfigDict
) -> FeatureNetwork:
    """The network `name` (one of NETWORKS): read from `weights` (a Keras HDF5 file, or a
    classifier run's workdir), drawn from `seed` (the random ones, for images of `channels`
    channels; the multi-scale one's sizes and width from the config), or the cached feature
    classifier of `config.dataset`."""
    if name in vgg.NETWORKS:
        if not weights:
            raise UserError(
                f"network {name} needs Keras's ImageNet weights file {vgg.keras_filename(name)} "
                f"({vgg.keras_url(name)}); download it once, anywhere (Keras keeps it in "
                "~/.keras/models/), and pass --config.weights=PATH: weights are never "
                "downloaded at run time"
            )
        path = pathlib.Path(weights).expanduser()
        arrays = vgg.read_keras_weights(path, name)
        return _vgg_network(name, arrays, _file_identity(path), f"Keras's ImageNet {name} ({path})")
    if name.startswith("random_vgg"):
        network = name.removeprefix("random_")
        arrays = vgg.random_weights(jax.random.key(seed), network)
        arrays = jax.tree.map(np.asarray, arrays)
        description = f"{network} with He-normal random weights (seed {seed})"
        return _vgg_network(f"{name}_seed{seed}", arrays, f"{name} seed={seed}", description)
    if name == "random_multiscale":
        sizes = tuple(int(k) for k in str(config.multiscale_sizes).split(",") if k.strip())
        return multiscale_network(seed, channels, sizes, config.multiscale_width)
    if name == "classifier":
        return classifier_network(weights, config.dataset, seed, config.progress)
    raise UserError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}")


def _file_identity(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _vgg_forward(weights, images, layers):
    # Keras's preprocessing works on [0, 255] RGB; a gray image is read as equal R, G and B.
    rgb = jnp.broadcast_to(images, (*images.shape[:3], 3))
    return vgg.features(weights, vgg.preprocess_input(255.0 * rgb), layers)


def _vgg_network(name: str, arrays, identity: str, description: str) -> FeatureNetwork:
    network = "vgg19" if "block5_conv4" in arrays else "vgg16"
    return FeatureNetwork(
        name=name,
        description=description,
        channels=3,
        layers=tuple(vgg.layer_names(network)),
        weights=arrays,
        identity=identity,
        forward=_vgg_forward,
        min_size=vgg.min_image_size,
        style_layers=VGG_STYLE_LAYERS,
        content_layers=("block5_conv2",),
        dream_layers=("block4_conv2", "block5_conv2"),
    )


# ---------------------------------------------------------------- random multi-scale network


def multiscale_weights(
    key: jax.Array, channels: int, sizes: Sequence[int] = MULTISCALE_SIZES, width: int = 64
) -> dict[str, dict[str, np.ndarray]]:
    """{f"scale{k}": {"kernel": k x k x channels x width, "bias": width}}: He-normal kernels
    (std sqrt(2 / fan_in), so every scale's maps have about the same variance) and zero biases."""
    out = {}
    for size, layer_key in zip(sizes, jax.random.split(key, len(sizes)), strict=True):
        std = math.sqrt(2.0 / (size * size * channels))
        kernel = std * jax.random.normal(layer_key, (size, size, channels, width))
        out[f"scale{size}"] = {
            "kernel": np.asarray(kernel, np.float32),
            "bias": np.zeros(width, np.float32),
        }
    return out


def multiscale_forward(weights, images, layers) -> dict[str, jax.Array]:
    """{scaleK: ReLU(conv_K(x - 0.5))} for every scale, and `multiscale`: all of them stacked
    on the channel axis. SAME padding, stride 1: every map has the image's size. Centring the
    pixels makes a flat grey image excite nothing, as ImageNet mean subtraction does for VGG."""
    del layers  # one layer: every map is needed for `multiscale` anyway
    x = images - 0.5
    maps = {}
    # By filter size, not dict order: a dict that passed through jit comes back with sorted
    # keys ("scale11" before "scale3"), and the stacked maps' order must not depend on that.
    for name in sorted(weights, key=lambda n: int(n.removeprefix("scale"))):
        layer = weights[name]
        y = onednn.conv_general_dilated_compatible(
            x, layer["kernel"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        maps[name] = jax.nn.relu(y + layer["bias"])
    maps[MULTISCALE_LAYER] = jnp.concatenate(list(maps.values()), axis=-1)
    return maps


def multiscale_network(
    seed: int, channels: int, sizes: Sequence[int] = MULTISCALE_SIZES, width: int = 64
) -> FeatureNetwork:
    """The single-layer random multi-scale network for images of `channels` channels."""
    arrays = multiscale_weights(jax.random.key(seed), channels, sizes, width)
    scales = tuple(f"scale{k}" for k in sizes)
    return FeatureNetwork(
        name=f"random_multiscale_seed{seed}",
        description=(
            f"one layer of random filters, {width} each of sizes {', '.join(map(str, sizes))} "
            f"pixels, ReLU (Ustyuzhaninov et al. 2016; seed {seed})"
        ),
        channels=channels,
        layers=(*scales, MULTISCALE_LAYER),
        weights=arrays,
        identity=f"random_multiscale seed={seed} sizes={list(sizes)} width={width} c={channels}",
        forward=multiscale_forward,
        min_size=lambda layers: 1,
        style_layers=(MULTISCALE_LAYER,),
        content_layers=(MULTISCALE_LAYER,),
        dream_layers=(MULTISCALE_LAYER,),
    )


# ---------------------------------------------------------------- jaxgen's own classifiers

CLASSIFIER_LAYERS = ("conv1", "conv2", "features", "logits")


def classifier_forward(weights, images, layers, num_classes: int) -> dict[str, jax.Array]:
    """The DigitClassifier's post-ReLU conv maps (`conv1`, `conv2`), its 128 features and its
    logits (None unless `layers` asks for one of these two: then the image may be any size)."""
    from jaxgen.nn.classifier import DigitClassifier

    conv_only = not {"features", "logits"} & set(layers)
    (features, logits), sown = DigitClassifier(num_classes).apply(
        weights, images, conv_only, mutable=["intermediates"]
    )
    maps = {name: values[0] for name, values in sown["intermediates"].items()}
    return {**maps, "features": features, "logits": logits}


def _classifier_size(params) -> tuple[int, int]:
    """The square image side whose two 2x2 poolings give the first dense layer's inputs."""
    inputs = params["params"]["Dense_0"]["kernel"].shape[0]
    pooled = int(round(math.sqrt(inputs / 64)))  # 64 maps after the second convolution
    side = pooled * 4
    return side, side


def classifier_network(weights: str, dataset: str, seed: int, progress: bool) -> FeatureNetwork:
    """A classifier run's network: the workdir `weights` when given, else the cached feature
    classifier of `dataset` trained from `seed` (seed 0 is the one the sample-quality metrics
    use; another seed is an independently trained twin)."""
    if weights:
        from jaxgen.train.loop import restore_params

        workdir = pathlib.Path(weights).expanduser()
        summary_path = workdir / "summary.json"
        if not summary_path.exists():
            raise UserError(
                f"{workdir} is not a finished classifier run (no summary.json); train one with "
                "`jaxgen train --config=experiments/feature_classifier.py --workdir=DIR`"
            )
        summary = json.loads(summary_path.read_text())
        if "num_classes" not in summary or summary.get("multi_label"):
            raise UserError(f"{workdir} is not a single-label classifier run")
        params, identity = restore_params(workdir), summary["params_fingerprint"]
        num_classes, accuracy = int(summary["num_classes"]), summary["test_accuracy"]
        where = workdir
    else:
        from jaxgen.feature_classifier import load_classifier

        clf = load_classifier(dataset, progress=progress, seed=seed)
        params, num_classes, accuracy = clf.params, clf.num_classes, clf.test_accuracy
        identity, where = f"{clf.workdir.name} seed={seed}", clf.workdir
    channels = int(params["params"]["Conv_0"]["kernel"].shape[2])
    return FeatureNetwork(
        name="classifier" if not weights else f"classifier_{pathlib.Path(where).name}",
        description=(
            f"jaxgen's conv32-conv64-dense128 classifier ({where}; test accuracy "
            f"{float(accuracy):.4f})"
        ),
        channels=channels,
        layers=CLASSIFIER_LAYERS,
        weights=jax.tree.map(np.asarray, params),
        identity=identity,
        forward=functools.partial(classifier_forward, num_classes=num_classes),
        min_size=lambda layers: 1,
        style_layers=("conv1", "conv2"),
        content_layers=("conv2",),
        dream_layers=("conv2",),
        exact_size=_classifier_size(params),
        sized_layers=("features", "logits"),
        num_classes=num_classes,
    )
