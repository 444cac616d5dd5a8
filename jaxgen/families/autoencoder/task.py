"""The autoencoder task: one autoencoder (dense or conv, any variant) on an image data set."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import config_splits, train_dataset
from jaxgen.eval.chunked import EVAL_SPLITS, batched
from jaxgen.families.autoencoder import corruption
from jaxgen.families.autoencoder.losses import make_autoencoder_loss, pixels_from_logits
from jaxgen.families.autoencoder.model import build_autoencoder
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import make_optimizer

# The evaluation inputs are corrupted once with this key: the same for every run and seed.
CORRUPTION_KEY = 0xD0


def check_model_objective(model: ml_collections.ConfigDict, objective) -> None:
    if objective.sparsity == "kl" and model.code_activation != "sigmoid":
        raise ValueError("sparsity='kl' needs model.code_activation='sigmoid' (codes in (0, 1))")


def make_reconstruct(model, output: str):
    """jitted (params, x) -> reconstruction in pixel space."""
    return jax.jit(lambda params, x: pixels_from_logits(model.apply(params, x)[0], output))


def make_encode(model):
    """jitted (params, x) -> codes."""
    return jax.jit(lambda params, x: model.apply(params, x, method="encode")[0])


def corrupt_fixed(objective, x: jax.Array, index: jax.Array) -> jax.Array:
    """Evaluation inputs corrupted with fixed keys: example i with fold_in(CORRUPTION_KEY, i),
    the same for every evaluation, run and seed, and for any chunking of the split."""
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(CORRUPTION_KEY), i))(index)
    one = lambda key, image: corruption.corrupt(  # noqa: E731
        objective.corruption, key, image, objective.noise_level
    )
    return jax.vmap(one)(keys, x)


class AutoencoderTask(LossTask):
    """Trains one autoencoder; evaluates per-pixel reconstruction error."""

    batch_axis = 0
    best_metric = "mse"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        splits = config_splits(config)
        self.train_split = splits["train"]
        self.splits = {s: splits[s] for s in EVAL_SPLITS}
        check_model_objective(config.model, config.objective)
        self.model = build_autoencoder(config.model, self.train_split.image_shape)
        self.loss = make_autoencoder_loss(self.model, config.objective)
        self.tx = make_optimizer(config)
        # Arrays, or views that decode a streamed split chunk by chunk.
        self.images = {s: split.pixel_view() for s, split in self.splits.items()}
        self._reconstruct = make_reconstruct(self.model, config.objective.output)
        self._encode = make_encode(self.model)
        objective = config.objective

        @jax.jit
        def errors(params, x, index):
            inputs = corrupt_fixed(objective, x, index)
            error = self._reconstruct(params, inputs) - x
            axes = tuple(range(1, x.ndim))
            return {
                "input_mse": jnp.mean((inputs - x) ** 2, axes),
                "mse": jnp.mean(error**2, axes),
                "l1": jnp.mean(jnp.abs(error), axes),
            }

        self._errors = errors

    def init_params(self, key: jax.Array):
        return self.model.init(key, jnp.zeros((1, *self.train_split.image_shape)))

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    def inputs(self, split: str, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(clean images, model inputs: corrupted when denoising) of the split's first `count`."""
        x = self.images[split][:count]
        return x, np.asarray(corrupt_fixed(self.config.objective, x, jnp.arange(len(x))))

    def errors(self, params, split: str) -> dict[str, np.ndarray]:
        """Per example of the split: the input's squared error to the clean image (0 unless
        denoising), and the reconstruction's MSE and L1 to it, in chunks."""
        x = self.images[split]
        return batched(self._errors, params, x, np.arange(len(x), dtype=np.int32))

    def reconstructions(self, params, split: str, count: int) -> np.ndarray:
        """The reconstructions of the split's first `count` (corrupted, when denoising) inputs,
        in [0, 1]."""
        return np.asarray(self._reconstruct(params, self.inputs(split, count)[1]))

    def codes(self, params, split: str) -> np.ndarray:
        """The codes of the split's clean images."""
        return batched(self._encode, params, self.images[split])

    def evaluate(self, params, split: str) -> dict[str, float]:
        """Per-pixel MSE and L1 of the reconstructions against the clean images (when
        denoising, of the corrupted inputs' reconstructions: the denoising error)."""
        errors = self.errors(params, split)
        return {"mse": float(np.mean(errors["mse"])), "l1": float(np.mean(errors["l1"]))}

    def snapshot(self, params) -> dict[str, np.ndarray]:
        """Ten validation inputs above their reconstructions (TensorBoard's image tab)."""
        _, inputs = self.inputs("validation", 10)
        return {"reconstructions": np.concatenate([inputs, self._reconstruct(params, inputs)])}
