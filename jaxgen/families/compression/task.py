"""Compression curves: PCA against the linear autoencoder and nonlinear autoencoders, at several
code sizes, all trained together in one train state.

The parameter tree is {model name: params}. Its loss is the sum of the models' losses, so every
model gets exactly its own gradient, and Adam (elementwise) updates each one as if it were
trained alone on the same batches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import config_splits, train_dataset
from jaxgen.eval.chunked import EVAL_SPLITS, batched
from jaxgen.families.autoencoder.config import linear_model_config, objective_config
from jaxgen.families.autoencoder.losses import make_autoencoder_loss
from jaxgen.families.autoencoder.model import build_autoencoder
from jaxgen.families.autoencoder.task import make_reconstruct
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import make_optimizer


class CompressionTask(LossTask):
    """PCA vs linear AE vs nonlinear AEs, per-pixel MSE against code size."""

    batch_axis = 0
    best_metric = "mean_mse"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        splits = config_splits(config)
        self.train_split = splits["train"]
        shape = self.train_split.image_shape
        linear_objective = objective_config(reconstruction="mse", output="linear")
        # Nonlinear AEs train on cross-entropy (a sigmoid with MSE can saturate and stall); all
        # models are compared by per-pixel MSE.
        nonlinear_objective = objective_config(
            reconstruction=config.nonlinear_reconstruction, output="sigmoid"
        )
        self.models, self.losses, self.outputs = {}, {}, {}
        for k in config.code_sizes:
            blocks = {"linear": (linear_model_config(), linear_objective)}
            for name, block in config.nonlinear_models.items():
                blocks[name] = (block, nonlinear_objective)
            for name, (block, objective) in blocks.items():
                block = ml_collections.ConfigDict(block.to_dict())
                block.code_size = k
                key = f"{name}_k{k}"
                self.models[key] = build_autoencoder(block, shape)
                self.losses[key] = make_autoencoder_loss(self.models[key], objective)
                self.outputs[key] = objective.output
        self._reconstruct = {
            key: make_reconstruct(model, self.outputs[key]) for key, model in self.models.items()
        }
        self.images = {"train": self.train_split.pixels()}
        self.images.update({s: splits[s].pixels() for s in EVAL_SPLITS})
        self.tx = make_optimizer(config, self.param_labels, dict(config.group_learning_rates))

    def init_params(self, key: jax.Array):
        x = jnp.zeros((1, *self.train_split.image_shape))
        keys = jax.random.split(key, len(self.models))
        return {name: m.init(k, x) for k, (name, m) in zip(keys, self.models.items(), strict=True)}

    def param_labels(self, params):
        """Optimizer groups: "linear" for the linear autoencoders, "nonlinear" for the rest."""
        groups = {}
        for name, tree in params.items():
            group = "linear" if name.startswith("linear_") else "nonlinear"
            groups[name] = jax.tree.map(lambda _, g=group: g, tree)
        return groups

    def loss(self, params, batch, key, step):
        total = 0.0
        aux = {}
        for i, (name, loss_fn) in enumerate(self.losses.items()):
            value, _ = loss_fn(params[name], batch, jax.random.fold_in(key, i), step)
            total = total + value
            aux[f"mse_{name}"] = value
        return total, aux

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    def mse(self, params, name: str, split: str) -> float:
        """Per-pixel MSE of model `name` on `split` ("train", "validation" or "test")."""
        images = self.images[split]
        recon = batched(self._reconstruct[name], params[name], images)
        return float(np.mean((recon - images) ** 2))

    def evaluate(self, params, split: str) -> dict[str, float]:
        result = {f"mse_{n}": self.mse(params, n, split) for n in self.models}
        result["mean_mse"] = float(np.mean(list(result.values())))
        return result
