"""The latent-code reports (families/latent_codes/task.py), by `config.report_kind`:

- latent_sampling: images decoded from four latent sources (N(0, I) and a Gaussian fitted to
  the train codes, through the AE's and the VAE's decoders) scored against the test images in
  the digit feature classifier's space (FID, KID, precision/recall, classifier score, with a
  real-data floor), and the interpolation leave rate of each model; sample grids and
  interpolation strips.
- clustering: k-means on the test pixels, PCA codes, AE codes and VAE means, scored by
  clustering accuracy, NMI and ARI, beside published figures for the set (MNIST's, Fashion-MNIST's).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from jaxgen.data.datasets import is_digit_set
from jaxgen.eval.sample_quality import SampleQuality, floor_index
from jaxgen.metrics import clustering
from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures

SAMPLE_KEY = 0x5A  # the prior and fitted-Gaussian draws (fixed: every run and seed the same)
FLOOR_KEY = 0x5F  # which train images make the real-data floor
PAIRS_KEY = 0x1A  # which test pairs the interpolation leave rate walks between
SOURCES = ("ae_prior", "ae_fitted", "vae_prior", "vae_fitted")
SOURCE_NAMES = {
    "ae_prior": "AE decoder, z ~ N(0, I)",
    "ae_fitted": "AE decoder, z ~ Gaussian fitted to the AE's train codes",
    "vae_prior": "VAE decoder, z ~ N(0, I) (its prior)",
    "vae_fitted": "VAE decoder, z ~ Gaussian fitted to the VAE's train means",
}


@dataclasses.dataclass(frozen=True)
class Anchors:
    """Published clustering accuracies to read a run's beside (never used to choose anything)."""

    source: str
    images: str  # which images they were measured on
    accuracy: dict[str, float]


# Xie, Girshick and Farhadi (2016), Unsupervised Deep Embedding for Clustering Analysis, Table 2.
MNIST_ANCHORS = Anchors(
    "the DEC paper (Xie et al. 2016, Table 2)",
    "all 70,000 MNIST images",
    {"k-means on pixels": 0.532, "AE + k-means": 0.818, "DEC": 0.843},
)
# Guo's DEC-keras, the Keras DEC of the IDEC and DEC-DA author (github.com/XifengGuo/DEC-keras,
# README Table 1, Fashion-MNIST row added in commit 854a1af, 2018): means over 10 trials, AE
# 784-500-500-2000-10; `results/exp1/results.csv` holds the trials.
FASHION_MNIST_ANCHORS = Anchors(
    "Guo's DEC-keras (github.com/XifengGuo/DEC-keras, README Table 1, mean of 10 trials)",
    "all 70,000 Fashion-MNIST images",
    {"k-means on pixels": 0.47, "AE + k-means": 0.61, "DEC": 0.62},
)


def published_anchors(dataset: str) -> Anchors | None:
    """The anchors of `dataset`'s kind of images: MNIST's for the digit sets, Fashion-MNIST's for
    `fashion_mnist`; None for any other set."""
    if is_digit_set(dataset):
        return MNIST_ANCHORS
    if dataset.split(":")[0] == "fashion_mnist":
        return FASHION_MNIST_ANCHORS
    return None


CLUSTER_FEATURES = ("pixels", "pca", "ae", "vae")


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    kind = task.config.report_kind
    test = {f"test_{k}": v for k, v in history.test.items()}
    if kind == "latent_sampling":
        summary, sections = latent_sampling(task, params, workdir)
    else:
        summary, sections = clustering_report(task, params, history, workdir)
    summary = {**test, **summary}
    training = (
        f"Both models share the `{task.config.model.kind}` network "
        f"(hidden {tuple(task.config.model.hidden)}) and a {task.latent_size}-unit code, and are "
        f"trained side by side for {history.step} steps on `{task.config.dataset}`: the AE on "
        "the per-pixel Bernoulli cross-entropy of the grey pixels, the VAE on the negative ELBO "
        "(Bernoulli likelihood, dynamically binarized pixels). Test reconstruction cross-entropy "
        "of the grey images, in nats per image: AE "
        f"{history.test.get('ae_bce_nats', float('nan')):.2f}, VAE (from its mean code) "
        f"{history.test.get('vae_bce_nats', float('nan')):.2f}; the VAE's test negative ELBO "
        f"(binarized once with a fixed key, {task.config.elbo_samples} draws): "
        f"{history.test.get('vae_neg_elbo_nats', float('nan')):.2f} nats."
    )
    sections = [("Models", training), *sections]
    sections += learning_curve_section(
        history, ["ae_bce_per_pixel", "vae_neg_elbo", "vae_kl_nats"], workdir
    )
    return Report(summary, sections)


