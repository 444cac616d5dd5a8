import numpy as np
import pytest
import scipy.ndimage

from jaxgen.metrics.image_attributes import ink_mass, slant, split_by_median


def _bar(size=64, top=8, bottom=56, left=30, width=4):
    """A bright upright bar on black, (size, size)."""
    image = np.zeros((size, size))
    image[top:bottom, left : left + width] = 1.0
    return image


def _shear(image, s):
    """x' = x + s (y_c - y): the top moves right for s > 0 (y down the rows, y_c the centre row).

    affine_transform maps each output (row, col) to the input (row, col + s (row - y_c)).
    """
    y_c = (image.shape[0] - 1) / 2
    matrix = np.array([[1.0, 0.0], [s, 1.0]])
    return scipy.ndimage.affine_transform(image, matrix, offset=[0.0, -s * y_c], order=1)


def test_ink_mass_matches_numpy_sum():
    images = np.random.default_rng(0).random((5, 7, 6, 3))
    expected = np.array([image.sum() / image.size for image in images])
    np.testing.assert_allclose(ink_mass(images), expected, rtol=1e-12)


def test_slant_of_upright_bar_is_zero():
    assert slant(_bar()[None, :, :, None])[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("s", [0.3, -0.2, 0.1])
def test_slant_recovers_a_known_shear(s):
    sheared = _shear(_bar(), s)
    # The bar's top ink is to the right of its bottom ink exactly when s > 0.
    ink_cols = [np.average(np.arange(64), weights=sheared[r]) for r in (9, 54)]
    assert np.sign(ink_cols[0] - ink_cols[1]) == np.sign(s)
    # Linear interpolation moves each row's ink centroid by exactly the row's shift while the
    # bar stays inside the image, so the moments see the shear exactly.
    assert slant(sheared[None, :, :, None])[0] == pytest.approx(s, rel=1e-6)


def test_slant_matches_weighted_covariance():
    images = np.random.default_rng(1).random((4, 9, 11, 1))
    ys, xs = np.mgrid[0:9, 0:11]
    for image, got in zip(images, slant(images), strict=True):
        cov = np.cov(xs.ravel(), -ys.ravel(), aweights=image.ravel())  # height = -row
        assert got == pytest.approx(cov[0, 1] / cov[1, 1], rel=1e-10)


def test_slant_of_blank_or_flat_images_is_zero():
    images = np.zeros((2, 5, 5, 1))
    images[1, 2, :, 0] = 1.0  # one row of ink: no vertical extent
    np.testing.assert_array_equal(slant(images), [0.0, 0.0])


def test_split_by_median():
    values = np.array([3.0, 1.0, 4.0, 1.5, 9.0, 2.0])  # median 2.5
    np.testing.assert_array_equal(split_by_median(values), [True, False, True, False, True, False])
    # Ties at the median go to the False group.
    np.testing.assert_array_equal(
        split_by_median(np.array([1.0, 2.0, 2.0, 2.0, 5.0])), [False, False, False, False, True]
    )
