"""The anomaly-detection report: test ROC-AUC per normal class against a PCA detector, and the
score histograms."""

from __future__ import annotations

import pathlib

import numpy as np

from jaxgen.metrics.anomaly import one_class_auc
from jaxgen.metrics.linear import fit_pca, pca_reconstruction_errors
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    config, test = task.config, task.splits["test"]
    scores = task.scores(params, "test")
    numbers = history.test
    flat_train = task.train_split.pixels().reshape(len(task.train_split), -1)
    flat_test = test.pixels().reshape(len(test), -1)
    summary, rows, panels = {}, [], {}
    for r, c in enumerate(task.classes):
        pca = fit_pca(flat_train[task.train_split.labels_N == c], config.pca_components)
        pca_auc = one_class_auc(pca_reconstruction_errors(pca, flat_test), test.labels_N, c)
        summary[f"anomaly_auc_class{c}"] = numbers[f"auc_class{c}"]
        summary[f"pca_anomaly_auc_class{c}"] = pca_auc
        rows.append([c, numbers[f"auc_class{c}"], pca_auc])
        is_normal = test.labels_N == c
        panels[f"normal class {c}"] = (scores[r][is_normal], scores[r][~is_normal])
    summary["anomaly_auc_mean"] = numbers["auc_mean"]
    summary["pca_anomaly_auc_mean"] = float(np.mean([row[2] for row in rows]))
    summary["test_examples"] = len(test)
    rows.append(["mean", summary["anomaly_auc_mean"], summary["pca_anomaly_auc_mean"]])
    figures.score_histograms(panels, workdir / "anomaly_scores.png", "reconstruction MSE")
    m = config.model
    protocol = (
        f"One-class protocol on `{config.dataset}`: for each normal class, a {m.kind} "
        f"autoencoder (code {m.code_size}) is trained {history.step} steps (batch "
        f"{config.batch_size}) on that class's train images only; all {len(flat_test)} test "
        "images are scored by per-pixel reconstruction MSE, and the ROC-AUC (scikit-learn) "
        "measures how well the score ranks the other classes above the normal one. Baseline: "
        f"PCA with {config.pca_components} components fit on the same images, scored by its "
        "reconstruction error. The checkpoints are ranked by the mean AUC on the validation "
        "split (held out from train): the best one is the step budget chosen without the test "
        "split (see Model selection)."
    )
    sections = [
        (
            "Anomaly detection",
            protocol + "\n\n" + markdown_table(["normal class", "AE ROC-AUC", "PCA ROC-AUC"], rows),
        ),
        ("Scores", "![score histograms](anomaly_scores.png)"),
    ]
    return Report(summary, sections)
