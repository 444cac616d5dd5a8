"""What the methods of convnets run in reverse share (task.py lists them): the state (the
image's parameters and the optimizer's state), the one pure step that every method's objective
plugs into, the optimizers (Adam with the TensorFlow tutorial's settings, or optax's L-BFGS),
the frozen inputs and the channel conversion between networks that take RGB and gray images.
None reads a data set: the loop calls their steps with a key and the frozen arrays only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen.errors import UserError
from jaxgen.families.reverse import networks
from jaxgen.train.protocol import FrozenInputs, Task
from jaxgen.train.state import TrainState

PyTree = Any
# Luminance weights of ITU-R BT.709, as skimage.color.rgb2gray uses (data/images.py).
LUMINANCE = (0.2125, 0.7154, 0.0721)
# `optimizer`: Adam on the pixels, or L-BFGS on their logits (pixel_optimizer).
OPTIMIZERS = ("adam", "lbfgs")


def layer_list(text: str) -> tuple[str, ...]:
    """'block1_conv1, block2_conv1' -> ('block1_conv1', 'block2_conv1') (a config key's value)."""
    return tuple(name.strip() for name in str(text).split(",") if name.strip())


def to_channels(images_NxHxWxC: jax.Array, channels: int) -> jax.Array:
    """The images as a network of `channels` channels takes them: RGB to luminance for a gray
    network, gray repeated for an RGB one."""
    have = images_NxHxWxC.shape[-1]
    if have == channels:
        return images_NxHxWxC
    if channels == 1:
        return images_NxHxWxC @ jnp.asarray(LUMINANCE)[:, None]
    return jnp.repeat(images_NxHxWxC, channels, axis=-1)


def activations(network: networks.FeatureNetwork, weights, images, layers: Sequence[str]):
    """{layer: activations} of `images` (any channel count) in `network` with `weights`."""
    return network.forward(weights, to_channels(images, network.channels), tuple(layers))


def pixel_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """Adam at `learning_rate` with betas (`adam_b1`, 0.999) and `adam_eps` (the TensorFlow
    style-transfer tutorial: 0.02, 0.99, 0.1), or optax's L-BFGS with its zoom line search
    (Gatys et al.'s choice) when `optimizer` is "lbfgs"."""
    if config.optimizer == "lbfgs":
        return optax.lbfgs()
    if config.optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {config.optimizer!r}; choose {' or '.join(OPTIMIZERS)}")
    return optax.adam(config.learning_rate, b1=config.adam_b1, eps=config.adam_eps)


Objective = Callable[[PyTree, jax.Array, PyTree], tuple[jax.Array, dict[str, jax.Array]]]


def pixel_step(
    objective: Objective,
    tx: optax.GradientTransformation,
    project: Callable[[PyTree], PyTree] = lambda params: params,
    line_search: bool = False,
):
    """The pure `step(state, key, frozen) -> (state, metrics)` that lowers `objective(params,
    key, frozen) -> (loss, aux)` by one update of `tx`, then maps the parameters by `project`
    (the tutorial's clip to [0, 1]). With `line_search` (L-BFGS), the optimizer also receives
    the loss's value and the loss as a function, evaluated at this step's key."""
    grad_fn = jax.value_and_grad(objective, has_aux=True)

    def step(state: TrainState, key: jax.Array, frozen: PyTree):
        (value, aux), grads = grad_fn(state.params, key, frozen)
        extra = {}
        if line_search:
            extra = dict(value=value, grad=grads, value_fn=lambda p: objective(p, key, frozen)[0])
        updates, opt_state = tx.update(grads, state.opt_state, state.params, **extra)
        params = project(optax.apply_updates(state.params, updates))
        metrics = {"loss": value, "grad_norm": optax.tree.norm(grads), **aux}
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

    return step


class PixelTask(Task):
    """What the methods share: no data set, the networks and their frozen weights, a state of
    image parameters. Subclasses set `self.frozen` (the pytree every step reads) and
    `self.identities` (what it was made from) and define the steps and evaluation."""

    best_metric = None  # the optimised image is the result; no checkpoint is "better"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        self.network = networks.load_network(
            config.network,
            config.weights,
            config.network_seed,
            config.channels,
            config,
        )
        self.check_network = None
        if config.check_network:
            self.check_network = networks.load_network(
                config.check_network,
                config.check_weights,
                config.check_seed,
                self.network.channels,
                config,
            )
            if self.check_network.identity == self.network.identity:
                raise UserError(
                    "the check network is the optimised one; give it another seed "
                    "(--config.check_seed) or other weights, or set check_network to ''"
                )
        self.frozen: PyTree = {}
        self.identities: list[str] = []

    def train_dataset(self, seed: int):
        return None

    def frozen_inputs(self) -> FrozenInputs:
        identity = hashlib.sha256("\n".join(self.identities).encode()).hexdigest()
        return FrozenInputs(self.frozen, identity)

    def network_identities(self) -> list[str]:
        """The identities of the networks, for the frozen inputs' identity."""
        found = [self.network.identity]
        return found + ([self.check_network.identity] if self.check_network else [])
