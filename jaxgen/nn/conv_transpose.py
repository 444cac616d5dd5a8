"""Transposed convolution with a fast kernel gradient on the XLA CPU backend.

``flax.linen.ConvTranspose`` lowers to ``lax.conv_general_dilated`` with ``lhs_dilation=strides``.
Autodiff then expresses the kernel gradient as another convolution over the *dilated* input, which
XLA's CPU backend runs pathologically slowly (seconds instead of tens of milliseconds for a typical
DCGAN layer). The kernel gradient is identical to the kernel gradient of the ordinary strided
convolution that the transposed convolution is the adjoint of, and XLA computes that one fast, so
``conv_transpose`` below is a ``jax.custom_vjp`` whose backward pass is written in terms of
ordinary strided convolutions only.

Index mapping (one spatial axis; the other is identical). ``lax.conv_transpose`` with kernel size
``k``, stride ``s`` and string padding computes, with ``(pa, pb)`` from ``_transpose_padding``::

    y[o, co] = sum_{i, t : s*i + pa == o + t} x[i, ci] * K[t, ci, co]

Hence, with ``dy`` zero outside ``[0, H_out)``::

    dx[i, ci]     = sum_t  dy[s*i + pa - t, co] * K[t, ci, co]
    dK[t, ci, co] = sum_i  dy[s*i + pa - t, co] * x[i, ci]

Substituting ``t' = k - 1 - t`` (a spatial flip) turns both into correlations that read ``dy`` at
``s*i + t' - (k - 1 - pa)``, i.e. a stride-``s`` convolution of ``dy`` padded by
``(k - 1 - pa, k - 1 - pb)``: ``dx`` is that convolution applied with the flipped kernel, and
``dK`` (flipped back) is its kernel gradient with ``x`` as the output cotangent.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
Shape2 = tuple[int, int]
Pads = tuple[tuple[int, int], tuple[int, int]]

_DN = ("NHWC", "HWIO", "NHWC")


def _transpose_padding(k: int, s: int, padding: str) -> tuple[int, int]:
    """Return the (low, high) padding of the dilated input that ``lax.conv_transpose`` uses.

    Mirrors ``jax._src.lax.convolution._conv_transpose_padding`` for 'SAME'/'VALID' (a private
    helper, so it is copied rather than imported); the tests check that the output shapes match.
    """
    if padding == "SAME":
        pad_len = k + s - 2
        pad_a = k - 1 if s > k - 1 else -(-pad_len // 2)
    elif padding == "VALID":
        pad_len = k + s - 2 + max(k - s, 0)
        pad_a = k - 1
    else:
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    return pad_a, pad_len - pad_a


def _adjoint_pads(kernel_size: Shape2, strides: Shape2, padding: str) -> Pads:
    """Padding of ``dy`` for the strided convolution that ``conv_transpose`` is the adjoint of."""
    pads = []
    for k, s in zip(kernel_size, strides, strict=True):
        pa, pb = _transpose_padding(k, s, padding)
        pads.append((k - 1 - pa, k - 1 - pb))
    return tuple(pads)  # type: ignore[return-value]


def _pad_nonnegative(dy: Array, pads: Pads) -> tuple[Array, Pads]:
    """Crop ``dy`` where a pad is negative so that the remaining convolution pads are >= 0.

    A negative high pad occurs when the stride exceeds the kernel size; those trailing rows of
    ``dy`` never meet the kernel. Cropping explicitly avoids relying on negative conv padding.
    """
    (ha, hb), (wa, wb) = pads
    h, w = dy.shape[1], dy.shape[2]
    dy = dy[:, max(-ha, 0) : h - max(-hb, 0), max(-wa, 0) : w - max(-wb, 0), :]
    return dy, ((max(ha, 0), max(hb, 0)), (max(wa, 0), max(wb, 0)))


@partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv_transpose(x: Array, kernel: Array, strides: Shape2, padding: str) -> Array:
    """Transposed 2-D convolution, identical to ``lax.conv_transpose`` with NHWC/HWIO layouts.

    Args:
      x: input of shape (N, H, W, C_in).
      kernel: kernel of shape (kh, kw, C_in, C_out) (flax ``transpose_kernel=False`` layout).
      strides: (sh, sw) fractional strides, i.e. the upsampling factors.
      padding: 'SAME' or 'VALID', interpreted as ``lax.conv_transpose`` does.

    Returns:
      Output of shape (N, H_out, W_out, C_out). Its VJP uses only ordinary strided convolutions.
    """
    return _forward(x, kernel, strides, padding)


def _forward(x: Array, kernel: Array, strides: Shape2, padding: str) -> Array:
    return lax.conv_transpose(x, kernel, strides, padding, dimension_numbers=_DN)


def _fwd(
    x: Array, kernel: Array, strides: Shape2, padding: str
) -> tuple[Array, tuple[Array, Array]]:
    return _forward(x, kernel, strides, padding), (x, kernel)


def _bwd(strides: Shape2, padding: str, res: tuple[Array, Array], dy: Array) -> tuple[Array, Array]:
    x, kernel = res
    kh, kw = kernel.shape[0], kernel.shape[1]
    pads = _adjoint_pads((kh, kw), strides, padding)
    dy_c, pads = _pad_nonnegative(dy, pads)

    # dx: the strided convolution of dy with the spatially flipped, in/out-swapped kernel.
    k_adj = jnp.swapaxes(kernel[::-1, ::-1], 2, 3)  # (kh, kw, C_out, C_in)
    dx = lax.conv_general_dilated(dy_c, k_adj, strides, pads, dimension_numbers=_DN)
    # The strided conv can produce fewer rows than x has only if dy was cropped too much, which
    # the padding algebra rules out; the assert guards the mapping against future edits.
    assert dx.shape == x.shape, (dx.shape, x.shape)

    # dK: the kernel gradient of that strided convolution with cotangent x, written out as the
    # convolution XLA would emit for it: the batch axis is contracted (it plays the role of the
    # feature axis), C_out of dy plays the batch axis, and x acts as a kernel dilated by the stride.
    # out[t', co, ci] = sum_{n, i} dy_pad[n, s*i + t', co] * x[n, i, ci]
    dk_flipped = lax.conv_general_dilated(
        dy_c,
        x,
        window_strides=(1, 1),
        padding=pads,
        rhs_dilation=strides,
        dimension_numbers=("CHWN", "IHWO", "HWNC"),
    )  # (kh, kw, C_out, C_in)
    dk = jnp.swapaxes(dk_flipped[::-1, ::-1], 2, 3)
    return dx.astype(x.dtype), dk.astype(kernel.dtype)


conv_transpose.defvjp(_fwd, _bwd)


def _pair(v: int | tuple[int, ...]) -> Shape2:
    if isinstance(v, int):
        return (v, v)
    if len(v) != 2:
        raise ValueError(f"expected 2 values, got {v!r}")
    return (int(v[0]), int(v[1]))


class ConvTranspose(nn.Module):
    """Drop-in replacement for ``flax.linen.ConvTranspose`` (2-D, NHWC) with a fast VJP.

    Same parameters (``kernel`` of shape (kh, kw, in, out), ``bias`` of shape (out,)), same
    initialisers and same output as ``flax.linen.ConvTranspose`` with ``transpose_kernel=False``;
    only the backward pass differs (see ``conv_transpose``).
    """

    features: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "SAME"
    use_bias: bool = True
    kernel_init: Callable[..., Any] = nn.linear.default_kernel_init
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, inputs: Array) -> Array:
        """Apply the transposed convolution to ``inputs`` of shape (*batch, H, W, C_in).

        Like flax, any number of leading batch axes (including none) is accepted: they are
        flattened into one for the convolution and restored afterwards.
        """
        kernel_size = _pair(self.kernel_size)
        strides = _pair(self.strides)
        if self.padding not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME' or 'VALID', got {self.padding!r}")

        batch_shape = inputs.shape[:-3]
        x = inputs.reshape((-1,) + inputs.shape[-3:])

        in_features = x.shape[-1]
        kernel = self.param(
            "kernel", self.kernel_init, kernel_size + (in_features, self.features), jnp.float32
        )
        y = conv_transpose(x, kernel, strides, self.padding)
        if self.use_bias:
            bias = self.param("bias", self.bias_init, (self.features,), jnp.float32)
            y = y + bias
        return y.reshape(batch_shape + y.shape[1:])
