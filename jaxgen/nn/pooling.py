"""2x2 max pooling (stride 2, 'VALID') whose gradient XLA:CPU runs as one elementwise pass.

``lax.reduce_window(x, -inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID')`` differentiates
through select-and-scatter, which XLA:CPU rewrites into a variadic reduce-window over index
arrays: four int32 iotas and a broadcast the size of the layer's input, built on every step, an
argmax reduce-window and a scatter (about 60 ms of style transfer's 480 ms step at 256 pixels on
VGG19, benchmarks/profile_step.py --family style_transfer). ``max_pool_2x2`` computes the same
values (the max of each window, exact in any order) and the same gradient, by a ``custom_vjp``
of comparisons and selects that XLA fuses: each window's cotangent goes to its first maximum in
row-major order, as select-and-scatter's ``ge`` selection gives it (ties included;
tests/nn/test_pooling.py checks both against the reduce-window, on inputs full of ties).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def _windows(x_NxHxWxC: Array) -> Array:
    """(N, H/2, 2, W/2, 2, C): the 2x2 windows, an odd last row or column dropped ('VALID')."""
    n, h, w, c = x_NxHxWxC.shape
    even = x_NxHxWxC[:, : h - h % 2, : w - w % 2]
    return even.reshape(n, h // 2, 2, w // 2, 2, c)


@jax.custom_vjp
def max_pool_2x2(x_NxHxWxC: Array) -> Array:
    """(N, H // 2, W // 2, C): the maximum of each 2x2 window, stride 2, 'VALID' padding."""
    return jnp.max(_windows(x_NxHxWxC), axis=(2, 4))


def _max_pool_fwd(x):
    pooled = max_pool_2x2(x)
    return pooled, (x, pooled)


def _max_pool_bwd(res, cotangent):
    x, pooled = res
    windows = _windows(x)
    taken = jnp.zeros(pooled.shape, bool)
    rows = []
    for dy in range(2):
        row = []
        for dx in range(2):
            # The first position (row-major) that holds the maximum takes the cotangent.
            first = (windows[:, :, dy, :, dx, :] == pooled) & ~taken
            taken = taken | first
            row.append(jnp.where(first, cotangent, 0.0))
        rows.append(jnp.stack(row, axis=3))  # (N, H/2, W/2, 2, C)
    grad = jnp.stack(rows, axis=2)  # (N, H/2, 2, W/2, 2, C)
    n, h, w, c = x.shape
    grad = grad.reshape(n, h - h % 2, w - w % 2, c)
    return (jnp.pad(grad, ((0, 0), (0, h % 2), (0, w % 2), (0, 0))),)


max_pool_2x2.defvjp(_max_pool_fwd, _max_pool_bwd)
