"""The VAE-GAN report: sample quality of prior samples (FID, KID, precision/recall, classifier
score against the test split, next to their real-data floor: eval/sample_quality.py's section), the
test reconstruction error, the sharpness of samples against real images, and the figures
(reconstructions, samples, samples over training, learning curves)."""

from __future__ import annotations

import pathlib

import numpy as np

from jaxgen.eval.sample_quality import (
    NOISE_KEYS,
    periodic_fid_floor,
    sample_quality_section,
    to_unit,
)
from jaxgen.metrics.sharpness import mean_squared_laplacian
from jaxgen.reports import curves
from jaxgen.reports.markdown import Report
from jaxgen.train.protocol import History
from jaxgen.viz import figures


def _protocol(task) -> str:
    cfg, obj = task.config, task.config.objective
    rule = (
        f"the equilibrium rule (equilibrium {obj.equilibrium_value:g}, margin {obj.margin:g})"
        if obj.equilibrium
        else "no equilibrium rule"
    )
    return (
        f"VAE-GAN (Larsen et al. 2016), latent size {cfg.model.latent_size}, L_llike in the "
        f"features of discriminator conv layer {cfg.model.feature_layer} (unit-variance Gaussian, "
        f"constant dropped); decoder loss gamma * L_llike + {obj.adversarial_weight:g} * "
        f"{obj.generator_loss} GAN loss with gamma {obj.gamma:g}; reconstructions and prior "
        f"samples both fakes; {rule}; Adam {cfg.learning_rate:g} per player, betas "
        f"({cfg.adam_b1:g}, {cfg.adam_b2:g}), batch {cfg.batch_size}, {cfg.steps} steps; "
        + (
            f"evaluated with the encoder's and decoder's weight averages (decay "
            f"{obj.average_decay:g})"
            if obj.average_decay > 0
            else "evaluated with the final weights"
        )
        + "; samples from fixed noise."
    )


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    """The numbers on the test split and the figures, written into `workdir`."""
    cfg = task.config
    n = min(cfg.report_samples, len(task.train_split))
    samples, labels = task.sample(params, n, NOISE_KEYS["test"])
    images = to_unit(samples)
    test = task.splits["test"]
    real = np.asarray(test.pixel_view()[:n])
    numbers = {"recon_mse": task.recon_mse(params, "test"), "report_samples": n}
    sections = []
    if task.has_feature_network:
        quality, text = sample_quality_section(task, images, labels, n)
        numbers = {**quality, **numbers, "fid_vaegan": quality["fid"]}
        sections.append(("Sample quality (prior samples)", text))
    sharp_fake, sharp_real = mean_squared_laplacian(images), mean_squared_laplacian(real)
    numbers.update(
        sharpness_samples=sharp_fake,
        sharpness_real=sharp_real,
        sharpness_ratio_vaegan=sharp_fake / sharp_real,
    )
    sections.append(
        (
            "Reconstruction and sharpness",
            f"Test reconstruction error (decoded from the mean code): "
            f"{numbers['recon_mse']:.5f} mean squared error per pixel in [0, 1], over the "
            f"{len(test)} test images. Sharpness: the mean squared 5-point Laplacian "
            f"(metrics/sharpness.py) of {n} prior samples is {sharp_fake:.5f}, of {len(real)} "
            f"real test images {sharp_real:.5f}: a ratio of {numbers['sharpness_ratio_vaegan']:.3f}"
            " (1 is as sharp as the data; a blurry VAE sits well below).",
        )
    )
    figure_files = _figures(task, params, history, workdir, images, numbers)
    figure_text = "\n\n".join(f"![{p.stem}]({p.name})" for p in figure_files)
    return Report(numbers, [("Protocol", _protocol(task)), *sections, ("Figures", figure_text)])


def _figures(task, params, history, workdir, images, numbers) -> list[pathlib.Path]:
    cfg = task.config
    columns = 10
    x = np.asarray(task.splits["test"].pixel_view()[:columns])
    files = [
        figures.image_rows(
            [x, task.reconstructions(params, x)],
            ["test", "reconstructed"],
            workdir / "reconstructions.png",
            "test images and their reconstructions (mean code)",
        )
    ]
    rows = max(1, min(8, len(images) // columns))
    files.append(
        figures.image_grid(
            images[: rows * columns], rows, columns, workdir / "samples.png", "prior samples"
        )
    )
    files += curves.samples_over_training(history, workdir)
    if history.train:
        files.append(
            figures.learning_curves(
                history.train,
                ["llike", "prior_nats", "discriminator_loss", "decoder_adversarial"],
                workdir / "learning_curves.png",
                "train losses: L_llike, L_prior, -L_GAN (discriminator), L_G (decoder)",
            )
        )
    files += curves.discriminator_over_training(
        history,
        ["d_real", "d_recon", "d_fake"],
        workdir,
        "D(x) on real images, reconstructions and prior samples",
    )
    if task.has_feature_network and any("fid" in r for r in history.validation):
        floor = periodic_fid_floor(task)
        files += curves.fid_over_training(history, ["fid"], workdir, cfg.eval_samples, floor)
    return files
