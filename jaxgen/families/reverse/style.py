"""Neural style transfer and texture synthesis (Gatys, Ecker & Bethge 2015, 2016), as the
TensorFlow tutorial runs them: pixels in [0, 1], optimised by Adam (lr 0.02, beta1 0.99, eps 0.1)
and clipped to [0, 1] after every step, or by L-BFGS; the loss is
style_weight * style + content_weight * content + tv_weight * total variation
(losses.py; total variation as tf.image.total_variation: a sum, not a mean).

Style transfer starts from the content image (or from noise); a texture is the style loss alone
from uniform noise, at the exemplar's size. Every evaluation also measures the style loss (and
the content loss) in a second network that the image was not optimised against (`check_network`:
another seed of a random network, or another trained one), so that a result cannot score well
by fooling the network it was made with.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import images as image_files
from jaxgen.errors import UserError
from jaxgen.families.reverse import image_params, losses
from jaxgen.families.reverse.pixel_task import PixelTask, activations, layer_list, pixel_optimizer
from jaxgen.families.reverse.pixel_task import pixel_step as make_pixel_step
from jaxgen.train.state import TrainState

# `init`: the starting image, the content image or uniform noise (init_params).
INITS = ("content", "noise")


class StyleTask(PixelTask):
    """One image (batch 1) optimised against the style targets (Gram matrices of the style
    image) and, for style transfer, the content targets (features of the content image)."""

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        self.texture = config.method == "texture"
        net = self.network
        self.style_layers = layer_list(config.style_layers) or net.style_layers
        self.content_layers = (
            () if self.texture else (layer_list(config.content_layers) or net.content_layers)
        )
        channels = self.network.channels
        self.style_image = image_files.load_image(config.style_image, config.image_size, channels)
        self.content_image = None
        if not self.texture:
            self.content_image = image_files.load_image(
                config.content_image, config.image_size, channels
            )
        self.shape = (self.style_image if self.texture else self.content_image).shape
        self.network.check(self.style_layers, self.style_image.shape, "style image")
        self.network.check(self.content_layers, self.shape, "content image")
        self.check_layers = self._check_layers()
        self.tx = pixel_optimizer(config)
        self.line_search = config.optimizer == "lbfgs"
        if config.init not in INITS:
            raise UserError(f"unknown init {config.init!r}; choose {' or '.join(INITS)}")
        if self.texture and config.init == "content":
            raise UserError("a texture has no content image to start from: set init to noise")
        self.frozen = {
            "network": self.network.weights,
            "targets": self.targets(net, net.weights, self.style_layers, self.content_layers),
        }
        # What evaluation reads: the step's frozen arrays and the check network's.
        self.measured = dict(self.frozen)
        if self.check_network is not None:
            check = self.check_network
            self.measured["check"] = check.weights
            self.measured["check_targets"] = self.targets(check, check.weights, *self.check_layers)
        sources = [self.style_image] + ([] if self.texture else [self.content_image])
        self.identities = self.network_identities()
        self.identities += [image_files.image_identity(x) for x in sources]
        self._measure = jax.jit(self._measures)

    def _check_layers(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The check network's style and content layers (`check_style_layers` and
        `check_content_layers`, else that network's defaults)."""
        if self.check_network is None:
            return (), ()
        net, config = self.check_network, self.config
        style = layer_list(config.check_style_layers) or net.style_layers
        content = (
            () if self.texture else (layer_list(config.check_content_layers) or net.content_layers)
        )
        net.check(style, self.style_image.shape, "style image (in the check network)")
        net.check(content, self.shape, "content image (in the check network)")
        return style, content

    def targets(self, network, weights, style_layers, content_layers) -> dict:
        """{"grams": the style image's Gram matrices, "features": the content image's
        features} in `network`, computed once."""
        style = activations(network, weights, self.style_image[None], style_layers)
        out = {"grams": jax.tree.map(np.asarray, losses.grams(style, style_layers))}
        if content_layers:
            content = activations(network, weights, self.content_image[None], content_layers)
            out["features"] = {k: np.asarray(content[k]) for k in content_layers}
        return out

    # ------------------------------------------------------------------ the optimisation

    def init_params(self, key: jax.Array) -> dict:
        """The starting image: the content image, or uniform noise in [0, 1) from `key`; as
        {"image": 1 x H x W x C} for Adam, as {"logit": its logit} for L-BFGS."""
        if self.config.init == "content":
            image = jnp.asarray(self.content_image[None])
        else:
            image = jax.random.uniform(key, (1, *self.shape))
        if not self.line_search:
            return {"image": image}
        # Pixels 1/510 inside the range, so that black and white have finite logits.
        return {"logit": jax.scipy.special.logit(jnp.clip(image, 1 / 510, 1 - 1 / 510))}

    def image_of(self, params) -> jax.Array:
        """The 1 x H x W x C image in [0, 1] that the parameters stand for. L-BFGS optimises
        the pixels' logits: its line search assumes an unconstrained problem, and on free pixels
        it found images that meet the style loss with a few pixels far outside [0, 1] (a flat
        grey texture with outliers, from `gravel`); the sigmoid keeps every pixel in range."""
        if self.line_search:
            return jax.nn.sigmoid(params["logit"])
        return params["image"]

    def init_state(self, key: jax.Array) -> TrainState:
        return TrainState.create(self.init_params(key), self.tx)

    def losses(self, image, network, weights, targets) -> dict[str, jax.Array]:
        """The unweighted style and content losses of `image` (1 x H x W x C) in `network`."""
        style_layers = tuple(targets["grams"])
        content_layers = tuple(targets.get("features", {}))
        feats = activations(network, weights, image, style_layers + content_layers)
        out = {"style_loss": losses.style_loss(feats, targets["grams"])[0]}
        if content_layers:
            out["content_loss"] = losses.content_loss(feats, targets["features"])[0]
        return out

    def objective(self, params, key, frozen):
        del key  # deterministic: the randomness was in the starting image
        image = self.image_of(params)
        parts = self.losses(image, self.network, frozen["network"], frozen["targets"])
        parts["total_variation"] = image_params.total_variation(image)[0]
        config = self.config
        loss = (
            config.style_weight * parts["style_loss"] + config.tv_weight * parts["total_variation"]
        )
        if not self.texture:
            loss = loss + config.content_weight * parts["content_loss"]
        return loss, parts

    def train_step(self, state, key, frozen):
        # Adam's steps are projected back into [0, 1] as the tutorial does (clip_by_value after
        # every step); L-BFGS's logits need no projection.
        if self.line_search:
            step = make_pixel_step(self.objective, self.tx, line_search=True)
        else:
            step = make_pixel_step(
                self.objective, self.tx, lambda p: {"image": jnp.clip(p["image"], 0, 1)}
            )
        return step(state, key, frozen)

    # ------------------------------------------------------------------ evaluation

    def image(self, params) -> np.ndarray:
        """The result, H x W x C in [0, 1]."""
        return np.clip(np.asarray(self.image_of(params)[0]), 0.0, 1.0)

    def _measures(self, image, measured):
        out = self.losses(image, self.network, measured["network"], measured["targets"])
        if self.check_network is not None:
            check = self.losses(
                image, self.check_network, measured["check"], measured["check_targets"]
            )
            out.update({f"{name}_{self.check_network.name}": v for name, v in check.items()})
        return out

    def measure(self, image_HxWxC: np.ndarray) -> dict[str, float]:
        """The unweighted losses of an image (clipped to [0, 1]) in both networks."""
        image = jnp.asarray(np.clip(image_HxWxC, 0, 1))[None]
        return {name: float(v) for name, v in self._measure(image, self.measured).items()}

    def evaluate(self, params, split: str) -> dict[str, float]:
        """The losses of the current image, the same on every split (no data set is held
        out: the check network plays the held-out part)."""
        del split
        return self.measure(self.image(params))

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {"image": self.image(params)}
