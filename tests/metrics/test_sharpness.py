"""The mean squared Laplacian against a direct NumPy 5-point Laplacian."""

import numpy as np
import pytest

from jaxgen.metrics.sharpness import mean_squared_laplacian


def _laplacian(image_HxW):
    # scipy.ndimage.laplace's default mode "reflect" repeats the edge pixel (d c b a | a b c d).
    p = np.pad(image_HxW, 1, mode="symmetric")
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]


def test_matches_direct_five_point_laplacian():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(3, 7, 9, 2))
    expected = np.mean(
        [np.square(_laplacian(images[n, :, :, c])) for n in range(3) for c in range(2)]
    )
    assert mean_squared_laplacian(images) == pytest.approx(expected, rel=1e-12)


def test_constant_images_are_flat_and_blur_lowers_it():
    assert mean_squared_laplacian(np.full((2, 5, 5, 1), 0.7)) == pytest.approx(0.0, abs=1e-20)
    rng = np.random.default_rng(1)
    sharp = rng.uniform(size=(2, 16, 16, 1))
    blurred = (sharp + np.roll(sharp, 1, axis=1) + np.roll(sharp, 1, axis=2)) / 3
    assert mean_squared_laplacian(blurred) < mean_squared_laplacian(sharp)
    with pytest.raises(ValueError):
        mean_squared_laplacian(np.zeros((5, 5)))
