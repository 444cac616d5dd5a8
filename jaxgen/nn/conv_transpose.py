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

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Array = jax.Array
Shape2 = tuple[int, int]
Pads = tuple[tuple[int, int], tuple[int, int]]

_DN = ("NHWC", "HWIO", "NHWC")
# The sub-pixel form's stride-1 convolution has s*s*C_out output channels; it paid off into 64
# channels (2.1x XLA's transposed convolution) but not into one (0.93x; benchmarks/
# conv_transpose_grad.py with JAXGEN_ONEDNN=0), so narrower outputs keep XLA's op.
SUBPIXEL_MIN_CHANNELS = 16


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
    """The forward pass: on the CPU, strides above 1 into at least `SUBPIXEL_MIN_CHANNELS`
    channels take the sub-pixel form (`subpixel_forward`, faster there); elsewhere, and for
    stride 1 or narrower outputs, XLA's own transposed convolution. The choice is made per
    platform at lowering (`lax.platform_dependent`), so a GPU or TPU program keeps the native
    op."""
    if strides == (1, 1) or kernel.shape[3] < SUBPIXEL_MIN_CHANNELS:
        return _native_forward(x, kernel, strides, padding)
    return lax.platform_dependent(
        x,
        kernel,
        cpu=partial(subpixel_forward, strides=strides, padding=padding),
        default=partial(_native_forward, strides=strides, padding=padding),
    )


def _native_forward(x: Array, kernel: Array, strides: Shape2, padding: str) -> Array:
    return lax.conv_transpose(x, kernel, strides, padding, dimension_numbers=_DN)


def _phase_taps(n: int, k: int, s: int, padding: str) -> tuple[np.ndarray, int, int, int]:
    """One spatial axis of the sub-pixel form: (taps, x's low pad, phase length Q, output
    length). With (pa, pb) from `_transpose_padding`, output o = s*q + p (phase p) is

        y[s*q + p] = sum_m x[q + c_p + m] * K[s*m + r_p],   r_p = (pa - p) mod s,
                                                             c_p = (p + r_p - pa) / s,

    (the module docstring's mapping, solved for the kernel taps each phase meets). Every phase
    reads x through one window of J positions starting at min_p c_p: taps[u, p] is the kernel
    index that phase p applies at window position u, or k (a zero row) where it applies none."""
    pa, pb = _transpose_padding(k, s, padding)
    out = (n - 1) * s + 1 + pa + pb - k + 1
    offsets, counts = [], []
    for p in range(s):
        r = (pa - p) % s
        offsets.append((p + r - pa) // s)
        counts.append(len(range(r, k, s)))
    live = [p for p in range(s) if counts[p]]
    first = min(offsets[p] for p in live)
    window = max(offsets[p] + counts[p] for p in live) - first
    taps = np.full((window, s), k, dtype=np.int32)
    for p in live:
        r = (pa - p) % s
        for m in range(counts[p]):
            taps[offsets[p] - first + m, p] = s * m + r
    return taps, -first, -(-out // s), out


def subpixel_forward(x: Array, kernel: Array, strides: Shape2, padding: str) -> Array:
    """`lax.conv_transpose` as one stride-1 convolution to s_h * s_w * C_out channels (one
    group of C_out per output phase) followed by depth-to-space: no zeros are inserted into the
    input, so the convolution reads H x W positions instead of (s H) x (s W). The same products
    are summed, in another order: outputs agree with `lax.conv_transpose` to float rounding
    (tests/nn/test_conv_transpose.py)."""
    n, h, w, _ = x.shape
    kh, kw, c_in, c_out = kernel.shape
    (sh, sw) = strides
    taps_h, low_h, q_h, out_h = _phase_taps(h, kh, sh, padding)
    taps_w, low_w, q_w, out_w = _phase_taps(w, kw, sw, padding)
    # The kernel with a zero tap appended on each spatial axis, gathered into the phase kernel:
    # (J_h, J_w, C_in, s_h, s_w, C_out).
    padded = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))
    gathered = padded[taps_h[:, None, :, None], taps_w[None, :, None, :]]  # J_h J_w s_h s_w I O
    phase_kernel = gathered.transpose(0, 1, 4, 2, 3, 5).reshape(
        taps_h.shape[0], taps_w.shape[0], c_in, sh * sw * c_out
    )
    # Pads (negative ones crop) that give exactly Q outputs per axis from a VALID convolution.
    pads = [
        (low, q - 1 + taps.shape[0] - size - low)
        for low, q, taps, size in ((low_h, q_h, taps_h, h), (low_w, q_w, taps_w, w))
    ]
    x = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0)])
    y = lax.conv_general_dilated(x, phase_kernel, (1, 1), "VALID", dimension_numbers=_DN)
    y = y.reshape(n, q_h, q_w, sh, sw, c_out).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(n, q_h * sh, q_w * sw, c_out)[:, :out_h, :out_w, :]


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
