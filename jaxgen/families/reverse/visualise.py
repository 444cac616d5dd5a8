"""Activation maximisation (Erhan et al. 2009; Olah, Mordvintsev & Schubert 2017): one image per
unit, each optimised to excite its unit: a class (the log-probability of the class, or its logit)
or a channel of any layer (its mean activation).

The regularisers of feature visualisation (image_params.py): the image is a decorrelated
Fourier parametrisation (or plain pixels), and before every gradient it is jittered, randomly
scaled and jittered again, so that the result excites the unit robustly rather than through one
pixel pattern; a total-variation penalty is optional. Adam, lr 0.05 (lucid's default).

Every evaluation also applies a second, independently trained network (`check_network`: the
same classifier recipe from another seed by default): how much of the result transfers.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.errors import UserError
from jaxgen.families.reverse import image_params
from jaxgen.families.reverse.pixel_task import PixelTask, activations, pixel_step
from jaxgen.train.state import TrainState

PARAMETRISATIONS = ("fourier", "pixel")
OBJECTIVES = ("log_probability", "activation")


def unit_values(feats_NxHxWxK_or_NxK: jax.Array, units_N: jax.Array) -> jax.Array:
    """N: image i's value of unit units_N[i]: the activation of a dense layer's unit, or the mean
    over positions of a conv layer's channel."""
    values = feats_NxHxWxK_or_NxK
    if values.ndim == 4:
        values = values.mean(axis=(1, 2))
    return jnp.take_along_axis(values, units_N[:, None], axis=1)[:, 0]


class VisualisationTask(PixelTask):
    """One image per target unit of `target_layer` in the optimised network."""

    # As DeepDream's (dream.py): the default preset's step is about a tenth faster without
    # YNNPACK's reduce fusions on the AVX2 machine (benchmarks/step_fusions.py).
    ynnpack_fusions_off = ("REDUCE",)

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        net = self.network
        self.layer = config.target_layer
        if config.parametrisation not in PARAMETRISATIONS:
            raise UserError(
                f"unknown parametrisation {config.parametrisation!r}; choose "
                f"{' or '.join(PARAMETRISATIONS)}"
            )
        if config.objective not in OBJECTIVES:
            raise UserError(f"unknown objective {config.objective!r}; choose {OBJECTIVES}")
        if config.objective == "log_probability" and self.layer != "logits":
            raise UserError("objective log_probability needs target_layer logits")
        size = config.image_size or (max(net.exact_size) if net.exact_size else 0)
        if not size:
            raise UserError(f"set image_size: {net.name} takes any size")
        self.shape_HxWxC = (size, size, net.channels)
        net.check((self.layer,), self.shape_HxWxC, "image")
        width = self._layer_width(net)
        text = str(config.target_units).strip()
        self.units = [int(u) for u in text.split(",")] if text else list(range(width))
        if not self.units or min(self.units) < 0 or max(self.units) >= width:
            raise UserError(f"target_units must lie in 0..{width - 1} ({self.layer} has {width})")
        self.shape = (len(self.units), *self.shape_HxWxC)
        self.scales = tuple(float(s) for s in str(config.scales).split(",") if s.strip())
        self.tx = optax.adam(config.learning_rate, b1=config.adam_b1, eps=config.adam_eps)
        self.frozen = {"network": net.weights}
        self.identities = self.network_identities()
        self._units = jnp.asarray(self.units)
        self._measure = jax.jit(self._measures)

    def _layer_width(self, net) -> int:
        probe = jax.eval_shape(
            lambda w: activations(net, w, jnp.zeros((1, *self.shape_HxWxC)), (self.layer,)),
            net.weights,
        )
        return int(probe[self.layer].shape[-1])

    # ------------------------------------------------------------------ the optimisation

    def to_image(self, params) -> jax.Array:
        """The images (N x H x W x C in [0, 1]) that the parameters stand for."""
        if self.config.parametrisation == "fourier":
            return image_params.fourier_to_image(params, self.shape, self.config.decay_power)
        return image_params.pixel_to_image(params, self.shape)

    def init_params(self, key: jax.Array) -> dict:
        if self.config.parametrisation == "fourier":
            return image_params.init_fourier(key, self.shape, self.config.init_sd)
        return image_params.init_pixel(key, self.shape, self.config.init_sd)

    def init_state(self, key: jax.Array) -> TrainState:
        return TrainState.create(self.init_params(key), self.tx)

    def unit_objective(self, network, weights, images) -> jax.Array:
        """N: each image's value of its own unit: log p(class) or the unit's activation."""
        feats = activations(network, weights, images, (self.layer,))[self.layer]
        if self.config.objective == "log_probability":
            feats = jax.nn.log_softmax(feats, axis=-1)
        return unit_values(feats, self._units)

    def robust(self, key: jax.Array, images: jax.Array) -> jax.Array:
        """The images jittered, randomly scaled and jittered again by a pixel (lucid's
        standard transforms, without rotation)."""
        first, scale, last = jax.random.split(key, 3)
        config = self.config
        images = image_params.jitter(first, images, config.jitter)
        images = image_params.random_scale(scale, images, self.scales)
        return image_params.jitter(last, images, min(1, config.jitter))

    def objective(self, params, key, frozen):
        images = self.to_image(params)
        values = self.unit_objective(self.network, frozen["network"], self.robust(key, images))
        tv = jnp.sum(image_params.total_variation(images))
        loss = -jnp.sum(values) + self.config.tv_weight * tv
        return loss, {"objective": jnp.mean(values), "total_variation": tv}

    @functools.cached_property
    def _step(self):
        return pixel_step(self.objective, self.tx)

    def train_step(self, state, key, frozen):
        return self._step(state, key, frozen)

    # ------------------------------------------------------------------ evaluation

    def images(self, params) -> np.ndarray:
        """N x H x W x C in [0, 1]: image i maximises unit units[i]."""
        return np.asarray(self.to_image(params))

    def unit_scores(self, network, weights, images) -> jax.Array:
        """N: p(class | image) for a class target, else the unit's activation (no transforms)."""
        values = self.unit_objective(network, weights, images)
        return jnp.exp(values) if self.config.objective == "log_probability" else values

    def all_unit_scores(self, network, weights, images) -> jax.Array:
        """N x U: every image's score of every target unit (for the data set's reference)."""
        feats = activations(network, weights, images, (self.layer,))[self.layer]
        if self.config.objective == "log_probability":
            return jax.nn.softmax(feats, axis=-1)[:, self._units]
        if feats.ndim == 4:
            feats = feats.mean(axis=(1, 2))
        return feats[:, self._units]

    def _measures(self, images, weights, check_weights):
        out = {"optimised": self.unit_scores(self.network, weights, images)}
        if self.check_network is not None:
            out["transfer"] = self.unit_scores(self.check_network, check_weights, images)
        return out

    def scores(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """{"optimised": N scores in the optimised network, "transfer": in the check one}."""
        check = None if self.check_network is None else self.check_network.weights
        out = self._measure(jnp.asarray(images), self.network.weights, check)
        return {k: np.asarray(v) for k, v in out.items()}

    def evaluate(self, params, split: str) -> dict[str, float]:
        """The lowest and mean score over the units, in both networks (a probability for a
        class target)."""
        del split
        noun = "class_probability" if self.config.objective == "log_probability" else "activation"
        out = {}
        for where, values in self.scores(self.images(params)).items():
            suffix = "" if where == "optimised" else "_transfer"
            out[f"min_{noun}{suffix}"] = float(values.min())
            out[f"mean_{noun}{suffix}"] = float(values.mean())
        return out

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {"samples": self.images(params)}
