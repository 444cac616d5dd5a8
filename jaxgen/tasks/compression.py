"""Compression curves: PCA against the linear autoencoder and nonlinear autoencoders, at several
code sizes, all trained together in one train state.

The parameter tree is {model name: params}. Its loss is the sum of the models' losses, so every
model gets exactly its own gradient, and Adam (elementwise) updates each one as if it were
trained alone on the same batches.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import load_split, train_dataset
from jaxgen.losses.autoencoder import make_autoencoder_loss
from jaxgen.metrics.linear import fit_pca, max_principal_angle_deg, pca_reconstruction_errors
from jaxgen.models.autoencoders import build_autoencoder
from jaxgen.tasks.autoencoder import batched, make_reconstruct, model_config, objective_config
from jaxgen.viz import figures
from jaxgen.viz.report import Report, markdown_table


def linear_model_config() -> ml_collections.ConfigDict:
    """The linear autoencoder: one dense map down, one up, no activations (biases kept)."""
    return model_config("dense", hidden=(), activation="linear", code_activation="linear")


class CompressionTask:
    """PCA vs linear AE vs nonlinear AEs, per-pixel MSE against code size."""

    batch_axis = 0
    best_metric = "mean_test_mse"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        self.train_split = load_split(config.dataset, "train")
        self.test_split = load_split(config.dataset, "test")
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
        self.train_images = self.train_split.pixels()
        self.test_images = self.test_split.pixels()

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

    def _mse(self, params, name: str, images: np.ndarray) -> float:
        recon = batched(self._reconstruct[name], params[name], images)
        return float(np.mean((recon - images) ** 2))

    def evaluate(self, params) -> dict[str, float]:
        result = {f"test_mse_{n}": self._mse(params, n, self.test_images) for n in self.models}
        result["mean_test_mse"] = float(np.mean(list(result.values())))
        return result

    def report(self, params, workdir: pathlib.Path) -> Report:
        config = self.config
        flat_train = self.train_images.reshape(len(self.train_images), -1)
        flat_test = self.test_images.reshape(len(self.test_images), -1)
        summary, rows = {}, []
        curves = {"PCA": [], "linear AE": [], "best nonlinear AE": []}
        for k in config.code_sizes:
            pca = fit_pca(flat_train, k, config.seed)
            summary[f"pca_train_mse_k{k}"] = float(
                np.mean(pca_reconstruction_errors(pca, flat_train))
            )
            summary[f"pca_test_mse_k{k}"] = float(
                np.mean(pca_reconstruction_errors(pca, flat_test))
            )
            linear = f"linear_k{k}"
            summary[f"linear_ae_train_mse_k{k}"] = self._mse(params, linear, self.train_images)
            summary[f"linear_ae_test_mse_k{k}"] = self._mse(params, linear, self.test_images)
            decoder = np.asarray(params[linear]["params"]["output_layer"]["kernel"])  # k x D
            summary[f"max_principal_angle_deg_k{k}"] = max_principal_angle_deg(
                decoder.T, pca.components_.T
            )
            # "Best" nonlinear AE chosen by train error, so the test split stays untouched.
            candidates = {
                name: (
                    self._mse(params, f"{name}_k{k}", self.train_images),
                    self._mse(params, f"{name}_k{k}", self.test_images),
                )
                for name in config.nonlinear_models
            }
            best = min(candidates, key=lambda name: candidates[name][0])
            summary[f"ae_test_mse_k{k}"] = candidates[best][1]
            summary[f"ae_train_mse_k{k}"] = candidates[best][0]
            for name, (_, test_mse) in candidates.items():
                summary[f"{name}_test_mse_k{k}"] = test_mse
            curves["PCA"].append(summary[f"pca_test_mse_k{k}"])
            curves["linear AE"].append(summary[f"linear_ae_test_mse_k{k}"])
            curves["best nonlinear AE"].append(summary[f"ae_test_mse_k{k}"])
            rows.append(
                [
                    k,
                    summary[f"pca_train_mse_k{k}"],
                    summary[f"linear_ae_train_mse_k{k}"],
                    summary[f"linear_ae_train_mse_k{k}"] / summary[f"pca_train_mse_k{k}"],
                    summary[f"pca_test_mse_k{k}"],
                    summary[f"linear_ae_test_mse_k{k}"],
                    f"{summary[f'ae_test_mse_k{k}']:.4g} ({best})",
                    summary[f"ae_test_mse_k{k}"] / summary[f"pca_test_mse_k{k}"],
                    summary[f"max_principal_angle_deg_k{k}"],
                ]
            )
        figures.curves(
            list(config.code_sizes),
            curves,
            workdir / "compression.png",
            xlabel="code size",
            ylabel="test MSE per pixel",
            logy=True,
            title=f"{config.dataset}: reconstruction error against code size",
        )
        protocol = (
            f"Per-pixel MSE (pixels in [0, 1]) on the `{config.dataset}` train split "
            f"({len(flat_train)} images) and test split ({len(flat_test)} images). PCA: "
            "scikit-learn, exact SVD, fit on the train split. Linear AE: one dense layer down "
            "and one up with biases, no activations, MSE. Nonlinear AEs: "
            + ", ".join(
                f"`{n}` ({m.kind}, hidden {tuple(m.hidden)}, {m.activation})"
                for n, m in config.nonlinear_models.items()
            )
            + f" with a sigmoid output, trained on `{config.nonlinear_reconstruction}`; the best "
            "is the one with the lowest train MSE. "
            f"All trained {config.steps} steps of batch {config.batch_size} with Adam "
            f"(learning rates {dict(config.group_learning_rates)}, {config.lr_schedule}). "
            "Principal angle: the largest "
            "between the span of the linear AE's decoder weights and the PCA subspace (SciPy)."
        )
        header = [
            "code size",
            "PCA train",
            "linear AE train",
            "ratio",
            "PCA test",
            "linear AE test",
            "best AE test",
            "AE / PCA test",
            "max angle (deg)",
        ]
        sections = [
            ("Compression", protocol + "\n\n" + markdown_table(header, rows)),
            ("Figure", "![error against code size](compression.png)"),
        ]
        return Report(summary, sections)
