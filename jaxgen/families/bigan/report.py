"""The BiGAN report: sample FID, reconstructions G(E(x)) (their FID, L1 and whether the feature
classifier gives them x's class), and linear probes and k-means clustering on the encoder's codes
against PCA codes of the same size and raw pixels; samples, reconstructions and training curves
as figures."""

from __future__ import annotations

import pathlib

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jaxgen.eval.sample_quality import NOISE_KEYS
from jaxgen.metrics import clustering
from jaxgen.metrics.linear import fit_pca
from jaxgen.reports import curves
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures

PROBE_SEED = 0  # the logistic regressions' and PCA's random_state, and the probe subset's order
PROBE_MAX_ITER = 1000


def linear_probe_accuracy(
    train_NxD: np.ndarray, train_labels: np.ndarray, test_NxD: np.ndarray, test_labels: np.ndarray
) -> float:
    """Test accuracy of a multinomial logistic regression (L-BFGS, C = 1) on standardised
    features (the scaler fitted on the train rows)."""
    probe = make_pipeline(
        StandardScaler(),
        LogisticRegression(max_iter=PROBE_MAX_ITER, random_state=PROBE_SEED),
    )
    probe.fit(train_NxD, train_labels)
    return float(probe.score(test_NxD, test_labels))


def _probe_rows(task, n: int) -> np.ndarray:
    """The train rows the probes fit on: all of them, or a fixed random n."""
    size = len(task.train_split)
    if not n or n >= size:
        return np.arange(size)
    return np.sort(np.random.default_rng(PROBE_SEED).permutation(size)[:n])


def probe_numbers(task, params) -> dict[str, float]:
    """Linear-probe test accuracy on E's codes, on PCA codes of the same size (fitted on the
    train rows) and on raw pixels, every probe fitted on the same train rows; and k-means with
    k = the number of classes on the same test features (`cluster_acc_*`, `nmi_*`, `ari_*`;
    metrics/clustering.py)."""
    rows = _probe_rows(task, task.config.get("probe_train_examples", 0))
    train_pixels = np.asarray(task.train_split.pixel_view()[rows])
    test = task.splits["test"]
    test_pixels = np.asarray(test.pixel_view()[:])
    y_train, y_test = task.train_split.labels_N[rows], test.labels_N
    flat_train = train_pixels.reshape(len(train_pixels), -1)
    flat_test = test_pixels.reshape(len(test_pixels), -1)
    pca = fit_pca(flat_train, min(task.latent_size, *flat_train.shape), seed=PROBE_SEED)
    features = {  # (train, test) features of each kind
        "bigan": (task.codes(params, train_pixels), task.codes(params, test_pixels)),
        "pca": (pca.transform(flat_train), pca.transform(flat_test)),
        "pixels": (flat_train, flat_test),
    }
    numbers = {"probe_train_examples": len(rows), "probe_test_examples": len(test_pixels)}
    k = task.train_split.num_classes
    for name, (train_x, test_x) in features.items():
        numbers[f"probe_accuracy_{name}"] = linear_probe_accuracy(train_x, y_train, test_x, y_test)
        scores = clustering.kmeans_scores(test_x, y_test, k, seed=PROBE_SEED)
        numbers.update({f"{s}_{name}": scores[s] for s in ("nmi", "ari")})
        numbers[f"cluster_acc_{name}"] = scores["accuracy"]
    numbers["cluster_k"] = k
    return numbers


