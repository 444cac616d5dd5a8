"""The autoencoder's report: test reconstruction error, reconstructions, the denoising triptych,
2-D and t-SNE views of the codes, the learning curve."""

from __future__ import annotations

import pathlib

import numpy as np

from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures

TSNE_SEED = 0


def tsne_perplexity(count: int) -> float:
    """30, or less for few points (scikit-learn needs perplexity < the number of points)."""
    return min(30.0, (count - 1) / 3.0)


def tsne_codes(codes: np.ndarray, labels, count: int) -> tuple[np.ndarray, np.ndarray]:
    """t-SNE (scikit-learn, perplexity `tsne_perplexity`, PCA init, fixed seed) of the first
    `count` codes; returns (points, labels)."""
    from sklearn.manifold import TSNE

    count = min(count, len(codes))
    points = TSNE(
        n_components=2, init="pca", random_state=TSNE_SEED, perplexity=tsne_perplexity(count)
    ).fit_transform(codes[:count].astype(np.float64))
    return points, (None if labels is None else labels[:count])


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    config, objective = task.config, task.config.objective
    n = 12
    x, inputs = task.inputs("test", n)
    recon = task.reconstructions(params, "test", n)
    summary = {f"test_{k}": v for k, v in history.test.items()}
    test_examples = summary["test_examples"] = len(task.images["test"])
    denoising = objective.corruption != "none"
    if denoising:
        input_mse = task.errors(params, "test")["input_mse"]
        summary["test_corrupted_input_mse"] = float(np.mean(input_mse))
    protocol = (
        f"Per-pixel error on the `{config.dataset}` test split ({test_examples} images, pixels in "
        "[0, 1]), reconstructing "
        + (
            f"inputs corrupted once by `{objective.corruption}` noise at level "
            f"{objective.noise_level} (a fixed key per example) and comparing with the clean "
            "images."
            if denoising
            else "the clean images."
        )
    )
    rows = [[k, v] for k, v in summary.items()]
    sections = [
        ("Reconstruction error", protocol + "\n\n" + markdown_table(["metric", "value"], rows))
    ]

    figures.image_rows(
        [x[:n], recon[:n]],
        ["input", "output"],
        workdir / "reconstructions.png",
        "test reconstructions",
    )
    body = "![reconstructions](reconstructions.png)"
    if denoising:
        figures.image_rows(
            [x[:n], inputs[:n], recon[:n]],
            ["clean", "corrupted", "denoised"],
            workdir / "denoising.png",
            f"denoising: {objective.corruption} at {objective.noise_level}",
        )
        body += "\n\n![denoising triptych](denoising.png)"
    sections.append(("Figures", body))

    codes = task.codes(params, "test")
    labels = task.splits["test"].labels_N
    code_figs = []
    if codes.shape[1] == 2:
        figures.scatter_codes(
            codes, labels, workdir / "codes_2d.png", "test codes (2-unit bottleneck)"
        )
        code_figs.append("![codes](codes_2d.png)")
    if config.tsne_points and len(codes) >= 4:  # t-SNE needs a few points
        points, point_labels = tsne_codes(codes, labels, config.tsne_points)
        figures.scatter_codes(
            points,
            point_labels,
            workdir / "codes_tsne.png",
            f"t-SNE of {len(points)} test codes (perplexity {tsne_perplexity(len(points)):.3g})",
        )
        code_figs.append("![t-SNE of codes](codes_tsne.png)")
    if code_figs:
        sections.append(("Codes", "\n\n".join(code_figs)))
    sections += learning_curve_section(history, ["loss", "mse"], workdir)
    return Report(summary, sections)