# ---- latent sampling --------------------------------------------------------------------------


def fitted_gaussian_draws(codes_NxZ: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` draws from N(mean, full covariance) fitted to the codes (float32)."""
    codes = np.asarray(codes_NxZ, np.float64)
    mean, cov = codes.mean(axis=0), np.atleast_2d(np.cov(codes, rowvar=False))
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(mean, cov, size=count, method="eigh").astype(np.float32)


def latent_codes_of(task, params, split_images) -> dict[str, np.ndarray]:
    return {m: task.encode(params, m, split_images) for m in ("ae", "vae")}


def latent_sampling(task, params, workdir: pathlib.Path) -> tuple[dict, list]:
    config = task.config
    n = int(config.report_samples)
    z_size = task.latent_size
    classifier = task.classifier
    train_codes = latent_codes_of(task, params, task.train_split.pixel_view())
    prior = np.random.default_rng(SAMPLE_KEY).standard_normal((n, z_size)).astype(np.float32)
    latents = {
        "ae_prior": prior,
        "ae_fitted": fitted_gaussian_draws(train_codes["ae"], n, SAMPLE_KEY + 1),
        "vae_prior": prior,
        "vae_fitted": fitted_gaussian_draws(train_codes["vae"], n, SAMPLE_KEY + 2),
    }
    images = {s: task.decode(params, s.split("_")[0], z) for s, z in latents.items()}

    real_features = classifier.features(task.images["test"])
    floor_count = min(n, len(task.train_split))
    floor = np.sort(floor_index(len(task.train_split), floor_count, FLOOR_KEY))
    quality = SampleQuality(classifier, real_features, task.train_split.pixel_view()[floor])
    floor = quality.floor
    summary: dict = quality.floor_numbers()
    rows = []
    for source in SOURCES:
        q = quality.score(images[source])
        for name in ("fid", "kid", "precision", "recall", "classifier_score"):
            summary[f"{name}_{source}"] = q[name]
        rows.append(
            [
                SOURCE_NAMES[source],
                f"{q['fid']:.2f}",
                f"{q['kid']:.4f}",
                f"{q['precision']:.3f}",
                f"{q['recall']:.3f}",
                f"{q['classifier_score']:.2f}",
            ]
        )
    rows.append(
        [
            f"floor: {floor_count} real train images",
            f"{floor['fid']:.2f}",
            f"{floor['kid']:.4f}",
            f"{floor['precision']:.3f}",
            f"{floor['recall']:.3f}",
            f"{floor['classifier_score']:.2f}",
        ]
    )

    test_codes = latent_codes_of(task, params, task.images["test"])
    labels = task.labels["test"]
    pairs, steps = int(config.interpolation_pairs), int(config.interpolation_steps)
    for model in ("ae", "vae"):
        summary[f"interpolation_leave_rate_{model}"] = clustering.interpolation_leave_rate(
            lambda z, m=model: task.decode(params, m, z),
            classifier.probabilities,
            test_codes[model],
            labels,
            pairs,
            steps,
            PAIRS_KEY,
        )
    # The same walk in pixel space: the share of interior cross-fades that leave both classes.
    summary["interpolation_leave_rate_pixels"] = clustering.interpolation_leave_rate(
        lambda x: x.reshape(-1, *task.image_shape),
        classifier.probabilities,
        np.asarray(task.images["test"][: len(labels)]).reshape(len(labels), -1),
        labels,
        pairs,
        steps,
        PAIRS_KEY,
    )
    summary.update(report_samples=n, interpolation_pairs=pairs, interpolation_steps=steps)
    summary["feature_classifier_test_accuracy"] = classifier.test_accuracy

    body = [_sample_figure(images[s], s, workdir) for s in SOURCES]
    body.append(_interpolation_figure(task, params, test_codes, labels, workdir))
    protocol = (
        f"{n} images from each source against the {len(real_features)} `{config.dataset}` "
        f"test images, in the 128-d feature space of the digit feature classifier "
        f"`{classifier.workdir.name}` (nn/classifier.py; test accuracy "
        f"{classifier.test_accuracy:.4f}). FID; KID (unbiased MMD^2, cubic kernel, 100 subsets); "
        "improved precision and recall with k = 3; the classifier score (Inception Score with "
        "this classifier, 1 to 10). The fitted Gaussians have the mean and full covariance of "
        "the models' train codes (the AE's codes, the VAE's means). The floor row puts real "
        "train images in the generator's place."
    )
    table = markdown_table(
        ["source", "FID", "KID", "precision", "recall", "classifier score"], rows
    )
    leave = (
        f"Interpolation leave rate: {pairs} pairs of test images of different classes; on the "
        f"linear path between their codes ({steps} points, ends included) each of the "
        f"{steps - 2} interior points is decoded and classified; the rate is the share "
        "classified as neither endpoint's class. AE: "
        f"{summary['interpolation_leave_rate_ae']:.3f}, VAE: "
        f"{summary['interpolation_leave_rate_vae']:.3f}; the same walk as a cross-fade in pixel "
        f"space: {summary['interpolation_leave_rate_pixels']:.3f}."
    )
    return summary, [
        ("Sampling the latent spaces", protocol + "\n\n" + table),
        ("Claim", _sampling_claim(summary)),
        ("Interpolation", leave),
        ("Samples", "\n\n".join(body)),
    ]


def _sampling_claim(s: dict) -> str:
    claim = (
        "The claim under test: *an AE's latent space decodes poorly away from its codes, a VAE's "
        "can be sampled*. "
    )
    prior_ok = s["fid_vae_prior"] < s["fid_ae_prior"]
    fitted_gap = s["fid_vae_prior"] < s["fid_ae_fitted"]
    leave_ok = s["interpolation_leave_rate_vae"] < s["interpolation_leave_rate_ae"]
    verdicts = [
        f"N(0, I) through the VAE decodes to FID {s['fid_vae_prior']:.2f} against "
        f"{s['fid_ae_prior']:.2f} through the AE: "
        + ("supports the claim." if prior_ok else "does not support the claim at this budget."),
        f"Even with a Gaussian fitted to its codes the AE reaches FID {s['fid_ae_fitted']:.2f} "
        f"against the VAE prior's {s['fid_vae_prior']:.2f}: "
        + (
            "the VAE's prior still samples better, as the claim says."
            if fitted_gap
            else "a fitted Gaussian closes the gap: the AE's codes are roughly Gaussian at this "
            "size and budget, so this part of the claim is not supported here."
        ),
        f"Linear paths leave both endpoint classes at rate "
        f"{s['interpolation_leave_rate_ae']:.3f} (AE) against "
        f"{s['interpolation_leave_rate_vae']:.3f} (VAE): "
        + (
            "the VAE's paths stay among digits more, as the claim says."
            if leave_ok
            else "the AE's paths do not leave more often: not supported at this budget."
        ),
    ]
    return claim + "\n\n" + "\n".join(f"- {v}" for v in verdicts)


def _sample_figure(images: np.ndarray, source: str, workdir: pathlib.Path) -> str:
    rows = min(8, len(images) // 8)
    figures.image_grid(
        images[: rows * 8], rows, 8, workdir / f"samples_{source}.png", SOURCE_NAMES[source]
    )
    return f"![samples {source}](samples_{source}.png)"


def _interpolation_figure(task, params, codes, labels, workdir: pathlib.Path) -> str:
    pairs = clustering.different_class_pairs(labels, 4, PAIRS_KEY)
    steps = 10
    rows, names = [], []
    for k, (i, j) in enumerate(pairs):
        for model in ("ae", "vae"):
            path = clustering.interpolation_paths(codes[model], pairs[k : k + 1], steps)[0]
            rows.append(task.decode(params, model, path))
            names.append(f"{model.upper()} {labels[i]}->{labels[j]}")
    figures.image_rows(rows, names, workdir / "interpolations.png", "linear paths in latent space")
    return "![interpolations](interpolations.png)"


# ---- clustering -------------------------------------------------------------------------------


def clustering_features(task, params) -> dict[str, np.ndarray]:
    """The test split as raw pixels, PCA codes (fitted on train) of the latent's size, AE codes
    and VAE means."""
    from sklearn.decomposition import PCA

    test_images = np.asarray(task.images["test"][: len(task.labels["test"])])
    train_pixels = np.asarray(task.train_split.pixel_view()[: len(task.train_split)])
    flat = lambda x: x.reshape(len(x), -1).astype(np.float64)  # noqa: E731
    pca = PCA(n_components=task.latent_size, random_state=0).fit(flat(train_pixels))
    return {
        "pixels": flat(test_images),
        "pca": pca.transform(flat(test_images)),
        "ae": task.encode(params, "ae", test_images),
        "vae": task.encode(params, "vae", test_images),
    }


def clustering_report(task, params, history: History, workdir: pathlib.Path):
    config = task.config
    k = int(config.cluster_k)
    labels = task.labels["test"]
    features = clustering_features(task, params)
    summary, rows = {}, []
    names = {
        "pixels": "raw pixels",
        "pca": f"PCA codes ({task.latent_size}, fitted on train)",
        "ae": f"AE codes ({task.latent_size})",
        "vae": f"VAE means ({task.latent_size})",
    }
    for name in CLUSTER_FEATURES:
        scores = clustering.kmeans_scores(features[name], labels, k, seed=history.seed)
        summary[f"cluster_acc_{name}"] = scores["accuracy"]
        summary[f"nmi_{name}"] = scores["nmi"]
        summary[f"ari_{name}"] = scores["ari"]
        rows.append(
            [
                names[name],
                f"{scores['accuracy']:.3f}",
                f"{scores['nmi']:.3f}",
                f"{scores['ari']:.3f}",
            ]
        )
    summary["cluster_k"] = k
    protocol = (
        f"k-means (scikit-learn, k = {k}, k-means++ with n_init = 10, seed {history.seed}) on the "
        f"{len(labels)} `{config.dataset}` test images, scored against their classes: "
        "clustering accuracy (the best one-to-one map of clusters to classes, Hungarian "
        "algorithm), NMI and ARI (scikit-learn)."
    )
    anchors = published_anchors(config.dataset)
    order = sorted(CLUSTER_FEATURES, key=lambda f: -summary[f"cluster_acc_{f}"])
    published = (
        f"Published anchors, {anchors.source}, clustering accuracy on {anchors.images}: "
        + ", ".join(f"{name} {acc:.1%}" for name, acc in anchors.accuracy.items())
        + ". "
        if anchors is not None
        else f"jaxgen knows no published clustering figures for `{config.dataset}`. "
    )
    text = (
        published + f"Here, on {len(labels)} test images of `{config.dataset}` after "
        f"{history.step} steps: pixels {summary['cluster_acc_pixels']:.1%}, PCA "
        f"{summary['cluster_acc_pca']:.1%}, AE {summary['cluster_acc_ae']:.1%}, VAE "
        f"{summary['cluster_acc_vae']:.1%} (best to worst: {', '.join(order)}). The claim that "
        "learned codes cluster better than pixels is "
        + (
            "supported by the AE codes"
            if summary["cluster_acc_ae"] > summary["cluster_acc_pixels"]
            else "not supported by the AE codes"
        )
        + " and "
        + (
            "supported by the VAE means."
            if summary["cluster_acc_vae"] > summary["cluster_acc_pixels"]
            else "not supported by the VAE means."
        )
        + " With several seeds the seeds report gives each number's mean and std."
    )
    table = markdown_table(["features", "accuracy", "NMI", "ARI"], rows)
    return summary, [("Clustering", protocol + "\n\n" + table + "\n\n" + text)]