def _clustering_text(task, numbers: dict, test_count: int) -> str:
    names = {
        "bigan": f"BiGAN encoder E(x) ({task.latent_size})",
        "pca": f"PCA codes ({task.latent_size}, fitted on train)",
        "pixels": "raw pixels",
    }
    rows = [
        [
            label,
            f"{numbers[f'cluster_acc_{name}']:.3f}",
            f"{numbers[f'nmi_{name}']:.3f}",
            f"{numbers[f'ari_{name}']:.3f}",
        ]
        for name, label in names.items()
    ]
    return (
        f"k-means (scikit-learn, k = {numbers['cluster_k']}, k-means++ with n_init = 10, seed "
        f"{PROBE_SEED}) on the {test_count} test images' features, scored against their "
        "classes: clustering accuracy (the best one-to-one map of clusters to classes, "
        "Hungarian algorithm), NMI and ARI (scikit-learn). `experiments/clustering.py` gives "
        "the same for AE codes and VAE means, beside the DEC paper's anchors.\n\n"
        + markdown_table(["features", "accuracy", "NMI", "ARI"], rows)
    )


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    cfg = task.config
    test = task.splits["test"]
    classifier = task.classifier
    n = min(cfg.report_samples, len(task.train_split))
    samples = task.sample_pixels(params, n, NOISE_KEYS["test"])
    numbers = {
        "fid_bigan": task.fid_to("test", samples),
        "report_samples": n,
    }
    numbers.update(task.reconstruction_numbers(params, "test", len(test)))
    test_pixels = np.asarray(test.pixel_view()[:])
    recon = task.reconstructions(params, test_pixels)
    labelled = test.labels_N is not None
    if labelled:
        real_class = classifier.probabilities(test_pixels).argmax(axis=1)
        recon_class = classifier.probabilities(recon).argmax(axis=1)
        numbers["bigan_label_agreement"] = float(np.mean(real_class == recon_class))
        numbers.update(probe_numbers(task, params))

    encoder = (
        "stochastic (ALI, reparametrized)" if cfg.model.stochastic_encoder else "deterministic"
    )
    protocol = (
        f"BiGAN/ALI: {encoder} conv encoder, DCGAN generator, joint discriminator D(x, z) "
        f"(dropout {cfg.model.discriminator_dropout:g}); latent size {task.latent_size}; one "
        "discriminator update then one joint encoder+generator update per step, with the "
        f"non-saturating (label-swapped) objective; Adam, learning rates E/G "
        f"{cfg.generator_learning_rate:g} / D {cfg.discriminator_learning_rate:g}, betas "
        f"({cfg.adam_b1:g}, {cfg.adam_b2:g}), batch {cfg.batch_size}. Evaluated with "
        + (
            f"the encoder's and generator's weight averages (decay {cfg.objective.average_decay:g})"
            if cfg.objective.average_decay > 0
            else "the final weights"
        )
        + ", fixed noise and the encoder's mean code."
    )
    text = (
        f"In the 128-d feature space of jaxgen's feature classifier "
        f"`{classifier.workdir.name}` (test accuracy {classifier.test_accuracy:.4f}): FID of "
        f"{n} generated images against the {len(test)} test images, and of the test images' "
        "reconstructions G(E(x)); L1 is the mean absolute pixel error of G(E(x)) in [0, 1].\n\n"
        + markdown_table(
            ["metric", "value"],
            [
                ["FID of samples", numbers["fid_bigan"]],
                ["FID of reconstructions", numbers["reconstruction_fid"]],
                ["L1 of reconstructions", numbers["reconstruction_l1"]],
            ],
        )
    )
    sections = [("Protocol", protocol), ("Samples and reconstructions", text)]
    if labelled:
        sections.append(
            (
                "Labels and linear probes",
                f"The feature classifier gives G(E(x)) the class it gives x for "
                f"{numbers['bigan_label_agreement']:.1%} of the {len(test)} test images.\n\n"
                f"Linear probes: scikit-learn logistic regression (L-BFGS, max_iter "
                f"{PROBE_MAX_ITER}, C = 1, standardised inputs, seed {PROBE_SEED}) fitted on "
                f"{numbers['probe_train_examples']} train images' features, accuracy on the "
                f"{len(test)} test images. PCA: the top {task.latent_size} principal components "
                "of the train pixels (as many as E's code).\n\n"
                + markdown_table(
                    ["features", "dimension", "test accuracy"],
                    [
                        ["BiGAN encoder E(x)", task.latent_size, numbers["probe_accuracy_bigan"]],
                        ["PCA", task.latent_size, numbers["probe_accuracy_pca"]],
                        [
                            "raw pixels",
                            int(np.prod(task.image_shape)),
                            numbers["probe_accuracy_pixels"],
                        ],
                    ],
                ),
            )
        )
        sections.append(("Clustering", _clustering_text(task, numbers, len(test))))

    columns = 10
    figure_files = []
    pairs = min(4, len(test_pixels) // columns)
    if pairs:
        rows, labels = [], []
        for r in range(pairs):
            part = slice(r * columns, (r + 1) * columns)
            rows += [test_pixels[part], recon[part]]
            labels += ["x", "G(E(x))"]
        figure_files.append(
            figures.image_rows(
                rows, labels, workdir / "reconstructions.png", "test images and G(E(x))"
            )
        )
    grid_rows = min(8, len(samples) // columns)
    if grid_rows:
        figure_files.append(
            figures.image_grid(
                samples[: grid_rows * columns],
                grid_rows,
                columns,
                workdir / "samples.png",
                "generated (fixed noise)",
            )
        )
    figure_files += curves.samples_over_training(history, workdir)
    figure_files += curves.fid_over_training(
        history, ["fid", "reconstruction_fid"], workdir, cfg.eval_samples
    )
    figure_files += curves.discriminator_over_training(
        history,
        ["d_real", "d_fake"],
        workdir,
        "D = sigmoid(logit) on (x, E(x)) and (G(z), z) training pairs",
    )
    if history.train:
        figure_files.append(
            figures.learning_curves(
                history.train,
                ["loss", "encoder_generator_loss"],
                workdir / "losses.png",
                "discriminator and encoder+generator losses",
                logy=False,
            )
        )
    figure_text = "\n\n".join(f"![{p.stem}]({p.name})" for p in figure_files)
    return Report(numbers, [*sections, ("Figures", figure_text)])
