"""Unpooling layers against straightforward NumPy loop implementations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn import (
    bed_of_nails,
    max_pool_with_switches,
    max_unpool,
    upsample_bilinear,
    upsample_nearest,
)


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _np_max_pool(x, w):
    b, h, wd, c = x.shape
    pooled = np.zeros((b, h // w, wd // w, c), x.dtype)
    switches = np.zeros((b, h // w, wd // w, c), np.int64)
    for n in range(b):
        for i in range(h // w):
            for j in range(wd // w):
                for ch in range(c):
                    win = x[n, i * w : (i + 1) * w, j * w : (j + 1) * w, ch]
                    idx = int(np.argmax(win))  # row-major, first max on ties
                    pooled[n, i, j, ch] = win.flat[idx]
                    switches[n, i, j, ch] = idx
    return pooled, switches


def _np_unpool(x, switches, w):
    b, hp, wp, c = x.shape
    out = np.zeros((b, hp * w, wp * w, c), x.dtype)
    for n in range(b):
        for i in range(hp):
            for j in range(wp):
                for ch in range(c):
                    dy, dx = divmod(int(switches[n, i, j, ch]), w)
                    out[n, i * w + dy, j * w + dx, ch] = x[n, i, j, ch]
    return out


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_shapes(factor):
    x = jnp.asarray(_rand((2, 4, 6, 3)))
    expected = (2, 4 * factor, 6 * factor, 3)
    assert upsample_nearest(x, factor).shape == expected
    assert upsample_bilinear(x, factor).shape == expected
    assert bed_of_nails(x, factor).shape == expected
    if factor > 1:
        x = jnp.asarray(_rand((2, 6, 12, 3)))
        pooled, switches = max_pool_with_switches(x, factor)
        assert pooled.shape == switches.shape == (2, 6 // factor, 12 // factor, 3)
        assert jnp.issubdtype(switches.dtype, jnp.integer)
        assert max_unpool(pooled, switches, factor).shape == x.shape


@pytest.mark.parametrize("factor", [2, 3])
def test_nearest_equals_repeat(factor):
    x = _rand((2, 3, 5, 4))
    expected = np.repeat(np.repeat(x, factor, axis=1), factor, axis=2)
    np.testing.assert_array_equal(np.asarray(upsample_nearest(jnp.asarray(x), factor)), expected)


@pytest.mark.parametrize("factor", [2, 3])
def test_bed_of_nails_layout(factor):
    x = _rand((2, 3, 5, 4))
    expected = np.zeros((2, 3 * factor, 5 * factor, 4), np.float32)
    for i in range(3):
        for j in range(5):
            expected[:, i * factor, j * factor, :] = x[:, i, j, :]
    np.testing.assert_array_equal(np.asarray(bed_of_nails(jnp.asarray(x), factor)), expected)


@pytest.mark.parametrize("window", [2, 3])
def test_max_pool_with_switches_matches_numpy(window):
    x = _rand((2, 6, 12, 3), seed=window)
    pooled, switches = max_pool_with_switches(jnp.asarray(x), window)
    pooled_ref, switches_ref = _np_max_pool(x, window)
    np.testing.assert_array_equal(np.asarray(pooled), pooled_ref)
    np.testing.assert_array_equal(np.asarray(switches), switches_ref)


def test_max_pool_switches_first_max_on_ties():
    # All-equal windows: the first (top-left, index 0) element must be chosen.
    x = np.ones((1, 4, 4, 2), np.float32)
    x[0, 0, 1, 0] = 1.0  # still tied
    x[0, 3, 3, 1] = 2.0  # unique max at the bottom-right of its window -> index 3
    _, switches = max_pool_with_switches(jnp.asarray(x), 2)
    _, switches_ref = _np_max_pool(x, 2)
    np.testing.assert_array_equal(np.asarray(switches), switches_ref)
    assert int(switches[0, 0, 0, 0]) == 0
    assert int(switches[0, 1, 1, 1]) == 3


def test_max_pool_rejects_indivisible():
    with pytest.raises(ValueError):
        max_pool_with_switches(jnp.ones((1, 5, 4, 1)), 2)


@pytest.mark.parametrize("window", [2, 3])
def test_unpool_of_pool_keeps_maxima_in_place(window):
    x = _rand((2, 6, 12, 3), seed=10 + window)  # continuous random values: no ties
    pooled, switches = max_pool_with_switches(jnp.asarray(x), window)
    out = np.asarray(max_unpool(pooled, switches, window))
    np.testing.assert_array_equal(out, _np_unpool(np.asarray(pooled), np.asarray(switches), window))
    # Each window max stays exactly where it was; everything else is zero.
    b, h, w, c = x.shape
    win = x.reshape(b, h // window, window, w // window, window, c)
    is_max = win == win.max(axis=(2, 4), keepdims=True)
    expected = np.where(is_max, win, 0.0).reshape(x.shape)
    np.testing.assert_array_equal(out, expected)
    assert np.count_nonzero(out) == pooled.size


@pytest.mark.parametrize("factor", [2, 3])
def test_bilinear_of_constant_is_constant(factor):
    x = jnp.full((2, 4, 5, 3), 1.75, jnp.float32)
    np.testing.assert_allclose(np.asarray(upsample_bilinear(x, factor)), 1.75, rtol=1e-6)


def test_bilinear_matches_jax_image_resize():
    x = jnp.asarray(_rand((1, 3, 4, 2)))
    expected = jax.image.resize(x, (1, 6, 8, 2), method="bilinear")
    np.testing.assert_allclose(np.asarray(upsample_bilinear(x, 2)), np.asarray(expected))


@pytest.mark.parametrize("window", [2, 3])
def test_max_unpool_gradient(window):
    rng = np.random.default_rng(window)
    x = jnp.asarray(_rand((2, 3, 4, 5), seed=20))
    switches = jnp.asarray(rng.integers(0, window * window, size=x.shape), jnp.int32)
    r = _rand((2, 3 * window, 4 * window, 5), seed=21)

    grad = jax.grad(lambda v: jnp.sum(max_unpool(v, switches, window) * r))(x)

    expected = np.zeros(x.shape, np.float32)
    sw = np.asarray(switches)
    for n, i, j, ch in np.ndindex(*x.shape):
        dy, dx = divmod(int(sw[n, i, j, ch]), window)
        expected[n, i, j, ch] = r[n, i * window + dy, j * window + dx, ch]
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-6)


def test_max_pool_gradient_routes_through_switch():
    x = jnp.asarray(_rand((1, 4, 4, 2), seed=3))
    grad = jax.grad(lambda v: jnp.sum(max_pool_with_switches(v, 2)[0]))(x)
    _, switches = max_pool_with_switches(x, 2)
    np.testing.assert_array_equal(
        np.asarray(grad), np.asarray(max_unpool(jnp.ones((1, 2, 2, 2)), switches, 2))
    )


def test_unpool_layers_jit():
    x = jnp.asarray(_rand((2, 4, 4, 3)))
    pooled, switches = jax.jit(max_pool_with_switches, static_argnums=1)(x, 2)
    out = jax.jit(max_unpool, static_argnums=2)(pooled, switches, 2)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(max_unpool(pooled, switches, 2)))
