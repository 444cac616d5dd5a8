"""Sample-quality metrics on classifier features: FID, KID, classifier score, precision/recall.

Every metric takes features already computed by some fixed network (float arrays (N, D), real
and generated), so the numbers compare models only under the same feature extractor and sample
sizes. All computation is NumPy/SciPy/scikit-learn in float64 on the host.

- FID (Heusel et al. 2017): the Frechet distance between Gaussians fitted to the two feature
  sets, ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2}). Biased upwards at finite N.
- KID (Binkowski et al. 2018): the unbiased estimate of MMD^2 under the cubic polynomial kernel
  k(x, y) = (x.y / D + 1)^3, averaged over random subsets, with its standard error.
- Classifier score (the Inception Score of Salimans et al. 2016 with any classifier):
  exp(E_x KL(p(y|x) || p(y))), mean and std over contiguous splits.
- Improved precision and recall (Kynkaanniemi et al. 2019): the share of generated features
  inside the k-NN-ball manifold of the real ones, and vice versa.

A "floor" is the same metric between two real samples (e.g. train vs test features): the value
a perfect generator would get at these sample sizes.
"""

from __future__ import annotations

import numpy as np
from scipy.special import rel_entr
from sklearn.neighbors import NearestNeighbors


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Frechet (2-Wasserstein squared) distance between N(mu1, sigma1) and N(mu2, sigma2).

    tr((S1 S2)^{1/2}) = tr((S1^{1/2} S2 S1^{1/2})^{1/2}), and the inner matrix is symmetric PSD,
    so it is the sum of the square roots of its eigenvalues. This avoids scipy.linalg.sqrtm of
    the non-symmetric S1 S2, which goes complex or NaN on singular covariances (fewer samples
    than dimensions); negative eigenvalues from rounding are clipped to 0.
    """
    mu1, mu2 = (np.atleast_1d(np.asarray(m, np.float64)) for m in (mu1, mu2))
    sigma1, sigma2 = (np.atleast_2d(np.asarray(s, np.float64)) for s in (sigma1, sigma2))
    evals1, evecs1 = np.linalg.eigh(sigma1)
    sqrt1 = (evecs1 * np.sqrt(np.clip(evals1, 0.0, None))) @ evecs1.T
    inner = sqrt1 @ sigma2 @ sqrt1
    inner = 0.5 * (inner + inner.T)  # symmetric up to rounding; eigvalsh reads one triangle
    trace_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(inner), 0.0, None)))
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return max(float(value), 0.0)  # the distance is >= 0; rounding can leave -1e-12


def gaussian_statistics(features_NxD: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), unbiased covariance (D, D)) of the rows of `features`, in float64."""
    x = np.asarray(features_NxD, np.float64)
    # np.cov returns a 0-d array for D = 1; keep (1, 1).
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between the Gaussian statistics of two feature sets."""
    if min(len(features_a), len(features_b)) < 2:
        raise ValueError(
            f"FID needs at least 2 examples in each set (got {len(features_a)} and "
            f"{len(features_b)}): a covariance of one example is undefined"
        )
    return frechet_distance(*gaussian_statistics(features_a), *gaussian_statistics(features_b))


def _unbiased_mmd2_cubic(x_MxD: np.ndarray, y_MxD: np.ndarray) -> float:
    """Unbiased MMD^2 (equal sizes m) under k(x, y) = (x.y / D + 1)^3: the within-set means
    leave out the diagonal k(x_i, x_i), i.e. they average over the m (m - 1) pairs i != j."""
    m, d = x_MxD.shape

    def kernel(u, v):
        g = u @ v.T / d + 1.0
        return g * g * g  # several times faster than g ** 3, which goes through pow

    k_xx, k_yy, k_xy = kernel(x_MxD, x_MxD), kernel(y_MxD, y_MxD), kernel(x_MxD, y_MxD)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.mean())


def kid(
    features_a: np.ndarray,
    features_b: np.ndarray,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018): (mean, standard error) of unbiased MMD^2.

    Each of `num_subsets` rounds draws m = min(subset_size, N_a, N_b) rows of each set without
    replacement (independently across rounds, from `np.random.default_rng(seed)`) and computes
    the unbiased MMD^2 under the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3. The mean over
    rounds is the KID; the standard error is std(ddof=1) / sqrt(num_subsets), NaN when
    num_subsets == 1. Unlike FID the estimate is unbiased, so it can be slightly negative and
    averages to 0 when both sets come from the same distribution. Needs m >= 2.
    """
    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(f"KID needs at least 2 rows per set, got subset size {m}")
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets)
    for s in range(num_subsets):
        idx_a = rng.choice(len(a), m, replace=False)
        idx_b = rng.choice(len(b), m, replace=False)
        values[s] = _unbiased_mmd2_cubic(a[idx_a], b[idx_b])
    if num_subsets < 2:
        return float(values.mean()), float("nan")
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(num_subsets))


