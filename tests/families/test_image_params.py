"""Image parametrisations and transforms of feature visualisation against NumPy references."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.reverse import image_params as ip

# lucid's published square root of the colour correlation of natural images (rows R, G, B),
# typed in again here so that the test does not read it from the module under test.
COLOR_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _hand_scale(h: int, w: int, decay_power: float) -> np.ndarray:
    """1 / max(|f|, 1/max(H, W)) ** p by loops over the rfft2 frequencies."""
    out = np.zeros((h, w // 2 + 1))
    for i in range(h):
        fy = (i if i < (h + 1) // 2 else i - h) / h  # fftfreq
        for j in range(w // 2 + 1):
            fx = j / w  # rfftfreq
            out[i, j] = 1.0 / max(math.hypot(fy, fx), 1.0 / max(h, w)) ** decay_power
    return out


# --------------------------------------------------------------------------------------------
# total_variation


def test_total_variation_matches_loops():
    x = np.random.default_rng(0).random((3, 5, 4, 2)).astype(np.float32)
    expected = np.zeros(3)
    for n in range(3):
        for i in range(5):
            for j in range(4):
                for c in range(2):
                    if i + 1 < 5:
                        expected[n] += abs(x[n, i + 1, j, c] - x[n, i, j, c])
                    if j + 1 < 4:
                        expected[n] += abs(x[n, i, j + 1, c] - x[n, i, j, c])
    via_diff = np.abs(np.diff(x, axis=1)).sum((1, 2, 3)) + np.abs(np.diff(x, axis=2)).sum((1, 2, 3))
    got = np.asarray(jax.jit(ip.total_variation)(jnp.asarray(x)))
    assert got.shape == (3,)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(got, via_diff, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# fourier


def test_fourier_scale_by_hand():
    s = ip.fourier_scale(4, 6, 1.0)
    assert s.shape == (4, 4) and s.dtype == np.float32
    assert s[0, 0] == pytest.approx(6.0)  # DC: floored at 1 / max(H, W) = 1/6
    assert s[0, 1] == pytest.approx(6.0)  # fx = 1/6
    assert s[1, 0] == pytest.approx(4.0)  # fy = 1/4
    assert s[1, 1] == pytest.approx(12 / math.sqrt(13))  # sqrt(1/16 + 1/36)
    assert s[2, 3] == pytest.approx(math.sqrt(2))  # fy = -1/2, fx = 1/2
    assert s[3, 2] == pytest.approx(1 / math.sqrt(1 / 16 + 1 / 9))  # fy = -1/4, fx = 1/3
    assert ip.fourier_scale(4, 6, 2.0)[1, 0] == pytest.approx(16.0)
    np.testing.assert_array_equal(ip.fourier_scale(4, 6, 0.0), np.ones((4, 4), np.float32))
    for h, w, p in [(5, 7, 1.0), (6, 5, 1.5), (1, 8, 1.0)]:
        np.testing.assert_allclose(ip.fourier_scale(h, w, p), _hand_scale(h, w, p), rtol=1e-6)


def _random_spectrum(seed: int, shape: tuple[int, int, int, int], sd: float):
    """Spectrum params drawn in NumPy (jitting init_fourier per shape would only cost time)."""
    n, h, w, c = shape
    rng = np.random.default_rng(seed)
    real, imag = (sd * rng.standard_normal((n, h, w // 2 + 1, c)) for _ in range(2))
    params = {"real": jnp.asarray(real, jnp.float32), "imag": jnp.asarray(imag, jnp.float32)}
    spectrum = np.asarray(params["real"], np.float64) + 1j * np.asarray(params["imag"], np.float64)
    return params, spectrum


def test_init_fourier_layout():
    params = ip.init_fourier(jax.random.key(1), (2, 16, 15, 3), sd=0.3)
    assert params["real"].shape == (2, 16, 8, 3) == params["imag"].shape
    assert params["real"].dtype == jnp.float32
    assert float(jnp.std(params["real"])) == pytest.approx(0.3, rel=0.1)
    assert float(jnp.std(params["imag"])) == pytest.approx(0.3, rel=0.1)
    assert not np.allclose(params["real"], params["imag"])


@pytest.mark.parametrize("h, w", [(4, 6), (5, 7), (6, 5)])
def test_fourier_flat_spectrum_gray_matches_numpy(h, w):
    shape = (2, h, w, 1)
    params, spectrum = _random_spectrum(h * w, shape, 0.3)
    expected = _sigmoid(np.fft.irfft2(spectrum * math.sqrt(h * w), s=(h, w), axes=(1, 2)))
    got = jax.jit(ip.fourier_to_image, static_argnums=(1, 2))(params, shape, 0.0)
    assert got.shape == shape and got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-5)


@pytest.mark.parametrize("h, w", [(6, 8), (5, 7)])
def test_fourier_colour_matches_numpy(h, w):
    shape = (1, h, w, 3)
    params, spectrum = _random_spectrum(h * w, shape, 0.2)
    scaled = spectrum * _hand_scale(h, w, 1.0)[None, :, :, None] * math.sqrt(h * w)
    decorrelated = np.fft.irfft2(scaled, s=(h, w), axes=(1, 2))
    matrix = COLOR_SQRT / np.linalg.norm(COLOR_SQRT, axis=0).max()
    rgb = np.einsum("rd,nhwd->nhwr", matrix, decorrelated)  # rgb = matrix @ d per pixel
    got = np.asarray(jax.jit(ip.fourier_to_image, static_argnums=1)(params, shape))
    np.testing.assert_allclose(got, _sigmoid(rgb), atol=1e-5)
    np.testing.assert_allclose(ip.COLOR_MATRIX_3x3, matrix, rtol=1e-6)


@pytest.mark.parametrize("shape", [(2, 7, 8, 3), (1, 6, 5, 1)])
def test_fourier_range_and_gradients(shape):
    params, _ = _random_spectrum(3, shape, 0.5)

    @jax.jit
    def image_and_grads(params):
        grads = jax.grad(lambda p: jnp.mean(ip.fourier_to_image(p, shape)))(params)
        return ip.fourier_to_image(params, shape), grads

    image, grads = image_and_grads(params)
    assert image.shape == shape
    assert float(image.min()) > 0.0 and float(image.max()) < 1.0
    for g in jax.tree.leaves(grads):
        assert np.all(np.isfinite(g))
    assert float(jnp.abs(grads["real"]).max()) > 0.0
    # The gradient reaches beyond DC: the sigmoid couples the mean to every frequency.
    assert float(jnp.abs(grads["real"][:, 1:]).max()) > 0.0


def test_fourier_rejects_bad_channels():
    with pytest.raises(ValueError):
        ip.init_fourier(jax.random.key(0), (1, 4, 4, 2))


# --------------------------------------------------------------------------------------------
# pixel


def test_pixel_init_and_clip():
    shape = (4, 32, 32, 3)
    params = jax.jit(ip.init_pixel, static_argnums=1)(jax.random.key(4), shape)
    pixels = np.asarray(params["pixels"])
    assert pixels.shape == shape and pixels.dtype == np.float32
    assert abs(pixels.mean() - 0.5) < 1e-3
    assert pixels.std() == pytest.approx(0.01, rel=0.05)

    def image_of(params):
        return ip.pixel_to_image(params, params["pixels"].shape)

    @jax.jit
    def image_and_grad(params):
        return image_of(params), jax.grad(lambda p: jnp.sum(image_of(p)))(params)

    raw = np.array([-0.5, 0.25, 1.5, 0.75], np.float32).reshape(1, 2, 2, 1)
    clipped, grad = image_and_grad({"pixels": jnp.asarray(raw)})
    np.testing.assert_array_equal(np.asarray(clipped).ravel(), [0.0, 0.25, 1.0, 0.75])
    np.testing.assert_array_equal(np.asarray(grad["pixels"]).ravel(), [0.0, 1.0, 0.0, 1.0])


# --------------------------------------------------------------------------------------------
# jitter, random_roll


def _find_shift(x: np.ndarray, y: np.ndarray, bound: int) -> tuple[int, int] | None:
    for dy in range(-bound, bound + 1):
        for dx in range(-bound, bound + 1):
            if np.array_equal(np.roll(x, (dy, dx), axis=(1, 2)), y):
                return dy, dx
    return None


def test_jitter_is_a_bounded_roll():
    x = np.random.default_rng(5).random((2, 9, 10, 3)).astype(np.float32)
    jitted = jax.jit(ip.jitter, static_argnums=2)
    shifts = set()
    for seed in range(8):
        y = np.asarray(jitted(jax.random.key(seed), jnp.asarray(x), 3))
        shift = _find_shift(x, y, 3)
        assert shift is not None, f"seed {seed}: not a roll within 3 pixels"
        shifts.add(shift)
    assert len(shifts) > 1


def test_random_roll_then_unroll_is_identity():
    x = jnp.asarray(np.random.default_rng(6).random((2, 8, 7, 1)), jnp.float32)

    @jax.jit
    def roundtrip(key, x):
        rolled, shift = ip.random_roll(key, x, 4)
        return rolled, shift, ip.unroll(rolled, shift)

    for seed in range(4):
        rolled, (dy, dx), back = roundtrip(jax.random.key(seed), x)
        assert abs(int(dy)) <= 4 and abs(int(dx)) <= 4
        np.testing.assert_array_equal(np.asarray(rolled), np.roll(x, (int(dy), int(dx)), (1, 2)))
        np.testing.assert_array_equal(np.asarray(back), np.asarray(x))


# --------------------------------------------------------------------------------------------
# random_scale


def _smooth(n: int, h: int, w: int, c: int) -> np.ndarray:
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    base = 0.5 + 0.3 * np.sin(2.0 * yy + 1.0) * np.cos(1.5 * xx)
    return np.broadcast_to(base[None, :, :, None], (n, h, w, c)).astype(np.float32).copy()


def test_random_scale_identity():
    x = jnp.asarray(np.random.default_rng(7).random((2, 8, 9, 3)), jnp.float32)
    scaled = jax.jit(ip.random_scale, static_argnums=2)
    for seed in range(3):
        y = scaled(jax.random.key(seed), x, (1.0,))
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), atol=1e-6)


def test_random_scale_zoom_keeps_centre_and_shape():
    x = _smooth(1, 9, 11, 3)
    scaled = jax.jit(ip.random_scale, static_argnums=2)
    y = np.asarray(scaled(jax.random.key(0), jnp.asarray(x), (2.0,)))
    assert y.shape == x.shape
    np.testing.assert_allclose(y[0, 4, 5], x[0, 4, 5], atol=1e-6)
    # Twice the size about the centre: two output pixels per input pixel.
    np.testing.assert_allclose(y[0, 6, 7], x[0, 5, 6], atol=1e-6)
    np.testing.assert_allclose(y[0, 2, 3], x[0, 3, 4], atol=1e-6)
    assert not np.allclose(y, x, atol=1e-3)


def test_random_scale_shrink_pads_with_edge_and_varies():
    scaled = jax.jit(ip.random_scale, static_argnums=2)
    constant = jnp.full((1, 16, 16, 1), 0.7, jnp.float32)
    y = scaled(jax.random.key(0), constant, (0.5,))
    np.testing.assert_allclose(np.asarray(y), 0.7, atol=1e-6)  # no zero border

    x = jnp.asarray(_smooth(1, 16, 16, 1))
    outputs = {
        np.asarray(scaled(jax.random.key(s), x, (0.9, 1.0, 1.1))).tobytes() for s in range(8)
    }
    assert len(outputs) > 1
    grad = jax.jit(jax.grad(lambda x: jnp.sum(ip.random_scale(jax.random.key(1), x, (0.9,)))))(x)
    assert np.all(np.isfinite(grad)) and float(jnp.abs(grad).sum()) > 0
