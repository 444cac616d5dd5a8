"""The compression report: PCA, the linear autoencoder and the nonlinear autoencoders at every
code size, the principal angles, the error-against-code-size figure."""

from __future__ import annotations

import pathlib

import numpy as np

from jaxgen.metrics.linear import fit_pca, max_principal_angle_deg, pca_reconstruction_errors
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    config = task.config
    flat_train = task.images["train"].reshape(len(task.images["train"]), -1)
    flat_test = task.images["test"].reshape(len(task.images["test"]), -1)
    summary, rows = {}, []
    curves = {"PCA": [], "linear AE": [], "best nonlinear AE": []}
    for k in config.code_sizes:
        pca = fit_pca(flat_train, k, 0)
        summary[f"pca_train_mse_k{k}"] = float(np.mean(pca_reconstruction_errors(pca, flat_train)))
        summary[f"pca_test_mse_k{k}"] = float(np.mean(pca_reconstruction_errors(pca, flat_test)))
        linear = f"linear_k{k}"
        summary[f"linear_ae_train_mse_k{k}"] = task.mse(params, linear, "train")
        summary[f"linear_ae_test_mse_k{k}"] = task.mse(params, linear, "test")
        decoder = np.asarray(params[linear]["params"]["output_layer"]["kernel"])  # k x D
        summary[f"max_principal_angle_deg_k{k}"] = max_principal_angle_deg(
            decoder.T, pca.components_.T
        )
        # "Best" nonlinear AE chosen by validation error, so the test split stays untouched.
        candidates = {
            name: (
                task.mse(params, f"{name}_k{k}", "validation"),
                task.mse(params, f"{name}_k{k}", "test"),
            )
            for name in config.nonlinear_models
        }
        best = min(candidates, key=lambda name: candidates[name][0])
        summary[f"ae_test_mse_k{k}"] = candidates[best][1]
        summary[f"ae_validation_mse_k{k}"] = candidates[best][0]
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
        "is the one with the lowest validation MSE (validation split held out from train). "
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
