"""Clustering accuracy against brute force, NMI/ARI against scikit-learn, and the
interpolation leave rate on a decoder and classifier whose answers are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from jaxgen.metrics import clustering


def brute_force_accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    """The best one-to-one (partial, when the counts differ) map of clusters to classes, by
    trying every injective map of the smaller side into the larger."""
    classes, clusters = np.unique(true), np.unique(pred)
    best = 0
    if len(clusters) <= len(classes):
        for image in itertools.permutations(classes, len(clusters)):
            mapping = dict(zip(clusters, image, strict=True))
            best = max(best, sum(mapping[p] == t for p, t in zip(pred, true, strict=True)))
    else:
        for image in itertools.permutations(clusters, len(classes)):
            mapping = dict(zip(image, classes, strict=True))
            best = max(best, sum(mapping.get(p) == t for p, t in zip(pred, true, strict=True)))
    return best / len(true)


@pytest.mark.parametrize("k_true, k_pred", [(2, 2), (3, 3), (4, 4), (5, 5), (3, 5), (5, 2)])
def test_accuracy_matches_brute_force(k_true, k_pred):
    rng = np.random.default_rng(k_true * 10 + k_pred)
    for _ in range(8):
        n = int(rng.integers(5, 40))
        true = rng.integers(k_true, size=n)
        pred = rng.integers(k_pred, size=n)
        # Correlate half of the cases with the truth, so the best map is not trivial.
        if rng.random() < 0.5:
            keep = rng.random(n) < 0.6
            pred = np.where(keep, true % k_pred, pred)
        expected = brute_force_accuracy(true, pred)
        assert clustering.clustering_accuracy(true, pred) == pytest.approx(expected)


def test_arbitrary_label_values():
    true = np.array([7, 7, 3, 3, 9])
    pred = np.array([-1, -1, 40, 40, 40])
    assert clustering.clustering_accuracy(true, pred) == pytest.approx(0.8)


@pytest.mark.parametrize("seed", range(5))
def test_nmi_ari_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    true, pred = rng.integers(4, size=50), rng.integers(5, size=50)
    assert clustering.nmi(true, pred) == pytest.approx(normalized_mutual_info_score(true, pred))
    assert clustering.ari(true, pred) == pytest.approx(adjusted_rand_score(true, pred))


def test_perfect_and_permuted_labelings_score_one():
    rng = np.random.default_rng(0)
    true = rng.integers(5, size=60)
    permuted = np.array([3, 0, 4, 1, 2])[true] + 10
    for pred in (true, permuted):
        scores = clustering.cluster_scores(true, pred)
        assert scores == pytest.approx({"accuracy": 1.0, "nmi": 1.0, "ari": 1.0})


def test_kmeans_on_separated_blobs():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 30)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    features = centres[labels] + rng.normal(scale=0.3, size=(90, 2))
    scores = clustering.kmeans_scores(features, labels, k=3, seed=0)
    assert scores == pytest.approx({"accuracy": 1.0, "nmi": 1.0, "ari": 1.0})


def test_different_class_pairs():
    labels = np.array([0, 0, 0, 1, 2])
    pairs = clustering.different_class_pairs(labels, 50, seed=1)
    assert pairs.shape == (50, 2)
    assert np.all(labels[pairs[:, 0]] != labels[pairs[:, 1]])


def test_interpolation_leave_rate():
    # 1-d codes; class 0 at code 0, class 2 at code 2. The "decoder" passes the code through
    # and the "classifier" rounds it: on the path from 0 to 2 the interior points near 1 are
    # class 1, neither endpoint's.
    labels = np.array([0, 2])
    codes = np.array([[0.0], [2.0]])
    decode = lambda z: z.reshape(-1, 1, 1, 1)  # noqa: E731

    def classify(x):
        return np.eye(3)[np.clip(np.rint(x.reshape(-1)), 0, 2).astype(int)]

    # steps=5: interior points 0.5, 1.0, 1.5 -> rint 0 (even), 1, 2: one of three leaves.
    rate = clustering.interpolation_leave_rate(decode, classify, codes, labels, 10, 5)
    assert rate == pytest.approx(1 / 3)
    # A classifier that always names the first class never leaves.
    always_zero = lambda x: np.eye(3)[np.zeros(len(x), int)]  # noqa: E731
    assert clustering.interpolation_leave_rate(decode, always_zero, codes, labels, 10, 5) == 0.0
