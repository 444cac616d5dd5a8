"""Sample quality of anything that draws images: FID, KID, precision/recall and the classifier
score in the feature classifier's space, with the real-data floor, written once for every family
that samples (image GANs, VAE-GAN, BiGAN, the latent-space comparisons, vae_vs_gan).

A family gives the capability (images in [0, 1] from fixed noise: `sample_pixels(params, n,
key_seed)` with the keys below); this evaluator scores them against a split's real images and
puts n real train images in the generator's place for the floor, what a perfect generator would
score at these sample counts.
"""

from __future__ import annotations

import numpy as np

from jaxgen.metrics import sample_quality
from jaxgen.metrics.classifier import FeatureClassifier
from jaxgen.reports.markdown import markdown_table

# Fixed keys, the same for every run and seed, so that every evaluation of a run compares the
# same noise.
NOISE_KEYS = {"validation": 0x6A, "test": 0x7A}  # the z (and labels) of evaluations and reports
SNAPSHOT_NOISE_KEY = 0x6B  # the z of the samples-over-training figures
FLOOR_KEY = 0x6D  # which real train images stand in for a perfect generator (the floor)

# The numbers of one set of images, in the order reports show them.
QUALITY = ("fid", "kid", "precision", "recall", "classifier_score")


def to_unit(x):
    """Generated images from [-1, 1] to pixels in [0, 1]."""
    return (x + 1.0) / 2.0


def floor_index(train_size: int, n: int, key: int = FLOOR_KEY) -> np.ndarray:
    """Which n train images make the floor: the first n of a permutation seeded by `key`."""
    return np.random.default_rng(key).permutation(train_size)[:n]


def periodic_fid_floor(task, split: str = "validation") -> float:
    """The floor of the periodic evaluation's FID, in its own protocol: `eval_samples` real
    train images (the first of the floor's permutation) against the split's images. The figure
    of FID over training draws this one, not the report's floor: FID's bias depends on the
    sample counts, so a floor taken with `report_samples` images against the test split would sit
    below what a perfect generator scores on the curve."""
    train = task.train_split
    n = min(task.config.eval_samples, len(train))
    return task.fid_to(split, train.pixel_view()[floor_index(len(train), n)])


class SampleQuality:
    """Scores sets of images against `real_features` (a split's, in `classifier`'s space), and
    `floor_images` (real train images, as many as the generated sets) as the floor.

    Every number as `metrics.sample_quality.sample_quality` gives it; the classifier score only
    for a single-label classifier (it needs one class per image).
    """

    def __init__(
        self, classifier: FeatureClassifier, real_features: np.ndarray, floor_images: np.ndarray
    ):
        self.classifier, self.real_features = classifier, real_features
        self.single_label = not classifier.multi_label
        floor_images = np.asarray(floor_images)
        self.floor_count = len(floor_images)
        self.floor = self._score(*classifier.features_and_probabilities(floor_images))

    def _score(self, features: np.ndarray, probabilities: np.ndarray) -> dict:
        numbers = sample_quality.sample_quality(self.real_features, features, probabilities)
        if not self.single_label:
            del numbers["classifier_score"], numbers["classifier_score_std"]
        return numbers

    def score(self, images: np.ndarray, labels: np.ndarray | None = None) -> dict:
        """FID, KID (± its standard error), precision, recall (k=3), the classifier score
        (± std over 10 splits) of `images` (pixels in [0, 1]), and with `labels` (the classes
        they were conditioned on) `label_accuracy`, the fraction the classifier gives them."""
        features, probabilities = self.classifier.features_and_probabilities(np.asarray(images))
        numbers = self._score(features, probabilities)
        if labels is not None:
            numbers["label_accuracy"] = float(np.mean(probabilities.argmax(axis=1) == labels))
        return numbers

    def floor_numbers(self) -> dict:
        """The floor's numbers as summary entries: `NAME_floor`, and `classifier_score_real`."""
        numbers = {f"{k}_floor": self.floor[k] for k in QUALITY[:4]}
        if self.single_label:
            numbers["classifier_score_real"] = self.floor["classifier_score"]
        return numbers

    def protocol(self, n: int) -> str:
        """How the numbers were computed, for a report."""
        c = self.classifier
        return (
            f"{n} generated images against the {len(self.real_features)} test images, in the "
            f"128-d feature space of jaxgen's feature classifier `{c.workdir.name}` "
            "(nn/classifier.py, trained on the train split's labels; test accuracy "
            f"{c.test_accuracy:.4f}; its report: {c.workdir}/report.md). The floor puts "
            f"{self.floor_count} real train images in the generator's place: what a perfect "
            "generator would score with these sample counts. KID: unbiased MMD^2 with the cubic "
            "kernel over 100 subsets; classifier score: the Inception Score with this "
            "classifier, ± std over 10 splits"
            + ("." if self.single_label else " (none here: the classifier is multi-label).")
        )


def _selection_note(task, n: int) -> str:
    """How this FID relates to the model-selection table's final one (the same checkpoint): the
    same number when the periodic evaluation draws as many images, else another protocol."""
    periodic = task.config.eval_samples
    if periodic == n:
        return (
            "The model-selection table's FID of the final checkpoint is this number: the same "
            f"checkpoint, noise, {n} generated images and test images."
        )
    return (
        "The model-selection table's FIDs follow the periodic evaluation's protocol instead, "
        f"{periodic} generated images against the {len(task.splits['test'])} test images: FID "
        "depends on the sample count (its bias falls as more images are drawn), so the final "
        f"checkpoint's FID there is not the one above ({n} images)."
    )


def sample_quality_section(task, images, labels, n: int) -> tuple[dict, str]:
    """The sample-quality numbers and report text of `images` (pixels in [0, 1]) from a task
    with the feature classifier (`eval.features.ClassifierFeatures`): against its test split,
    with the floor of n real train images; with `labels` when `task.conditional`."""
    floor = task.train_split.pixel_view()[floor_index(len(task.train_split), n)]
    quality = SampleQuality(task.classifier, task.real_features("test"), floor)
    numbers = quality.score(images, labels if task.conditional else None)
    numbers.update(quality.floor_numbers())
    numbers["feature_classifier_test_accuracy"] = quality.classifier.test_accuracy
    rows = [
        ["FID", f"{numbers['fid']:.2f}", f"{numbers['fid_floor']:.2f}"],
        [
            "KID",
            f"{numbers['kid']:.4f} ± {numbers['kid_std_error']:.4f}",
            f"{numbers['kid_floor']:.4f}",
        ],
        ["precision (k=3)", f"{numbers['precision']:.3f}", f"{numbers['precision_floor']:.3f}"],
        ["recall (k=3)", f"{numbers['recall']:.3f}", f"{numbers['recall_floor']:.3f}"],
    ]
    if quality.single_label:
        rows.append(
            [
                "classifier score",
                f"{numbers['classifier_score']:.3f} ± {numbers['classifier_score_std']:.3f}",
                f"{numbers['classifier_score_real']:.3f}",
            ]
        )
    real = len(quality.real_features)
    header = [
        "metric",
        f"{n} generated vs {real} test images",
        f"floor: {quality.floor_count} real train vs {real} test images",
    ]
    text = quality.protocol(n) + "\n\n" + markdown_table(header, rows)
    text += "\n\n" + _selection_note(task, n)
    if task.conditional:
        text += (
            f"\n\nThe classifier gives the conditioning label to "
            f"{numbers['label_accuracy']:.1%} of the generated images."
        )
    return numbers, text
