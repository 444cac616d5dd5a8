"""Mode statistics against hand-built configurations, scipy.stats.entropy and a per-sample loop."""

import math

import numpy as np
import pytest
from scipy import stats

from jaxgen.metrics.modes import mode_statistics

STD = 0.05
RING_8x2 = 2.0 * np.stack(
    [np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], axis=1
)
GRID_25x2 = np.array([[x, y] for x in range(-4, 5, 2) for y in range(-4, 5, 2)], np.float64)


def test_samples_at_every_mode_cover_all_modes():
    samples = np.repeat(RING_8x2, 10, axis=0)
    out = mode_statistics(samples, RING_8x2, STD)
    assert out["modes_covered"] == 8
    assert out["high_quality_fraction"] == 1.0
    assert out["mode_kl"] == pytest.approx(0.0, abs=1e-12)
    assert out["mode_counts"] == [10] * 8
    assert out["num_samples"] == 80


def test_two_of_eight_modes_give_kl_log_four():
    samples = np.repeat(RING_8x2[[1, 5]], 30, axis=0)
    out = mode_statistics(samples, RING_8x2, STD)
    assert out["modes_covered"] == 2
    assert out["mode_counts"] == [0, 30, 0, 0, 0, 30, 0, 0]
    p = np.array(out["mode_counts"]) / 60
    assert out["mode_kl"] == pytest.approx(stats.entropy(p, np.full(8, 1 / 8)), rel=1e-12)
    assert out["mode_kl"] == pytest.approx(math.log(8 / 2), rel=1e-12)


def test_unbalanced_histogram_kl_matches_scipy():
    counts = np.array([5, 0, 1, 12, 3, 0, 0, 7] + [0] * 17)  # over the 25 grid modes
    samples = np.repeat(GRID_25x2, counts, axis=0) + 0.5 * STD  # all well inside 3 std
    out = mode_statistics(samples, GRID_25x2, STD)
    assert out["mode_counts"] == counts.tolist() and out["modes_covered"] == 5
    expected = stats.entropy(counts / counts.sum(), np.full(25, 1 / 25))
    assert out["mode_kl"] == pytest.approx(expected, rel=1e-12)


def test_points_four_std_away_are_low_quality():
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, size=40)
    offsets = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    near = RING_8x2[0] + 2.9 * STD * offsets  # 2.9 std: high quality
    far = RING_8x2[3] + 4.0 * STD * offsets  # 4 std: low quality, though mode 3 is nearest
    out = mode_statistics(np.concatenate([near, far]), RING_8x2, STD)
    assert out["mode_counts"] == [40, 0, 0, 0, 0, 0, 0, 0]
    assert out["modes_covered"] == 1
    assert out["high_quality_fraction"] == pytest.approx(0.5)
    assert out["mode_kl"] == pytest.approx(math.log(8), rel=1e-12)
    # A looser threshold takes the far points in.
    assert mode_statistics(np.concatenate([near, far]), RING_8x2, STD, threshold=4.5)[
        "mode_counts"
    ] == [40, 0, 0, 40, 0, 0, 0, 0]


def test_no_high_quality_samples_give_kl_log_m():
    samples = np.full((10, 2), 100.0)
    out = mode_statistics(samples, GRID_25x2, STD)
    assert out["modes_covered"] == 0 and out["high_quality_fraction"] == 0.0
    assert out["mode_counts"] == [0] * 25
    assert out["mode_kl"] == pytest.approx(math.log(25))


def test_counts_match_a_per_sample_loop_on_random_data():
    rng = np.random.default_rng(1)
    # A spread-out generator: some samples near modes, many in between.
    samples = GRID_25x2[rng.integers(0, 25, 3000)] + rng.normal(scale=0.15, size=(3000, 2))
    samples[:500] = rng.uniform(-5, 5, size=(500, 2))
    std, threshold = 0.05, 3.0
    counts = [0] * 25
    good = 0
    for x in samples:
        best, best_dist = -1, math.inf
        for j, c in enumerate(GRID_25x2):
            d = math.hypot(x[0] - c[0], x[1] - c[1])
            if d < best_dist:
                best, best_dist = j, d
        if best_dist < threshold * std:
            counts[best] += 1
            good += 1
    out = mode_statistics(samples, GRID_25x2, std, threshold)
    assert out["mode_counts"] == counts
    assert out["modes_covered"] == sum(n > 0 for n in counts)
    assert out["high_quality_fraction"] == pytest.approx(good / 3000, rel=1e-12)
    assert 0.05 < out["high_quality_fraction"] < 0.95  # neither trivially all nor none
    p = np.array(counts) / good
    assert out["mode_kl"] == pytest.approx(stats.entropy(p, np.full(25, 1 / 25)), rel=1e-10)
    assert out["num_samples"] == 3000
    assert isinstance(out["modes_covered"], int) and isinstance(out["mode_kl"], float)


def test_mode_overlap_is_one_minus_total_variation():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    rng = np.random.default_rng(3)
    picks = rng.choice(4, size=500, p=[0.4, 0.3, 0.2, 0.1])
    samples = centers[picks] + rng.normal(scale=0.001, size=(500, 2))  # all within 3 std
    samples[:50] += 1.0  # 50 low-quality samples, far beyond 3 std of any mode
    stats = mode_statistics(samples, centers, std=0.01)
    # Generated: the high-quality share of each mode plus one off-mode bin; true: uniform.
    generated = np.append(np.bincount(picks[50:], minlength=4) / 500, 50 / 500)
    true = np.append(np.full(4, 0.25), 0.0)
    assert stats["mode_overlap"] == pytest.approx(1 - 0.5 * np.abs(generated - true).sum())
    collapsed = mode_statistics(np.zeros((100, 2)), centers, std=0.01)
    assert collapsed["mode_overlap"] == pytest.approx(0.25)
