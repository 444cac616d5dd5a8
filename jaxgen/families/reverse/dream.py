"""DeepDream (Mordvintsev, Olah & Tyka 2015) with the TensorFlow tutorial's protocol: gradient
ascent on the mean activation of chosen layers (summed over the layers), the gradient divided by
its standard deviation, the image randomly rolled before each gradient and rolled back after
(the tutorial's tiling trick: no seam stays in one place), pixels clipped to the valid range;
octaves of growing size, the image resized (bilinearly) into the next octave.

The tutorial's pixels lie in [-1, 1] with step 0.01; here they lie in [0, 1], so its step is
0.005 (the default preset takes 0.0015: config.py says why). Octave n has the start image's size
times `octave_scale` ** n; each octave is a phase of the loop (its image has its own shape), so
a killed run resumes inside an octave exactly.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import images as image_files
from jaxgen.errors import UserError
from jaxgen.families.reverse import image_params
from jaxgen.families.reverse.pixel_task import PixelTask, activations, layer_list
from jaxgen.train.protocol import Phase
from jaxgen.train.state import TrainState


@flax.struct.dataclass
class DreamState(TrainState):
    """The image (`params["image"]`, 1 x H x W x C at the current octave's size) and, per
    octave, the objective of the image entering it and after its latest step (octaves x 2; NaN
    until run)."""

    octave_objective: jax.Array


def octave_sizes(height: int, width: int, octaves, scale: float) -> list[tuple[int, int]]:
    """(H, W) of each octave n: the start size times scale ** n, rounded, at least 1."""
    return [(max(1, round(height * scale**n)), max(1, round(width * scale**n))) for n in octaves]


class DreamTask(PixelTask):
    """DeepDream from `start_image`, one phase an octave."""

    # On one large image, YNNPACK's reductions (the average pooling, the objective's mean) come
    # with whole-map copies of a bias or a zero that XLA writes out as their operands; without
    # them the default preset's step is about a fifth faster on the AVX2 machine
    # (benchmarks/step_fusions.py; README, "DeepDream and YNNPACK's reduce fusions").
    ynnpack_fusions_off = ("REDUCE",)

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        self.layers = layer_list(config.dream_layers) or self.network.dream_layers
        self.start = image_files.load_image(
            config.start_image, config.image_size, self.network.channels
        )
        self.octaves = [int(n) for n in str(config.octaves).split(",") if n.strip()]
        if not self.octaves:
            raise UserError("octaves is empty; give octave numbers such as -2,-1,0,1,2")
        self.sizes = octave_sizes(*self.start.shape[:2], self.octaves, config.octave_scale)
        for size in self.sizes:
            self.network.check(self.layers, (*size, self.start.shape[2]), "image at one octave")
        if config.steps_per_octave < 1:
            raise UserError("steps_per_octave must be at least 1")
        self.frozen = {"network": self.network.weights}
        self.identities = self.network_identities() + [image_files.image_identity(self.start)]
        self._objective = jax.jit(self.objective)

    def objective(self, image, weights):
        """The sum over the dream layers of the layer's mean activation."""
        feats = activations(self.network, weights, image, self.layers)
        return sum(jnp.mean(feats[name]) for name in self.layers)

    def resized_start(self, size: tuple[int, int]) -> jax.Array:
        """The start image at `size`, 1 x H x W x C."""
        return jax.image.resize(
            jnp.asarray(self.start[None]), (1, *size, self.start.shape[2]), "bilinear"
        )

    def init_state(self, key: jax.Array) -> DreamState:
        del key  # the start image is given; the randomness is in the rolls
        params = {"image": self.resized_start(self.sizes[0])}
        nan = jnp.full((len(self.octaves), 2), jnp.nan, jnp.float32)
        return DreamState(
            step=jnp.zeros((), jnp.int32), params=params, opt_state=(), octave_objective=nan
        )

    def phases(self) -> list[Phase]:
        per = self.config.steps_per_octave
        return [
            Phase(
                f"octave {n}",
                None if i == len(self.octaves) - 1 else per,
                self._step(i, i * per),
                enter=None if i == 0 else self._enter(i),
            )
            for i, n in enumerate(self.octaves)
        ]

    def _enter(self, index: int):
        size = self.sizes[index]

        def enter(state: DreamState, key: jax.Array) -> DreamState:
            del key
            image = state.params["image"]
            bigger = jax.image.resize(image, (1, *size, image.shape[-1]), "bilinear")
            return state.replace(params={"image": jnp.clip(bigger, 0.0, 1.0)})

        return enter

    def _step(self, index: int, first_step: int):
        config = self.config

        def step(state: DreamState, key: jax.Array, frozen):
            image = state.params["image"]
            max_roll = config.max_roll or max(image.shape[1:3])
            rolled, shift = image_params.random_roll(key, image, max_roll)
            value, grad = jax.value_and_grad(self.objective)(rolled, frozen["network"])
            grad = image_params.unroll(grad, shift)
            grad = grad / (jnp.std(grad) + 1e-8)  # the tutorial's normalisation
            new_image = jnp.clip(image + config.step_size * grad, 0.0, 1.0)
            # The record is of images as they are, not rolled: a roll moves the padding's seam
            # into the picture and changes the objective by more than two small steps do.
            record = state.octave_objective
            entering = jax.lax.cond(
                state.step == first_step,
                lambda: self.objective(image, frozen["network"]),
                lambda: record[index, 0],
            )
            after = self.objective(new_image, frozen["network"])
            record = record.at[index].set(jnp.stack([entering, after]))
            new = state.replace(
                step=state.step + 1, params={"image": new_image}, octave_objective=record
            )
            return new, {"loss": -value, "objective": after}

        return step

    def eval_params(self, state: DreamState) -> dict:
        """The image and the objective's record over octaves (what the report shows)."""
        return {"image": state.params["image"], "octave_objective": state.octave_objective}

    def image(self, params) -> np.ndarray:
        return np.asarray(params["image"][0])

    def evaluate(self, params, split: str) -> dict[str, float]:
        """The objective of the current image and its root-mean-square distance (pixels in
        [0, 1]) from the start image resized to its size."""
        del split
        image = params["image"]
        start = self.resized_start(image.shape[1:3])
        return {
            "objective": float(self._objective(image, self.network.weights)),
            "distance_from_start": float(jnp.sqrt(jnp.mean((image - start) ** 2))),
        }

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {"image": self.image(params)}
