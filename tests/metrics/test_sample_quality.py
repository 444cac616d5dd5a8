"""Sample-quality metrics against independent references: scipy.linalg.sqrtm and closed forms
for the Frechet distance, double loops for the unbiased MMD^2, scipy.stats.entropy for the
classifier score, and scipy cdist brute force for precision/recall."""

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
from scipy import stats
from scipy.spatial.distance import cdist

from jaxgen.metrics.sample_quality import (
    classifier_score,
    fid,
    frechet_distance,
    gaussian_statistics,
    kid,
    precision_recall,
    sample_quality,
)


def _random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, 2 * d))
    return a @ a.T / (2 * d) + 0.1 * np.eye(d)


def _sqrtm_frechet(mu1, sigma1, mu2, sigma2) -> float:
    """The textbook route: the principal square root of the non-symmetric S1 S2."""
    covmean = np.real(scipy.linalg.sqrtm(sigma1 @ sigma2))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1 + sigma2 - 2.0 * covmean))


@pytest.mark.parametrize("d", [1, 2, 5, 64])
def test_frechet_distance_matches_sqrtm(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    sigma1, sigma2 = _random_spd(rng, d), _random_spd(rng, d)
    expected = _sqrtm_frechet(mu1, sigma1, mu2, sigma2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)
    # The trace term alone, without the mean term swamping an error in it.
    zero = np.zeros(d)
    expected = _sqrtm_frechet(zero, sigma1, zero, sigma2)
    assert frechet_distance(zero, sigma1, zero, sigma2) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_of_diagonal_gaussians_is_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3.0, size=6), rng.uniform(0.1, 3.0, size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2.0 * np.sqrt(s1 * s2))
    got = frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_commuting_covariances_is_closed_form():
    """S1 = Q diag(a) Q^T, S2 = Q diag(b) Q^T: (S1 S2)^{1/2} = Q diag(sqrt(a b)) Q^T."""
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    a, b = rng.uniform(0.1, 3.0, size=5), rng.uniform(0.1, 3.0, size=5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_is_zero_for_identical_statistics_and_symmetric():
    rng = np.random.default_rng(3)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    sigma1, sigma2 = _random_spd(rng, 16), _random_spd(rng, 16)
    assert frechet_distance(mu1, sigma1, mu1, sigma1) == pytest.approx(0.0, abs=1e-9)
    forward = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert forward > 0.1
    assert frechet_distance(mu2, sigma2, mu1, sigma1) == pytest.approx(forward, rel=1e-9)


def test_frechet_distance_with_singular_covariances():
    """Fewer samples than dimensions: rank-deficient S. tr((S1 S2)^{1/2}) is the nuclear norm of
    S1^{1/2} S2^{1/2}, computed here with SVD-based square roots; and a small ridge on both
    covariances, where sqrtm is well behaved, lands close to the same value."""
    rng = np.random.default_rng(4)
    d = 20
    mu1, sigma1 = gaussian_statistics(rng.normal(size=(8, d)))
    mu2, sigma2 = gaussian_statistics(rng.normal(size=(12, d)) + 0.3)
    assert np.linalg.matrix_rank(sigma1) == 7 and np.linalg.matrix_rank(sigma2) == 11

    def psd_sqrt(s):
        u, sv, _ = np.linalg.svd(s)
        return (u * np.sqrt(sv)) @ u.T

    nuclear = np.linalg.norm(psd_sqrt(sigma1) @ psd_sqrt(sigma2), "nuc")
    diff = mu1 - mu2
    expected = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * nuclear
    got = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert np.isfinite(got)
    assert got == pytest.approx(expected, rel=1e-6)
    ridge = 1e-8 * np.eye(d)
    assert got == pytest.approx(_sqrtm_frechet(mu1, sigma1 + ridge, mu2, sigma2 + ridge), rel=1e-3)
    # Both singular in the same way (identical rank-deficient statistics): exactly 0, no NaN.
    assert frechet_distance(mu1, sigma1, mu1, sigma1) == pytest.approx(0.0, abs=1e-9)


def test_gaussian_statistics_use_the_unbiased_covariance():
    x = np.random.default_rng(5).normal(size=(50, 3))
    mu, sigma = gaussian_statistics(x)
    centred = x - x.mean(axis=0)
    np.testing.assert_allclose(mu, x.sum(axis=0) / 50)
    np.testing.assert_allclose(sigma, centred.T @ centred / 49)
    assert gaussian_statistics(x[:, :1])[1].shape == (1, 1)


def test_fid_of_large_samples_approaches_the_closed_form():
    rng = np.random.default_rng(6)
    mu_a, mu_b = np.array([0.0, 1.0, -1.0]), np.array([0.5, 0.0, -1.0])
    var_a, var_b = np.array([1.0, 2.0, 0.5]), np.array([2.0, 0.5, 0.5])
    a = mu_a + np.sqrt(var_a) * rng.normal(size=(200_000, 3))
    b = mu_b + np.sqrt(var_b) * rng.normal(size=(200_000, 3))
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert fid(a, b) == pytest.approx(expected, abs=0.02)  # expected = 1.25 + 0.686
    assert fid(a, a) == pytest.approx(0.0, abs=1e-9)


def _brute_force_unbiased_mmd2(x, y) -> float:
    d = x.shape[1]

    def k(u, v):
        return (sum(ui * vi for ui, vi in zip(u, v, strict=True)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    k_xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    k_yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    k_xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return k_xx + k_yy - 2.0 * k_xy


def test_kid_on_one_full_subset_is_the_unbiased_mmd2():
    """With subset_size >= N the only subset is a permutation of each full set."""
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(25, 4)), rng.normal(size=(25, 4)) * 1.3 + 0.2
    mean, std_error = kid(x, y, num_subsets=1, subset_size=25)
    assert mean == pytest.approx(_brute_force_unbiased_mmd2(x, y), rel=1e-10)
    assert math.isnan(std_error)
    assert kid(x, y, num_subsets=1, subset_size=1000)[0] == pytest.approx(mean, rel=1e-10)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_shifted_ones():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    mean, std_error = kid(a, b, num_subsets=50, subset_size=200)
    assert std_error > 0 and abs(mean) < 4 * std_error, (mean, std_error)
    shifted, shifted_se = kid(a, b + 0.5, num_subsets=50, subset_size=200)
    assert shifted > 20 * shifted_se and shifted > 10 * abs(mean), (shifted, shifted_se, mean)
    # Subsets come from the seed: same seed same value, another seed another value.
    assert kid(a, b, num_subsets=50, subset_size=200) == (mean, std_error)
    assert kid(a, b, num_subsets=50, subset_size=200, seed=1)[0] != mean


def test_kid_standard_error_is_the_spread_over_subsets():
    """A reference loop drawing each round's a-rows then b-rows from default_rng(seed), the
    documented draw order; the standard error is scipy's sem (ddof=1) of the rounds."""
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=(60, 3)), rng.normal(size=(80, 3)) + 0.2
    gen = np.random.default_rng(0)
    values = []
    for _ in range(5):
        ia, ib = gen.choice(60, 30, replace=False), gen.choice(80, 30, replace=False)
        values.append(_brute_force_unbiased_mmd2(a[ia], b[ib]))
    mean, std_error = kid(a, b, num_subsets=5, subset_size=30, seed=0)
    assert mean == pytest.approx(np.mean(values), rel=1e-10)
    assert std_error == pytest.approx(stats.sem(values), rel=1e-10)


def test_classifier_score_of_confident_uniform_predictions_is_the_number_of_classes():
    c = 7
    one_hot = np.eye(c)[np.tile(np.arange(c), 20)]  # every split of 14 rows holds each class twice
    mean, std = classifier_score(one_hot, num_splits=10)
    assert mean == pytest.approx(c, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_classifier_score_of_identical_predictions_is_one():
    p = np.tile(np.random.default_rng(10).dirichlet(np.ones(5)), (100, 1))
    mean, std = classifier_score(p, num_splits=4)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n, num_splits", [(600, 10), (600, 1), (605, 10)])
def test_classifier_score_matches_scipy_entropy(n, num_splits):
    rng = np.random.default_rng(n + num_splits)
    p = rng.dirichlet(0.3 * np.ones(12), size=n)
    scores = []
    for i in range(num_splits):
        part = p[i * n // num_splits : (i + 1) * n // num_splits]  # Salimans et al.'s splits
        p_y = part.mean(axis=0)
        scores.append(math.exp(np.mean([stats.entropy(row, p_y) for row in part])))
    mean, std = classifier_score(p, num_splits=num_splits)
    assert mean == pytest.approx(np.mean(scores), rel=1e-10)
    assert std == pytest.approx(np.std(scores), rel=1e-8, abs=1e-12)
    assert 1.0 < mean < 12.0


def _brute_force_precision_recall(real, fake, k):
    def radii(x):
        d = cdist(x, x)
        np.fill_diagonal(d, np.inf)  # exclude each point itself
        return np.sort(d, axis=1)[:, k - 1]

    def inside(queries, support):
        r = radii(support)
        return np.mean([np.any(cdist(q[None], support)[0] <= r) for q in queries])

    return inside(fake, real), inside(real, fake)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_matches_brute_force(k):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(150, 5))
    fake = 1.3 * rng.normal(size=(120, 5)) + 0.4
    expected = _brute_force_precision_recall(real, fake, k)
    got = precision_recall(real, fake, k=k, chunk_size=7)  # several chunks and a partial one
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0.0 < got[0] < 1.0 and 0.0 < got[1] < 1.0  # neither trivially 0 nor 1


def test_precision_recall_of_identical_and_of_far_apart_sets():
    x = np.random.default_rng(11).normal(size=(300, 4))
    assert precision_recall(x, x) == (1.0, 1.0)
    assert precision_recall(x, x + 100.0) == (0.0, 0.0)


def test_balls_are_closed():
    """Kynkaanniemi et al.'s indicator is ||fake - real_j|| <= radius_j. On integer points the
    boundary is exact: reals 0 and 1 have 1-NN radius 1, so the fake at 2 lies on a sphere."""
    real = np.array([[0.0, 0.0], [1.0, 0.0]])
    fake = np.array([[2.0, 0.0], [2.5, 0.0]])
    assert precision_recall(real, fake, k=1)[0] == 0.5


def test_half_the_modes_gives_recall_one_half_and_full_precision():
    rng = np.random.default_rng(12)
    centres = np.array([[0.0, 0.0], [20.0, 0.0]])
    real = np.concatenate([c + rng.normal(size=(500, 2)) for c in centres])
    fake = centres[0] + rng.normal(size=(1000, 2))
    precision, recall = precision_recall(real, fake)
    assert precision > 0.95, precision
    assert recall == pytest.approx(0.5, abs=0.02)


def test_sample_quality_bundles_plain_numbers():
    rng = np.random.default_rng(13)
    real, floor = rng.normal(size=(150, 6)), rng.normal(size=(150, 6))
    fake = rng.normal(size=(120, 6)) + 1.0
    probs = rng.dirichlet(np.ones(10), size=120)
    out = sample_quality(real, fake, probs, floor_features=floor, seed=3)
    assert set(out) == {
        "fid", "kid", "kid_std_error", "classifier_score", "classifier_score_std",
        "precision", "recall", "num_real", "num_fake",
        "fid_floor", "kid_floor", "precision_floor", "recall_floor",
    }  # fmt: skip
    assert all(type(v) is float for k, v in out.items() if not k.startswith("num_"))
    assert (out["num_real"], out["num_fake"]) == (150, 120) and type(out["num_real"]) is int
    assert out["fid"] == pytest.approx(fid(real, fake))
    assert (out["kid"], out["kid_std_error"]) == kid(real, fake, seed=3)
    assert (out["precision"], out["recall"]) == precision_recall(real, fake)
    assert out["classifier_score"] == classifier_score(probs)[0]
    # The floor is the same metrics with a second real sample in place of the fakes.
    assert out["fid_floor"] == pytest.approx(fid(real, floor))
    assert out["kid_floor"] == kid(real, floor, seed=3)[0]
    assert (out["precision_floor"], out["recall_floor"]) == precision_recall(real, floor)
    assert out["fid_floor"] < 0.3 * out["fid"] and out["kid_floor"] < 0.1 * out["kid"]
    assert out["recall_floor"] > out["recall"]
    assert "fid_floor" not in sample_quality(real, fake, probs)