def classifier_score(probabilities_NxC: np.ndarray, num_splits: int = 10) -> tuple[float, float]:
    """Inception Score with a given classifier's p(y|x): (mean, std) over contiguous splits.

    Split i holds rows [i N // S, (i + 1) N // S) as in Salimans et al.'s code; its score is
    exp(mean_x KL(p(y|x) || p(y))) with p(y) the split's mean prediction. The std is ddof=0, as
    there. 0 log 0 = 0 (rel_entr), so one-hot predictions are fine. Ranges from 1 (every
    prediction the same) to C (confident and uniform over classes).
    """
    p = np.asarray(probabilities_NxC, np.float64)
    n = len(p)
    scores = []
    for i in range(num_splits):
        part = p[i * n // num_splits : (i + 1) * n // num_splits]
        p_y = part.mean(axis=0, keepdims=True)
        scores.append(np.exp(rel_entr(part, p_y).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _kth_neighbour_radii(features_NxD: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row. Each row is its own 0-distance
    first neighbour, so ask for k + 1 (duplicates only swap which zero is "self")."""
    nn = NearestNeighbors(n_neighbors=k + 1).fit(features_NxD)
    distances, _ = nn.kneighbors(features_NxD)
    return distances[:, k]


def _fraction_inside(
    queries_QxD: np.ndarray, support_SxD: np.ndarray, radii_S: np.ndarray, chunk_size: int
) -> float:
    """Share of queries within radius_j of some support point j (boundary included).

    Squared distances come from |q|^2 + |s|^2 - 2 q.s, `chunk_size` queries at a time, so memory
    is O(chunk_size * S) rather than O(Q * S).
    """
    support_sq = np.sum(support_SxD**2, axis=1)
    radii_sq = radii_S**2
    inside = 0
    for start in range(0, len(queries_QxD), chunk_size):
        q = queries_QxD[start : start + chunk_size]
        dist_sq = np.sum(q**2, axis=1)[:, None] + support_sq[None, :] - 2.0 * q @ support_SxD.T
        inside += int(np.count_nonzero(np.any(dist_sq <= radii_sq[None, :], axis=1)))
    return inside / len(queries_QxD)


def precision_recall(
    real_features: np.ndarray, fake_features: np.ndarray, k: int = 3, chunk_size: int = 1000
) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019): (precision, recall).

    A set's manifold is the union of closed balls around its points, each of radius the distance
    to that point's k-th nearest neighbour within the set (itself excluded). Precision is the
    share of fake features inside the real manifold (fidelity); recall is the share of real
    features inside the fake manifold (coverage).
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    precision = _fraction_inside(fake, real, _kth_neighbour_radii(real, k), chunk_size)
    recall = _fraction_inside(real, fake, _kth_neighbour_radii(fake, k), chunk_size)
    return precision, recall


def sample_quality(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    fake_probabilities: np.ndarray,
    *,
    floor_features: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, float | int]:
    """All of the above as plain Python numbers, with default settings.

    Keys: fid, kid, kid_std_error, classifier_score, classifier_score_std, precision, recall,
    num_real, num_fake; and, given `floor_features` (a second real sample), fid_floor,
    kid_floor, precision_floor, recall_floor: the metrics of `floor_features` in place of the
    fakes, i.e. the best a generator can expect at these sample sizes.
    """
    kid_mean, kid_se = kid(real_features, fake_features, seed=seed)
    score, score_std = classifier_score(fake_probabilities)
    precision, recall = precision_recall(real_features, fake_features)
    result: dict[str, float | int] = {
        "fid": fid(real_features, fake_features),
        "kid": kid_mean,
        "kid_std_error": kid_se,
        "classifier_score": score,
        "classifier_score_std": score_std,
        "precision": precision,
        "recall": recall,
        "num_real": int(len(real_features)),
        "num_fake": int(len(fake_features)),
    }
    if floor_features is not None:
        precision_floor, recall_floor = precision_recall(real_features, floor_features)
        result["fid_floor"] = fid(real_features, floor_features)
        result["kid_floor"] = kid(real_features, floor_features, seed=seed)[0]
        result["precision_floor"] = precision_floor
        result["recall_floor"] = recall_floor
    return result
