import matplotlib.image
import numpy as np
import pytest
import scipy.stats

from jaxgen.families.vae.latent import (
    apply_attribute,
    attribute_vector,
    lerp,
    normal_quantile_grid,
    slerp,
    top_units_by_kl,
    traversal_codes,
)
from jaxgen.viz.figures import image_grid


def _angle(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))


def test_normal_quantile_grid_values_and_order():
    n = 4
    grid = normal_quantile_grid(n, 0.1, 0.9)
    assert grid.shape == (n * n, 2)
    q = scipy.stats.norm.ppf([0.1, 0.1 + 0.8 / 3, 0.1 + 1.6 / 3, 0.9])
    for r in range(n):
        for c in range(n):
            np.testing.assert_allclose(grid[r * n + c], [q[c], q[n - 1 - r]], rtol=1e-6)
    # As an image grid: x increases to the right, y decreases down the rows (a plot's y axis).
    x, y = grid[:, 0].reshape(n, n), grid[:, 1].reshape(n, n)
    assert np.all(np.diff(x, axis=1) > 0) and np.all(np.diff(x, axis=0) == 0)
    assert np.all(np.diff(y, axis=0) < 0) and np.all(np.diff(y, axis=1) == 0)
    # Symmetric probabilities give a grid symmetric about the origin.
    np.testing.assert_allclose(grid, -grid[::-1], atol=1e-6)


def test_normal_quantile_grid_rejects_infinite_quantiles():
    with pytest.raises(ValueError, match="low < high"):
        normal_quantile_grid(3, 0.0, 0.9)


def test_lerp():
    z0, z1 = np.array([1.0, -2.0, 0.5]), np.array([3.0, 0.0, -0.5])
    out = lerp(z0, z1, 5)
    expected = np.stack([z0 + t * (z1 - z0) for t in (0, 0.25, 0.5, 0.75, 1)])
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert np.array_equal(out[0], z0) and np.array_equal(out[-1], z1)


def test_slerp_endpoints_norm_and_constant_angle():
    rng = np.random.default_rng(0)
    z0 = rng.normal(size=8).astype(np.float32)
    z1 = rng.normal(size=8).astype(np.float32)
    z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)
    steps = 7
    out = slerp(z0, z1, steps)
    assert out.shape == (steps, 8) and out.dtype == np.float32
    assert np.array_equal(out[0], z0) and np.array_equal(out[-1], z1)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), np.linalg.norm(z0), rtol=1e-5)
    # Closed form: each step turns by omega / (steps - 1), and the path stays in the plane.
    omega = _angle(z0, z1)
    steps_angles = [_angle(out[i], out[i + 1]) for i in range(steps - 1)]
    np.testing.assert_allclose(steps_angles, omega / (steps - 1), rtol=1e-4)
    np.testing.assert_allclose(_angle(z0, out[2]) + _angle(out[2], z1), omega, rtol=1e-5)


def test_slerp_unequal_norms_interpolates_the_angle():
    z0, z1 = np.array([2.0, 0.0]), np.array([0.0, 1.0])
    out = slerp(z0, z1, 3)
    # Midpoint: (sin(pi/4) z0 + sin(pi/4) z1) / sin(pi/2).
    np.testing.assert_allclose(out[1], np.sqrt(0.5) * (z0 + z1), rtol=1e-12)


@pytest.mark.parametrize("scale", [2.0, -3.0, 0.0])
def test_slerp_parallel_falls_back_to_lerp(scale):
    z0 = np.array([1.0, 2.0, -1.0])
    z1 = scale * z0
    out = slerp(z0, z1, 4)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, lerp(z0, z1, 4), rtol=1e-12)


def test_traversal_codes_change_one_unit():
    z = np.array([0.1, -0.2, 0.3, 0.4], np.float32)
    values = np.linspace(-2, 2, 5)
    out = traversal_codes(z, [2, 0], values)
    assert out.shape == (2, 5, 4)
    np.testing.assert_allclose(out[0, :, 2], values, rtol=1e-6)
    np.testing.assert_allclose(out[1, :, 0], values, rtol=1e-6)
    for i, unit in enumerate([2, 0]):
        others = np.delete(out[i], unit, axis=1)
        np.testing.assert_array_equal(others, np.broadcast_to(np.delete(z, unit), others.shape))
    rel = traversal_codes(z, [1], values, relative=True)
    np.testing.assert_allclose(rel[0, :, 1], z[1] + values, rtol=1e-6)


def test_attribute_vector_and_apply():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(50, 6))
    has = rng.random(50) < 0.3
    vector = attribute_vector(codes, has)
    np.testing.assert_allclose(
        vector, np.mean(codes[has], axis=0) - np.mean(codes[~has], axis=0), rtol=1e-12
    )
    scales = np.array([-1.0, 0.0, 2.5])
    moved = apply_attribute(codes, vector, scales)
    assert moved.shape == (50, 3, 6)
    for k, s in enumerate(scales):
        np.testing.assert_allclose(moved[:, k], codes + s * vector, rtol=1e-12)


@pytest.mark.parametrize("flag", [True, False])
def test_attribute_vector_empty_group(flag):
    with pytest.raises(ValueError, match="both with and without"):
        attribute_vector(np.zeros((4, 2)), np.full(4, flag))


def test_top_units_by_kl():
    kl = np.array([0.01, 2.0, 0.5, 3.0, 0.0])
    np.testing.assert_array_equal(top_units_by_kl(kl, 3), [3, 1, 2])
    np.testing.assert_array_equal(top_units_by_kl(kl, 10), [3, 1, 2, 0, 4])
    per_example = np.stack([kl * 0.5, kl * 1.5])  # mean over examples is kl
    np.testing.assert_array_equal(top_units_by_kl(per_example, 2), [3, 1])


def test_image_grid_writes_png(tmp_path):
    images = np.random.default_rng(0).random((6, 8, 8, 1))
    path = image_grid(images, 2, 3, tmp_path / "grid.png", title="t", row_labels=["a", "b"])
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    # Without labels the figure is just the 2 x 3 grid: wider than tall.
    bare = matplotlib.image.imread(image_grid(images, 2, 3, tmp_path / "bare.png"))
    assert bare.shape[1] > bare.shape[0]
    with pytest.raises(ValueError, match="2\\*3 images"):
        image_grid(images[:5], 2, 3, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="column labels"):
        image_grid(images, 2, 3, tmp_path / "bad.png", column_labels=["x"])
