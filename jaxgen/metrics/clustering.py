"""Clustering scores of codes against class labels, and how often a latent path leaves classes.

- Clustering accuracy (as in Xie et al. 2016, DEC): the share of points whose cluster is mapped
  to their class under the best one-to-one map of clusters to classes, found by the Hungarian
  algorithm on the contingency matrix. With k_pred clusters and k_true classes of different
  numbers the map is a partial one-to-one matching of min(k_pred, k_true) pairs: points of an
  unmatched cluster (or class) count as wrong.
- NMI and ARI: scikit-learn's normalized_mutual_info_score (arithmetic mean normalisation) and
  adjusted_rand_score.
- `kmeans_scores`: k-means (scikit-learn, k-means++ with n_init=10) on features, then the three.
- `interpolation_leave_rate`: along linear paths between codes of two test images of different
  classes, the share of interior points whose decoded image the digit classifier puts in
  neither endpoint's class.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def contingency(labels_true: np.ndarray, labels_pred: np.ndarray) -> np.ndarray:
    """(k_pred, k_true) counts of points in cluster i (rows) with class j (columns), over the
    distinct values of each labelling in sorted order."""
    labels_true, labels_pred = np.asarray(labels_true).ravel(), np.asarray(labels_pred).ravel()
    if labels_true.shape != labels_pred.shape:
        raise ValueError(f"{labels_true.shape} true labels against {labels_pred.shape} clusters")
    _, true_index = np.unique(labels_true, return_inverse=True)
    _, pred_index = np.unique(labels_pred, return_inverse=True)
    counts = np.zeros((pred_index.max(initial=-1) + 1, true_index.max(initial=-1) + 1), np.int64)
    np.add.at(counts, (pred_index, true_index), 1)
    return counts


def clustering_accuracy(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """max over one-to-one maps m of clusters to classes of mean(m(pred) == true): the
    Hungarian algorithm maximising the matched counts of the contingency matrix (rectangular
    when the numbers of clusters and classes differ; unmatched points count as wrong)."""
    counts = contingency(labels_true, labels_pred)
    if counts.size == 0:
        raise ValueError("clustering accuracy of no points")
    rows, columns = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, columns].sum() / counts.sum())


def nmi(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Normalized mutual information (scikit-learn, arithmetic normalisation)."""
    return float(normalized_mutual_info_score(labels_true, labels_pred))


def ari(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Adjusted Rand index (scikit-learn)."""
    return float(adjusted_rand_score(labels_true, labels_pred))


def cluster_scores(labels_true: np.ndarray, labels_pred: np.ndarray) -> dict[str, float]:
    """{"accuracy", "nmi", "ari"} of a clustering against the classes."""
    return {
        "accuracy": clustering_accuracy(labels_true, labels_pred),
        "nmi": nmi(labels_true, labels_pred),
        "ari": ari(labels_true, labels_pred),
    }


def kmeans_scores(
    features_NxD: np.ndarray, labels: np.ndarray, k: int = 10, seed: int = 0
) -> dict[str, float]:
    """k-means (scikit-learn KMeans, k-means++ init, n_init=10, random_state=seed) of the
    features into k clusters, scored against `labels`: {"accuracy", "nmi", "ari"}."""
    from sklearn.cluster import KMeans

    x = np.asarray(features_NxD, np.float64).reshape(len(features_NxD), -1)
    pred = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    return cluster_scores(labels, pred)


def different_class_pairs(labels: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """(count, 2) index pairs (i, j) with labels[i] != labels[j], drawn uniformly with
    `np.random.default_rng(seed)` (by rejection of same-class pairs)."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise ValueError("pairs of different classes need at least two classes")
    rng = np.random.default_rng(seed)
    pairs = []
    while len(pairs) < count:
        i, j = rng.integers(len(labels), size=2)
        if labels[i] != labels[j]:
            pairs.append((i, j))
    return np.asarray(pairs, np.int64).reshape(count, 2)


def interpolation_paths(codes_NxZ: np.ndarray, pairs_Px2: np.ndarray, steps: int) -> np.ndarray:
    """(P, steps, Z): for each pair (i, j), `steps` evenly spaced codes from codes[i] to
    codes[j], both ends included."""
    codes = np.asarray(codes_NxZ, np.float64)
    t = np.linspace(0.0, 1.0, steps)[None, :, None]
    a, b = codes[pairs_Px2[:, 0]][:, None], codes[pairs_Px2[:, 1]][:, None]
    paths = (1.0 - t) * a + t * b
    paths[:, 0], paths[:, -1] = a[:, 0], b[:, 0]
    return paths.astype(np.float32)


def interpolation_leave_rate(
    decode: Callable[[np.ndarray], np.ndarray],
    classify: Callable[[np.ndarray], np.ndarray],
    codes_NxZ: np.ndarray,
    labels_N: np.ndarray,
    num_pairs: int = 200,
    steps: int = 10,
    seed: int = 0,
) -> float:
    """The fraction of interior points of linear latent paths whose decoded image is classified
    as neither endpoint's class.

    `num_pairs` pairs of examples of different classes (`different_class_pairs(labels, ...,
    seed)`); each path has `steps` points from one code to the other, of which the steps - 2
    interior ones are decoded (`decode`: (M, Z) codes -> (M, H, W, C) images) and classified
    (`classify`: images -> (M, C) class probabilities; the argmax is the class). The endpoint
    classes are the true labels of the two examples.
    """
    if steps < 3:
        raise ValueError("a path needs at least 3 points to have an interior")
    labels_N = np.asarray(labels_N)
    pairs = different_class_pairs(labels_N, num_pairs, seed)
    interior = interpolation_paths(codes_NxZ, pairs, steps)[:, 1:-1]
    p, m, z = interior.shape
    predicted = np.asarray(classify(decode(interior.reshape(p * m, z)))).argmax(axis=1)
    predicted = predicted.reshape(p, m)
    start, end = labels_N[pairs[:, 0]][:, None], labels_N[pairs[:, 1]][:, None]
    return float(np.mean((predicted != start) & (predicted != end)))
