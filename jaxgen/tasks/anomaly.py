"""One-class anomaly detection by reconstruction error, with a PCA detector as the baseline.

For each normal class c, an autoencoder is trained on the train images of class c only, and
every test image is scored by its reconstruction error; the ROC-AUC measures how well the score
separates the other classes from c. The per-class autoencoders are independent replicas trained
in one program by `vmap` over a leading replica axis (params, batches and keys).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import load_split, train_dataset
from jaxgen.data.pipeline import zip_datasets
from jaxgen.losses.autoencoder import make_autoencoder_loss, pixels_from_logits
from jaxgen.losses.reconstruction import per_example_mse
from jaxgen.metrics.anomaly import one_class_auc
from jaxgen.metrics.linear import fit_pca, pca_reconstruction_errors
from jaxgen.models.autoencoders import build_autoencoder
from jaxgen.tasks.autoencoder import EVAL_BATCH, check_model_objective
from jaxgen.viz import figures
from jaxgen.viz.report import Report, markdown_table


class AnomalyTask:
    """One autoencoder per normal class (vmapped replicas); AUC per class and the mean."""

    batch_axis = 1  # batches are (replica, example, ...)
    best_metric = "test_normal_mse"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        self.classes = tuple(int(c) for c in config.normal_classes)
        self.train_split = load_split(config.dataset, "train")
        self.test_split = load_split(config.dataset, "test")
        if self.train_split.labels_N is None:
            raise ValueError(f"dataset {config.dataset!r} has no labels for the one-class protocol")
        check_model_objective(config.model, config.objective)
        self.model = build_autoencoder(config.model, self.train_split.image_shape)
        self._single_loss = make_autoencoder_loss(self.model, config.objective)
        output = config.objective.output

        def errors(params, x):  # per-example MSE per pixel
            return per_example_mse(pixels_from_logits(self.model.apply(params, x)[0], output), x)

        # Every replica scores the same images: (R, B).
        self._errors = jax.jit(jax.vmap(errors, in_axes=(0, None)))
        self.test_images = self.test_split.pixels()
        self.test_labels = self.test_split.labels_N

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

    def scores(self, params) -> np.ndarray:
        """Reconstruction error of every test image under every class's model: (R, N)."""
        parts = [
            np.asarray(self._errors(params, jnp.asarray(self.test_images[i : i + EVAL_BATCH])))
            for i in range(0, len(self.test_images), EVAL_BATCH)
        ]
        return np.concatenate(parts, axis=1)

    def evaluate(self, params) -> dict[str, float]:
        scores = self.scores(params)
        normal = [scores[r][self.test_labels == c].mean() for r, c in enumerate(self.classes)]
        return {"test_normal_mse": float(np.mean(normal))}

    def report(self, params, workdir: pathlib.Path) -> Report:
        config = self.config
        scores = self.scores(params)
        flat_train = self.train_split.pixels().reshape(len(self.train_split), -1)
        flat_test = self.test_images.reshape(len(self.test_images), -1)
        summary, rows, panels = {}, [], {}
        for r, c in enumerate(self.classes):
            pca = fit_pca(flat_train[self.train_split.labels_N == c], config.pca_components)
            pca_scores = pca_reconstruction_errors(pca, flat_test)
            summary[f"anomaly_auc_class{c}"] = one_class_auc(scores[r], self.test_labels, c)
            summary[f"pca_anomaly_auc_class{c}"] = one_class_auc(pca_scores, self.test_labels, c)
            rows.append([c, summary[f"anomaly_auc_class{c}"], summary[f"pca_anomaly_auc_class{c}"]])
            is_normal = self.test_labels == c
            panels[f"normal class {c}"] = (scores[r][is_normal], scores[r][~is_normal])
        summary["anomaly_auc_mean"] = float(np.mean([row[1] for row in rows]))
        summary["pca_anomaly_auc_mean"] = float(np.mean([row[2] for row in rows]))
        summary["test_examples"] = len(self.test_images)
        rows.append(["mean", summary["anomaly_auc_mean"], summary["pca_anomaly_auc_mean"]])
        figures.score_histograms(panels, workdir / "anomaly_scores.png", "reconstruction MSE")
        m = config.model
        protocol = (
            f"One-class protocol on `{config.dataset}`: for each normal class, a {m.kind} "
            f"autoencoder (code {m.code_size}) is trained {config.steps} steps (batch "
            f"{config.batch_size}) on that class's train images only; all {len(flat_test)} test "
            "images are scored by per-pixel reconstruction MSE, and the ROC-AUC (scikit-learn) "
            "measures how well the score ranks the other classes above the normal one. Baseline: "
            f"PCA with {config.pca_components} components fit on the same images, scored by its "
            "reconstruction error."
        )
        sections = [
            (
                "Anomaly detection",
                protocol
                + "\n\n"
                + markdown_table(["normal class", "AE ROC-AUC", "PCA ROC-AUC"], rows),
            ),
            ("Scores", "![score histograms](anomaly_scores.png)"),
        ]
        return Report(summary, sections)
