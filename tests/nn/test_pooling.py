"""jaxgen.nn.pooling.max_pool_2x2 must be lax.reduce_window's 2x2 max pooling, values and
gradient, bit for bit, ties included."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxgen.nn.pooling import max_pool_2x2


def reduce_window_pool(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def _inputs(kind, shape, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "normal":
        x = rng.standard_normal(shape)
    elif kind == "ties":  # three values only: most windows hold their maximum more than once
        x = rng.integers(0, 3, shape).astype(np.float64)
    else:  # "relu": the zeros of a ReLU, tied in every window that has no positive value
        x = np.maximum(rng.standard_normal(shape) - 0.5, 0.0)
    return jnp.asarray(x, jnp.float32)


@pytest.mark.parametrize("kind", ["normal", "ties", "relu"])
@pytest.mark.parametrize("shape", [(2, 8, 6, 3), (1, 7, 9, 4), (3, 5, 5, 1)])
def test_values_and_gradient_equal_reduce_window(kind, shape):
    x = _inputs(kind, shape)
    cotangent = jnp.asarray(
        np.random.default_rng(1).standard_normal(reduce_window_pool(x).shape), jnp.float32
    )
    ours, vjp_ours = jax.vjp(max_pool_2x2, x)
    ref, vjp_ref = jax.vjp(reduce_window_pool, x)
    np.testing.assert_array_equal(ours, ref)
    (grad_ours,), (grad_ref,) = vjp_ours(cotangent), vjp_ref(cotangent)
    np.testing.assert_array_equal(grad_ours, grad_ref)
    # Each window's cotangent goes to exactly one position (so ties are not split).
    assert int(jnp.sum(grad_ours != 0)) == int(jnp.sum(cotangent != 0))


def test_first_maximum_in_row_major_order_takes_the_gradient():
    x = jnp.asarray([[[[1.0], [2.0]], [[2.0], [2.0]]]])  # one window: 1 2 / 2 2
    grad = jax.grad(lambda x: max_pool_2x2(x).sum())(x)
    np.testing.assert_array_equal(grad[0, :, :, 0], [[0.0, 1.0], [0.0, 0.0]])


def test_under_jit_and_vmap():
    x = _inputs("ties", (4, 2, 6, 6, 2))

    def loss(pool):
        return lambda x: jnp.sum(jax.vmap(pool)(x) ** 2)

    ours = jax.jit(jax.grad(loss(max_pool_2x2)))(x)
    np.testing.assert_array_equal(ours, jax.grad(loss(reduce_window_pool))(x))
