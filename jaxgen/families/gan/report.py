"""The GAN reports: mode coverage on 2-D mixtures, sample quality on images (each number with
its sample counts and its real-data floor), samples over training, D(x) and the generator's
gradient norms over training."""

from __future__ import annotations

import pathlib

import numpy as np

from jaxgen.eval.sample_quality import (
    NOISE_KEYS,
    periodic_fid_floor,
    sample_quality_section,
    to_unit,
)
from jaxgen.families.gan.task import MixtureGANTask
from jaxgen.metrics import modes
from jaxgen.reports import curves
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures


def _protocol(task) -> str:
    cfg = task.config
    return (
        f"{cfg.objective.loss} GAN ({cfg.model.kind}"
        f"{', conditional' if task.conditional else ''}"
        f"{', spectral norm in D' if cfg.model.spectral_norm else ''}), "
        f"{cfg.objective.discriminator_steps} discriminator update(s) per generator update, "
        f"learning rates G {cfg.generator_learning_rate:g} / D "
        f"{cfg.discriminator_learning_rate:g}, Adam betas ({cfg.adam_b1:g}, {cfg.adam_b2:g}), "
        f"batch {cfg.batch_size}; evaluated with "
        + (
            f"the generator's weight average (decay {cfg.objective.average_decay:g})"
            if cfg.objective.average_decay > 0
            else "the generator's final weights"
        )
        + " and fixed noise."
    )


def _assemble(task, history, workdir, numbers, sections, figure_files) -> Report:
    figure_files += _training_figures(task, history, workdir)
    figure_text = "\n\n".join(f"![{p.stem}]({p.name})" for p in figure_files)
    return Report(numbers, [("Protocol", _protocol(task)), *sections, ("Figures", figure_text)])


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    """The report of either GAN task: 2-D mixtures or images."""
    if isinstance(task, MixtureGANTask):
        return mixture_report(task, params, history, workdir)
    return image_report(task, params, history, workdir)


def mixture_report(task, params, history: History, workdir: pathlib.Path) -> Report:
    """Mode coverage of `report_samples` generated points on the test keys, with the real
    points' numbers as the reference; points over training; D(x); generator gradients."""
    return _assemble(task, history, workdir, *_mixture_numbers(task, params, history, workdir))


def image_report(task, params, history: History, workdir: pathlib.Path) -> Report:
    """FID, KID, classifier score and precision/recall of `report_samples` generated images
    against the test split, next to their real-data floor; sample grids; FID over training."""
    return _assemble(task, history, workdir, *_image_numbers(task, params, history, workdir))


def _mixture_numbers(task, params, history, workdir):
    cfg = task.config
    n = cfg.report_samples
    samples, labels, real = task.draws(params, "test", n)
    numbers = task.mode_numbers(params, samples, labels, real)
    numbers.update(num_modes=len(task.centers), report_samples=n)
    real_stats = modes.mode_statistics(real["x"], task.centers, cfg.mixture.std)
    rows = [
        [
            "generated",
            numbers["modes_covered"],
            f"{numbers['high_quality_fraction']:.3f}",
            f"{numbers['mode_kl']:.3f}",
        ],
        [
            "real (reference)",
            real_stats["modes_covered"],
            f"{real_stats['high_quality_fraction']:.3f}",
            f"{real_stats['mode_kl']:.3f}",
        ],
    ]
    text = (
        f"{n} samples; a sample is high quality within 3 standard deviations "
        f"({3 * cfg.mixture.std:g}) of its nearest of the {len(task.centers)} modes; "
        "mode KL is KL(histogram of the high-quality samples over modes || uniform), nats "
        "(PacGAN protocol, metrics/modes.py).\n\n"
        + markdown_table(["", "modes covered", "high-quality fraction", "mode KL"], rows)
        + f"\n\nD(x): {numbers['d_real']:.3f} on real points, {numbers['d_fake']:.3f} on "
        "generated ones (0.5 at the equilibrium)."
    )
    figure_files = [
        figures.points_over_training(
            [("generated", samples), ("real", real["x"])],
            task.centers,
            workdir / "samples.png",
            f"{n} generated and real points; modes as red rings",
        )
    ]
    snapshots = history.snapshots
    if snapshots:
        figure_files.append(
            figures.points_over_training(
                [(f"step {s}", a["samples"]) for s, a in snapshots],
                task.centers,
                workdir / "samples_over_training.png",
                "generated points (fixed noise) over training",
            )
        )
    return numbers, [("Mode coverage", text)], figure_files


def _image_numbers(task, params, history, workdir):
    cfg = task.config
    n = min(cfg.report_samples, len(task.train_split))
    samples, labels = task.sample(params, n, NOISE_KEYS["test"])
    images = to_unit(samples)
    test = task.splits["test"]
    numbers = {
        "d_real": task.mean_d(params, test.pixel_view(), test.int_labels(), pixels=True),
        "d_fake": task.mean_d(params, samples, labels),
    }
    if task.has_feature_network:
        quality, text = sample_quality_section(task, images, labels, n)
        numbers = {**quality, **numbers}
    else:
        numbers["report_samples"] = n
        text = (
            f"FID, KID, the classifier score and precision/recall are computed in the features of "
            f"a classifier that jaxgen trains on the data set's labels; `{cfg.dataset}` has no "
            "labels, so this report gives the samples and D(x) only, and the checkpoints are not "
            f"ranked. D(x): {numbers['d_real']:.3f} on the {len(test)} test images, "
            f"{numbers['d_fake']:.3f} on {n} generated ones."
        )
    columns = 10
    if task.conditional:
        grid, rows_n, title = (
            _by_class(images, labels, columns),
            task.num_classes,
            "one row per class",
        )
    else:
        rows_n = min(8, len(images) // columns)  # a set smaller than 80 images draws fewer rows
        grid, title = images[: rows_n * columns], "fixed noise"
    figure_files = [
        figures.image_grid(grid, rows_n, columns, workdir / "samples.png", f"generated ({title})")
    ]
    figure_files += curves.samples_over_training(history, workdir)
    if task.has_feature_network and any("fid" in r for r in history.validation):
        floor = periodic_fid_floor(task)
        figure_files += curves.fid_over_training(history, ["fid"], workdir, cfg.eval_samples, floor)
    return numbers, [("Sample quality", text)], figure_files


def _training_figures(task, history, workdir) -> list[pathlib.Path]:
    """D(x) and the generator's gradient norms over training, from metrics.jsonl."""
    records = history.train
    if not records:
        return []
    files = curves.discriminator_over_training(
        history,
        ["d_real", "d_fake"],
        workdir,
        "D(x) = sigmoid(logit) on real and generated training batches",
    )
    names = ["generator_grad_norm_minimax", "generator_grad_norm_non_saturating"]
    if not any(names[0] in r for r in records):
        names = ["generator_grad_norm"]
    files.append(
        figures.learning_curves(
            records,
            names,
            workdir / "generator_gradient.png",
            "norm of the generator's gradient (same players, both losses)"
            if len(names) == 2
            else f"norm of the generator's gradient ({task.config.objective.loss})",
        )
    )
    return files


def _by_class(images: np.ndarray, labels: np.ndarray, columns: int) -> np.ndarray:
    """`columns` images of each class in turn (labels cycle through the classes)."""
    order = np.concatenate([np.flatnonzero(labels == c)[:columns] for c in np.unique(labels)])
    return images[order]
