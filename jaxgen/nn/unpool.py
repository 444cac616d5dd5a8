"""Unpooling / upsampling layers for NHWC feature maps.

All functions are pure ``jax.numpy`` code without Python loops over pixels, so they jit, vmap and
differentiate like any other JAX function.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def upsample_nearest(x: Array, factor: int = 2) -> Array:
    """Nearest-neighbour upsampling: every pixel of (B, H, W, C) becomes a factor x factor block.

    Returns an array of shape (B, H*factor, W*factor, C).
    """
    return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def upsample_bilinear(x: Array, factor: int = 2) -> Array:
    """Bilinear upsampling of (B, H, W, C) to (B, H*factor, W*factor, C) via ``jax.image.resize``.

    Uses half-pixel centres (``jax.image.resize`` semantics, like ``align_corners=False``).
    """
    b, h, w, c = x.shape
    return jax.image.resize(x, (b, h * factor, w * factor, c), method="bilinear")


def bed_of_nails(x: Array, factor: int = 2) -> Array:
    """Bed-of-nails unpooling: each value goes to the top-left of its factor x factor block.

    Returns an array of shape (B, H*factor, W*factor, C) that is zero everywhere else.
    """
    b, h, w, c = x.shape
    # Zero-padding a (B, H, 1, W, 1, C) view to (B, H, f, W, f, C) and flattening needs no
    # scatter, and its gradient is a plain slice.
    out = jnp.pad(
        x[:, :, None, :, None, :],
        ((0, 0), (0, 0), (0, factor - 1), (0, 0), (0, factor - 1), (0, 0)),
    )
    return out.reshape(b, h * factor, w * factor, c)


def _windows(x: Array, window: int) -> Array:
    """View (B, H, W, C) as (B, H/w, W/w, C, w*w); the last axis runs over a window row-major."""
    b, h, w, c = x.shape
    if h % window or w % window:
        raise ValueError(f"H={h} and W={w} must be divisible by window={window}")
    blocks = x.reshape(b, h // window, window, w // window, window, c)
    # (B, Hp, dy, Wp, dx, C) -> (B, Hp, Wp, C, dy, dx): window index = dy * window + dx.
    blocks = blocks.transpose(0, 1, 3, 5, 2, 4)
    return blocks.reshape(b, h // window, w // window, c, window * window)


def max_pool_with_switches(x: Array, window: int = 2) -> tuple[Array, Array]:
    """Non-overlapping max pooling (stride = window) that also returns the argmax "switches".

    Args:
      x: (B, H, W, C) with H and W divisible by ``window``.
      window: pooling window size and stride.

    Returns:
      ``(pooled, switches)``, both (B, H/window, W/window, C). ``switches`` (int32) holds the
      row-major index ``dy * window + dx`` in 0..window*window-1 of the maximum inside each
      window; on ties the first such index wins (``jnp.argmax`` semantics).
    """
    blocks = _windows(x, window)
    switches = jnp.argmax(blocks, axis=-1).astype(jnp.int32)
    # Gather the max through the switches rather than calling max() so that the gradient flows
    # to exactly one element per window, the one the switch names.
    pooled = jnp.take_along_axis(blocks, switches[..., None], axis=-1)[..., 0]
    return pooled, switches


def max_unpool(x: Array, switches: Array, window: int = 2) -> Array:
    """Inverse layout of ``max_pool_with_switches``: put each value where its switch points.

    Args:
      x: (B, Hp, Wp, C) values, e.g. pooled activations.
      switches: (B, Hp, Wp, C) integer window indices from ``max_pool_with_switches``.
      window: window size used for pooling.

    Returns:
      (B, Hp*window, Wp*window, C) array holding ``x`` at the switch positions and zeros
      elsewhere. It is linear in ``x`` (the gradient w.r.t. ``x`` gathers the cotangent at the
      switch positions); ``switches`` is treated as a constant.
    """
    b, hp, wp, c = x.shape
    # A one-hot mask multiply instead of a scatter: same result, vectorises well, and the
    # transpose (gradient) is the matching mask multiply plus a sum.
    onehot = jax.nn.one_hot(switches, window * window, dtype=x.dtype)  # (B, Hp, Wp, C, w*w)
    blocks = onehot * x[..., None]
    blocks = blocks.reshape(b, hp, wp, c, window, window).transpose(0, 1, 4, 2, 5, 3)
    return blocks.reshape(b, hp * window, wp * window, c)
