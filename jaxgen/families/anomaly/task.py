"""One-class anomaly detection by reconstruction error, with a PCA detector as the baseline.

For each normal class c, an autoencoder is trained on the train images of class c only, and
every image of an evaluation split is scored by its reconstruction error; the ROC-AUC measures
how well the score separates the other classes from c. The periodic evaluation's mean AUC on the
validation split ranks the checkpoints, so the best checkpoint is the step budget chosen on
validation; the report gives its test AUCs next to the final ones. The per-class autoencoders
are independent replicas trained in one program by `vmap` over a leading replica axis (params,
batches and keys).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import config_splits, train_dataset
from jaxgen.data.pipeline import zip_datasets
from jaxgen.eval.chunked import EVAL_SPLITS, batched
from jaxgen.families.autoencoder.losses import make_autoencoder_loss, pixels_from_logits
from jaxgen.families.autoencoder.model import build_autoencoder
from jaxgen.families.autoencoder.reconstruction import per_example_mse
from jaxgen.families.autoencoder.task import check_model_objective
from jaxgen.metrics.anomaly import one_class_auc
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import make_optimizer


class AnomalyTask(LossTask):
    """One autoencoder per normal class (vmapped replicas); ROC-AUC per class and the mean."""

    batch_axis = 1  # batches are (replica, example, ...)
    best_metric = "auc_mean"
    best_mode = "max"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        self.classes = tuple(int(c) for c in config.normal_classes)
        splits = config_splits(config)
        self.train_split = splits["train"]
        if self.train_split.labels_N is None:
            raise ValueError(f"dataset {config.dataset!r} has no labels for the one-class protocol")
        self.splits = {s: splits[s] for s in EVAL_SPLITS}
        check_model_objective(config.model, config.objective)
        self.model = build_autoencoder(config.model, self.train_split.image_shape)
        self._single_loss = make_autoencoder_loss(self.model, config.objective)
        self.tx = make_optimizer(config)
        output = config.objective.output

        def errors(params, x):  # per-example MSE per pixel
            return per_example_mse(pixels_from_logits(self.model.apply(params, x)[0], output), x)

        # Every replica scores the same images: (R, B).
        self._errors = jax.jit(jax.vmap(errors, in_axes=(0, None)))

    def init_params(self, key: jax.Array):
        x = jnp.zeros((1, *self.train_split.image_shape))
        return jax.vmap(lambda k: self.model.init(k, x))(self._class_keys(key))

    def loss(self, params, batch, key, step):
        losses, aux = jax.vmap(self._single_loss, in_axes=(0, 0, 0, None))(
            params, batch, self._class_keys(key), step
        )
        # The sum gives each replica exactly its own gradient.
        return jnp.sum(losses), {name: jnp.mean(v) for name, v in aux.items()}

    def _class_keys(self, key: jax.Array) -> jax.Array:
        # Keyed by class, not by position, so a class's model is the same in any bank.
        return jax.vmap(lambda c: jax.random.fold_in(key, c))(jnp.asarray(self.classes))

    def train_dataset(self, seed: int):
        per_class = [
            train_dataset(
                self.train_split.select(self.train_split.labels_N == c),
                self.config.batch_size,
                seed * 1000 + c,
            )
            for c in self.classes
        ]
        return zip_datasets(per_class)

    def scores(self, params, split: str) -> np.ndarray:
        """Reconstruction error of every image of `split` under every class's model: (R, N)."""
        images = self.splits[split].pixels()
        return batched(self._errors, params, images, axis=1)

    def evaluate(self, params, split: str) -> dict[str, float]:
        """ROC-AUC of each normal class's detector on `split` (`auc_classC`), their mean, and
        the mean reconstruction error of the normal images (`normal_mse`)."""
        scores, labels = self.scores(params, split), self.splits[split].labels_N
        numbers = {
            f"auc_class{c}": one_class_auc(scores[r], labels, c) for r, c in enumerate(self.classes)
        }
        numbers["auc_mean"] = float(np.mean(list(numbers.values())))
        normal = [scores[r][labels == c].mean() for r, c in enumerate(self.classes)]
        numbers["normal_mse"] = float(np.mean(normal))
        return numbers
