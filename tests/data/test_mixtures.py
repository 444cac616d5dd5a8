"""2-D mixtures: the mode layouts, the sampling distribution, and resumable key-driven batches."""

import numpy as np
import pytest

from jaxgen.data.mixtures import mixture_config, mixture_dataset, mode_centers


def test_mode_layouts():
    ring = mode_centers("ring", mixture_config(num_modes=8, radius=2.0))
    assert ring.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0)
    np.testing.assert_allclose(ring[2], [0.0, 2.0], atol=1e-12)
    grid = mode_centers("grid", mixture_config(side=5, spacing=2.0))
    assert sorted(set(grid[:, 0])) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(c) for c in grid}) == 25
    with pytest.raises(ValueError, match="unknown mixture"):
        mode_centers("spiral", mixture_config())


def test_points_come_from_their_mode_with_the_configured_std():
    centers = mode_centers("ring", mixture_config())
    batch = mixture_dataset(centers, 0.05, 20000, seed=0)[3]
    offsets = batch["x"] - centers[batch["label"]]
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=2e-3)
    np.testing.assert_allclose(offsets.std(axis=0), 0.05, rtol=0.03)
    counts = np.bincount(batch["label"], minlength=8)
    assert counts.min() > 20000 / 8 * 0.9


def test_batches_are_a_function_of_seed_and_index():
    centers = mode_centers("grid", mixture_config())
    data = mixture_dataset(centers, 0.02, 64, seed=1)
    np.testing.assert_array_equal(data[5]["x"], mixture_dataset(centers, 0.02, 64, seed=1)[5]["x"])
    assert not np.allclose(data[5]["x"], data[6]["x"])
    assert not np.allclose(data[5]["x"], mixture_dataset(centers, 0.02, 64, seed=2)[5]["x"])
    iterator = iter(data)
    first = [next(iterator)["x"] for _ in range(3)]
    np.testing.assert_array_equal(first[2], data[2]["x"])
