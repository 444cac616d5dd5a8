"""The comparison report (families/comparison/task.py): every member's prior samples scored by the
same code against the same test images (FID, KID, precision/recall, classifier score in the feature
classifier's space; sharpness against the real images'), its test reconstruction error where it
has an encoder, and its test NLL where it has a likelihood; one table, one sample grid per
member, samples side by side, reconstructions side by side, FID over training.

The summary has, per member NAME, `fid_NAME`, `kid_NAME`, `precision_NAME`, `recall_NAME`,
`classifier_score_NAME`, `sharpness_ratio_NAME`, and `recon_mse_NAME`, `nll_nats_NAME` where
they exist; the floor (`fid_floor`, ...: real train images in a generator's place) and
`sharpness_real`.
"""

from __future__ import annotations

import pathlib

import numpy as np

from jaxgen.eval.likelihood import split_likelihood
from jaxgen.eval.reconstruction import reconstruction_error
from jaxgen.eval.sample_quality import (
    NOISE_KEYS,
    QUALITY,
    SampleQuality,
    floor_index,
    periodic_fid_floor,
)
from jaxgen.metrics.sharpness import mean_squared_laplacian
from jaxgen.reports import curves
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures

COLUMNS = 10  # images per row of the figures


def _cell(value, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    cfg = task.config
    n = min(int(cfg.report_samples), len(task.train_split))
    classifier = task.classifier
    real_features = task.real_features("test")
    test_pixels = task.splits["test"].pixel_view()
    real = np.asarray(test_pixels[:n])
    sharp_real = mean_squared_laplacian(real)
    floor = np.sort(floor_index(len(task.train_split), n))
    quality = SampleQuality(classifier, real_features, task.train_split.pixel_view()[floor])
    single_label = quality.single_label  # the classifier score needs one class per image
    summary: dict = quality.floor_numbers()
    summary.update(sharpness_real=sharp_real, report_samples=n)
    summary["feature_classifier_test_accuracy"] = classifier.test_accuracy

    samples, recons, rows = {}, {}, []
    for name, member in task.members.items():
        images = samples[name] = member.sample_pixels(params[name], n, NOISE_KEYS["test"])
        q = quality.score(images)
        numbers = {k: q[k] for k in QUALITY if k in q}
        numbers["sharpness_ratio"] = mean_squared_laplacian(images) / sharp_real
        if hasattr(member, "reconstructions"):
            recons[name] = member.reconstructions(params[name], real[:COLUMNS])
            numbers["recon_mse"] = reconstruction_error(
                member.reconstructions, params[name], test_pixels
            )
        if hasattr(member, "log_likelihood"):
            nll = split_likelihood(member, params[name], "test", member.config.nll_samples)
            numbers["nll_nats"] = nll["nll_nats"]
        summary.update({f"{k}_{name}": v for k, v in numbers.items()})
        rows.append(_row(name, numbers, single_label))
    rows.append(
        _row(
            f"floor: {n} real train images", {**quality.floor, "sharpness_ratio": 1.0}, single_label
        )
    )

    test = np.asarray(test_pixels)
    # What "reconstructing" every test image by the mean test image scores: a model below it
    # reconstructs something of each image.
    summary["recon_mse_mean_image"] = float(np.mean(np.square(test - test.mean(axis=0))))
    sections = [
        ("Protocol", _protocol(task, history, n, len(real_features), classifier)),
        ("Results", markdown_table(_header(single_label), rows)),
    ]
    if cfg.get("claims"):
        sections.append(("The claims", CLAIMS[cfg.claims](summary)))
    sections.append(("Figures", _figures(task, samples, recons, real, history, workdir)))
    return Report(summary, sections)


def _vae_vs_gan_claims(s: dict) -> str:
    """The textbook claims about VAEs and GANs, each with its verdict from the numbers."""
    verdicts = []
    if {"sharpness_ratio_vae", "sharpness_ratio_dcgan"} <= set(s):
        blurry = s["sharpness_ratio_vae"] < s["sharpness_ratio_dcgan"]
        verdicts.append(
            "*VAEs are blurry, GANs sharp*: sharpness ratio VAE "
            f"{s['sharpness_ratio_vae']:.3f} against DCGAN {s['sharpness_ratio_dcgan']:.3f} "
            "(1 is the data's): " + ("supported." if blurry else "not supported at this budget.")
        )
    if {"sharpness_ratio_vae", "sharpness_ratio_vaegan"} <= set(s):
        sharper = s["sharpness_ratio_vaegan"] > s["sharpness_ratio_vae"]
        verdicts.append(
            "*The discriminator learns that a blurry image is a fake* (so a GAN term sharpens a "
            f"VAE's decoder): VAE-GAN {s['sharpness_ratio_vaegan']:.3f} against VAE "
            f"{s['sharpness_ratio_vae']:.3f}: "
            + ("supported." if sharper else "not supported at this budget.")
        )
    if {"fid_vae", "fid_vaegan", "fid_dcgan", "recon_mse_vaegan"} <= set(s):
        beats_vae = s["fid_vaegan"] < s["fid_vae"]
        beats_gan = s["fid_vaegan"] < s["fid_dcgan"]
        verdict = (
            "supported: samples better than both, with an encoder."
            if beats_vae and beats_gan
            else "partly supported: samples better than the VAE's but not the GAN's, with an "
            "encoder."
            if beats_vae
            else "not supported at this budget: its samples are no better than the VAE's."
        )
        verdicts.append(
            "*VAE and GAN combined get the better of both worlds*: VAE-GAN FID "
            f"{s['fid_vaegan']:.2f} against VAE {s['fid_vae']:.2f} and DCGAN "
            f"{s['fid_dcgan']:.2f}; it also reconstructs (test MSE {s['recon_mse_vaegan']:.5f}"
            + (f", the VAE {s['recon_mse_vae']:.5f}" if "recon_mse_vae" in s else "")
            + f", the mean image {s['recon_mse_mean_image']:.5f}): "
            + verdict
        )
    if "recon_mse_bigan" in s:
        reconstructs = s["recon_mse_bigan"] < s["recon_mse_mean_image"]
        verdicts.append(
            "*A GAN with an encoder reconstructs through E and G*: BiGAN's G(E(x)) has test "
            f"MSE {s['recon_mse_bigan']:.5f} against {s['recon_mse_mean_image']:.5f} for the "
            "mean test image: "
            + (
                "supported (it reconstructs something of each image; "
                "`experiments/bigan.py` measures whether it keeps the digit)."
                if reconstructs
                else "not supported at this budget (no better than the mean image)."
            )
        )
    if "nll_nats_vae" in s:
        verdicts.append(
            f"Only the VAE has a likelihood: test NLL {s['nll_nats_vae']:.2f} nats; the GANs "
            "and the VAE-GAN (whose reconstruction term lives in the discriminator's features) "
            "define none."
        )
    return "\n".join(f"- {v}" for v in verdicts)


CLAIMS = {"vae_vs_gan": _vae_vs_gan_claims}  # one per config.CLAIM_SETS


def _header(single_label: bool) -> list[str]:
    header = ["model", "FID", "KID", "precision", "recall"]
    if single_label:
        header.append("classifier score")
    return header + ["sharpness ratio", "test recon MSE", "test NLL (nats)"]


def _row(label: str, v: dict, single_label: bool) -> list[str]:
    row = [
        label,
        f"{v['fid']:.2f}",
        f"{v['kid']:.4g}",
        f"{v['precision']:.3f}",
        f"{v['recall']:.3f}",
    ]
    if single_label:
        row.append(f"{v['classifier_score']:.2f}")
    return row + [
        f"{v['sharpness_ratio']:.3f}",
        _cell(v.get("recon_mse"), ".5f"),
        _cell(v.get("nll_nats"), ".2f"),
    ]


def _protocol(task, history, n, num_real, classifier) -> str:
    cfg = task.config
    members = "; ".join(f"`{name}`: task {cfg.members[name].task}" for name in task.names)
    nll = [
        f"`{name}` ({m.objective.likelihood} likelihood, {m.config.nll_samples} importance "
        "samples"
        + (
            ", test split binarized once with a fixed key)"
            if m.objective.likelihood == "bernoulli"
            else ")"
        )
        for name, m in task.members.items()
        if hasattr(m, "log_likelihood")
    ]
    return (
        f"{len(task.names)} models trained side by side on `{cfg.dataset}` for the same "
        f"{history.step} steps of batch {cfg.batch_size}, seed {cfg.seed}, each by its own "
        f"experiment's recipe (config.json's `members`): {members}. Each is reported at the end "
        f"of the budget (no checkpoint selection). Sample quality: {n} prior samples per model "
        f"from fixed noise against the {num_real} test images, in the 128-d feature space of the "
        f"feature classifier `{classifier.workdir.name}` (test accuracy "
        f"{classifier.test_accuracy:.4f}): FID; KID (unbiased MMD^2, cubic kernel, 100 subsets); "
        "improved precision and recall with k = 3; the classifier score (Inception Score with "
        "this classifier). A VAE's sample is its mean image E[x | z], z ~ N(0, I). Sharpness "
        "ratio: the mean squared 5-point Laplacian of the samples over that of the first "
        f"{n} test images (metrics/sharpness.py; 1 is as sharp as the data). Test recon MSE: "
        "mean squared error per pixel in [0, 1] of the test images decoded from their codes "
        "(the mean code for the VAEs, E(x) through G for BiGAN); a model without an encoder has "
        "none. Test NLL: only where the model has a likelihood: "
        + (", ".join(nll) if nll else "none of these")
        + ". The floor row puts real train images in a generator's place: the best any model "
        "can score with these sample counts."
    )


def _figures(task, samples, recons, real, history, workdir) -> str:
    files = []
    for name, images in samples.items():
        rows = max(1, min(8, len(images) // COLUMNS))
        files.append(
            figures.image_grid(
                images[: rows * COLUMNS],
                rows,
                COLUMNS,
                workdir / f"samples_{name}.png",
                f"{name}: prior samples (fixed noise)",
            )
        )
    files.append(
        figures.image_rows(
            [real[:COLUMNS], *(images[:COLUMNS] for images in samples.values())],
            ["test images", *samples],
            workdir / "samples_side_by_side.png",
            "prior samples from the same noise key, one row per model",
        )
    )
    if recons:
        files.append(
            figures.image_rows(
                [real[:COLUMNS], *(r[:COLUMNS] for r in recons.values())],
                ["test images", *recons],
                workdir / "reconstructions.png",
                "test images and their reconstructions, one row per model",
            )
        )
    names = [f"{name}/fid" for name in task.names]
    if any(name in r for r in history.validation for name in names):
        floor = periodic_fid_floor(task)
        files += curves.fid_over_training(history, names, workdir, task.config.eval_samples, floor)
    return "\n\n".join(f"![{p.stem}]({p.name})" for p in files)
