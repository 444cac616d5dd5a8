"""oneDNN's 2-D convolutions, and an LSTM on oneDNN's inner products, inside XLA:CPU, through
JAX's FFI.

XLA's CPU convolutions are markedly slower than oneDNN's (PyTorch's CPU backend) on the layers
jaxgen trains, forward and backward, and an LSTM's recurrence as an XLA scan pays for a dozen
small operations and thread hand-offs per step. ``native/onednn`` (built by ``make native`` into
``jaxgen/nn/_native/``) wraps oneDNN's forward, backward-data and backward-weights convolution
primitives (``conv.cc``), and runs an LSTM's whole recurrence, forward and backward, in one call
each (``lstm.cc``: a step's product on oneDNN's inner product, the cell's arithmetic fused), as
XLA FFI handlers; this module registers them for the CPU platform and builds:

* ``conv2d``: an NHWC/HWIO convolution (strides, explicit/'SAME'/'VALID' padding, kernel
  dilation) with a ``jax.custom_vjp`` whose backward pass is oneDNN's backward primitives;
* ``conv_general_dilated_compatible``: ``lax.conv_general_dilated``'s signature, for
  ``flax.linen.Conv(..., conv_general_dilated=...)``; it takes the oneDNN path for what that
  supports on CPU and is ``lax.conv_general_dilated`` everywhere else;
* ``conv_transpose``: ``jaxgen.nn.conv_transpose`` (i.e. ``lax.conv_transpose`` with NHWC/HWIO,
  ``transpose_kernel=False``) on oneDNN;
* ``lstm_forward`` and ``lstm_backward``: the FFI calls of the LSTM over a sequence, from which
  ``jaxgen.nn.lstm`` builds its CPU path;
* ``run_after``: an array that XLA:CPU's executor makes wait for others (``order.cc``), to keep
  independent branches of a program from running beside oneDNN's primitives.

The FFI targets exist only for CPU, so every oneDNN call is staged with
``lax.platform_dependent(cpu=oneDNN, default=XLA)`` by the compatible wrappers: a computation
lowered for a GPU or TPU keeps XLA's own convolution. ``available()`` says whether the library is
built and loaded (``unavailable_reason()`` says why not); without it the wrappers are simply XLA.
``JAXGEN_ONEDNN=0`` in the environment turns the oneDNN path off.

Speed (benchmarks/onednn_conv.py: forward + both gradients, batch 256, 2 cores shared with
another job, so ratios rather than times): 2.1-2.5x XLA's on the DCGAN's wide 5x5 layers (plain
and transposed, 64-256 channels) and 1.4-1.5x on those to or from one channel; PyTorch eager is
1.2-1.7x XLA's on the wide ones and slower than XLA on the others.

Threads: the oneDNN that ``make native`` installs (the onednn-cpu-gomp wheel, oneDNN 3.2) runs
on GNU OpenMP with one thread per core; the XLA thread that executes the custom call becomes the
master of that OpenMP team, and the library runs one primitive at a time (see common.h). The
LSTM's calls instead split the batch among threads of the library's own, oneDNN single-threaded
on each (lstm.cc says why).
The newer ``onednn`` wheel is a SYCL build: its CPU engine exists only with an OpenCL CPU
runtime found through OCL_ICD_FILENAMES, and it pulls in 4 GB of SYCL/OpenCL runtimes, for no
measurable gain here.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgen.nn.conv_transpose import _adjoint_pads, _pad_nonnegative

Array = jax.Array
Pair = tuple[int, int]
Pads = tuple[Pair, Pair]

LIBRARY = Path(__file__).parent / "_native" / "libjaxgen_onednn.so"
BUILD_HINT = "make native"
_DN = ("NHWC", "HWIO", "NHWC")
# FFI target name -> exported handler symbol (the same string).
_TARGETS = (
    "jaxgen_onednn_conv_fwd",
    "jaxgen_onednn_conv_bwd_data",
    "jaxgen_onednn_conv_bwd_weights",
    "jaxgen_onednn_lstm_fwd",
    "jaxgen_onednn_lstm_bwd",
    "jaxgen_run_after",
)
# Backward-data into few channels (the gradient of a network's image input, a transposed
# convolution to an image). The library runs it into at most `planar_max_channels()` (4)
# channels on planar NCHW/OIHW layouts, where oneDNN's im2col-GEMM is 1.3-3.6x faster than
# XLA's convolution (native/onednn/conv.cc, benchmarks/input_gradients.py). On its blocked layouts
# oneDNN pads fewer channels than its AVX-512 vector block (16) to the block and runs 2-5x
# slower than XLA there, so backward-data into 5 to 15 channels is XLA's.
MIN_BLOCKED_BACKWARD_DATA_CHANNELS = 16

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_planar_max_channels = 0
_reason: str | None = None
_loaded = False


def _load() -> None:
    """Load the library and register its FFI targets, once per process."""
    global _lib, _planar_max_channels, _reason, _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True
        if os.environ.get("JAXGEN_ONEDNN", "1") == "0":
            _reason = "oneDNN convolutions disabled by JAXGEN_ONEDNN=0"
            return
        if not LIBRARY.exists():
            _reason = f"oneDNN convolutions not built ({BUILD_HINT}); using XLA's"
            return
        try:
            # The library finds libdnnl and its runtimes through its RPATH (the venv's lib/).
            lib = ctypes.CDLL(str(LIBRARY))
        except OSError as e:
            _reason = f"oneDNN convolutions not loadable ({e}; rebuild: {BUILD_HINT}); using XLA's"
            return
        try:
            lib.jaxgen_onednn_num_plans.restype = ctypes.c_int64
            lib.jaxgen_onednn_get_layout.restype = ctypes.c_int
            lib.jaxgen_onednn_set_layout.argtypes = [ctypes.c_int]
            lib.jaxgen_onednn_runtime.restype = ctypes.c_char_p
            lib.jaxgen_onednn_planar_max_channels.restype = ctypes.c_int64
            lib.jaxgen_onednn_lstm_num_plans.restype = ctypes.c_int64
            handlers = {name: getattr(lib, name) for name in _TARGETS}
        except AttributeError as e:  # a library built from older sources
            _reason = f"oneDNN convolutions out of date ({e}; rebuild: {BUILD_HINT}); using XLA's"
            return
        for name, handler in handlers.items():
            jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(handler), platform="cpu")
        _planar_max_channels = int(lib.jaxgen_onednn_planar_max_channels())
        _lib = lib


def available() -> bool:
    """Whether the oneDNN library is built, loaded and its FFI targets registered for CPU."""
    _load()
    return _lib is not None


def unavailable_reason() -> str | None:
    """One line saying why ``available()`` is False (None when it is True)."""
    _load()
    return _reason


def _library() -> ctypes.CDLL:
    if not available():
        raise RuntimeError(unavailable_reason())
    assert _lib is not None
    return _lib


def runtime() -> str:
    """oneDNN's version, CPU runtime and threading runtime, e.g. '3.2.0 OpenMP/OpenMP'."""
    return _library().jaxgen_onednn_runtime().decode()


def planar_max_channels() -> int:
    """Backward-data into at most this many channels runs on planar layouts (conv.cc)."""
    _library()
    return _planar_max_channels


def num_plans() -> int:
    """How many convolution primitives (one per geometry and kind) the library has built and
    cached."""
    return int(_library().jaxgen_onednn_num_plans())


def num_lstm_plans() -> int:
    """How many LSTM plans (one per batch size and width) the library has built and cached."""
    return int(_library().jaxgen_onednn_lstm_num_plans())


# Which tensors oneDNN may keep in its own (blocked) layouts, reordering them to and from the
# caller's NHWC/HWIO buffers on every call: the library's Layout bits.
LAYOUTS = {"plain": 0, "any_activations": 1, "any_weights": 2, "any": 3}


def set_layout(layout: str) -> None:
    """Layouts of the calls from now on (read by the library at run time, so no recompilation;
    for benchmarks and tests). 'any_weights' (the default): the kernel in oneDNN's preferred
    (blocked) layout, reordered from HWIO on every call, the activations read and written in
    place (NHWC); 'any': every tensor blocked and reordered; 'plain': none; 'any_activations':
    only the activations. See conv.cc for the measurements behind the default."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    _library().jaxgen_onednn_set_layout(LAYOUTS[layout])


def get_layout() -> str:
    code = _library().jaxgen_onednn_get_layout()
    return next(name for name, c in LAYOUTS.items() if c == code)


# ---- geometry ---------------------------------------------------------------------------------


def as_pair(v: int | Sequence[int] | None, name: str) -> Pair:
    """`v` as (h, w): an int for both, None for (1, 1), or two values (else ValueError)."""
    if v is None:
        return (1, 1)
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(i) for i in v)
    if len(v) != 2:
        raise ValueError(f"{name} must have 2 values, got {v!r}")
    return v  # type: ignore[return-value]


def resolve_padding(
    in_hw: Sequence[int],
    kernel_hw: Sequence[int],
    strides: Pair,
    padding: str | Sequence[tuple[int, int]],
    rhs_dilation: Pair = (1, 1),
) -> Pads:
    """Explicit ((low, high), (low, high)) padding, resolving 'SAME'/'VALID' as
    ``lax.conv_general_dilated`` does (on the dilated kernel's extent)."""
    if isinstance(padding, str):
        extent = [(k - 1) * d + 1 for k, d in zip(kernel_hw, rhs_dilation, strict=True)]
        pads = lax.padtype_to_pads(tuple(in_hw), extent, strides, padding)
    else:
        pads = list(padding)
    if len(pads) != 2:
        raise ValueError(f"padding must have 2 (low, high) pairs, got {padding!r}")
    return tuple((int(lo), int(hi)) for lo, hi in pads)  # type: ignore[return-value]


def _out_size(size: int, k: int, s: int, d: int, lo: int, hi: int) -> int:
    return max((size + lo + hi - ((k - 1) * d + 1)) // s + 1, 0)


def _ffi(target: str, shape: Sequence[int], strides: Pair, pads: Pads, dilation: Pair):
    """The FFI call of `target` with result `shape`; call it with the two input arrays."""
    call = jax.ffi.ffi_call(
        target,
        jax.ShapeDtypeStruct(tuple(shape), jnp.float32),
        # Not used by jaxgen; sequential is correct for any batching.
        vmap_method="sequential",
    )
    attrs = {
        "strides": np.asarray(strides, np.int64),
        "padding_low": np.asarray([p[0] for p in pads], np.int64),
        "padding_high": np.asarray([p[1] for p in pads], np.int64),
        "rhs_dilation": np.asarray(dilation, np.int64),
    }
    return lambda a, b: call(a, b, **attrs)


# ---- convolution ------------------------------------------------------------------------------


def _check(x: Array, w: Array, pads: Pads) -> None:
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"need NHWC input and HWIO kernel, got shapes {x.shape}, {w.shape}")
    if x.dtype != jnp.float32 or w.dtype != jnp.float32:
        raise TypeError(f"oneDNN convolutions are float32 only, got {x.dtype}, {w.dtype}")
    if x.shape[3] != w.shape[2]:
        raise ValueError(f"input has {x.shape[3]} channels, the kernel expects {w.shape[2]}")
    if any(p < 0 for pair in pads for p in pair):
        raise ValueError(f"negative padding is not supported, got {pads}")


def conv2d(
    x: Array,
    w: Array,
    strides: int | Sequence[int] = (1, 1),
    padding: str | Sequence[tuple[int, int]] = "VALID",
    rhs_dilation: int | Sequence[int] = (1, 1),
) -> Array:
    """oneDNN convolution, equal to ``lax.conv_general_dilated(x, w, strides, padding,
    rhs_dilation=rhs_dilation, dimension_numbers=('NHWC', 'HWIO', 'NHWC'))`` in float32.

    Runs on CPU only (it is the FFI call itself; see ``conv_general_dilated_compatible`` for
    the platform-dispatching form). Padding: 'SAME', 'VALID' or two non-negative (low, high)
    pairs. Differentiable: the VJP is oneDNN's backward-data and backward-weights primitives.
    """
    strides, rhs_dilation = as_pair(strides, "strides"), as_pair(rhs_dilation, "rhs_dilation")
    pads = resolve_padding(x.shape[1:3], w.shape[:2], strides, padding, rhs_dilation)
    _check(x, w, pads)
    _library()
    return _conv(x, w, strides, pads, rhs_dilation)


def _conv_forward(x: Array, w: Array, strides: Pair, pads: Pads, dilation: Pair) -> Array:
    oh, ow = (
        _out_size(x.shape[1 + i], w.shape[i], strides[i], dilation[i], *pads[i]) for i in range(2)
    )
    shape = (x.shape[0], oh, ow, w.shape[3])
    if 0 in shape or 0 in x.shape:  # oneDNN has nothing to do; keep empty shapes out of it
        return jnp.zeros(shape, jnp.float32)
    return _ffi("jaxgen_onednn_conv_fwd", shape, strides, pads, dilation)(x, w)


def _xla_conv(x: Array, w: Array, strides: Pair, pads: Pads, dilation: Pair) -> Array:
    return lax.conv_general_dilated(
        x, w, strides, pads, rhs_dilation=dilation, dimension_numbers=_DN
    )


def _xla_transpose(conv, shape, dy: Array) -> Array:
    """The gradient that XLA's transpose of the linear map `conv` (a convolution of an array of
    `shape`) gives for the cotangent `dy`: the fallback where oneDNN's primitive is not used."""
    (grad,) = jax.linear_transpose(conv, jax.ShapeDtypeStruct(shape, jnp.float32))(dy)
    return grad


def _conv_backward_data(dy: Array, w: Array, x_shape, strides, pads, dilation) -> Array:
    if 0 in dy.shape or 0 in x_shape:
        return jnp.zeros(x_shape, jnp.float32)
    if _planar_max_channels < x_shape[3] < MIN_BLOCKED_BACKWARD_DATA_CHANNELS:
        return _xla_transpose(lambda x: _xla_conv(x, w, strides, pads, dilation), x_shape, dy)
    return _ffi("jaxgen_onednn_conv_bwd_data", x_shape, strides, pads, dilation)(dy, w)


def _conv_backward_weights(x: Array, dy: Array, w_shape, strides, pads, dilation) -> Array:
    if 0 in dy.shape or 0 in x.shape:
        return jnp.zeros(w_shape, jnp.float32)
    if w_shape[:2] == (1, 1) and strides != (1, 1):
        # oneDNN 3.2's backward-weights of a strided 1x1 kernel is wrong on AVX2 CPUs (every
        # element, on an AMD EPYC of cpu family 25, model 1; right on the AVX-512 ones:
        # tests/nn/test_onednn_conv.py), so XLA's transpose of the convolution computes it.
        return _xla_transpose(lambda w: _xla_conv(x, w, strides, pads, dilation), w_shape, dy)
    return _ffi("jaxgen_onednn_conv_bwd_weights", w_shape, strides, pads, dilation)(x, dy)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _conv(x: Array, w: Array, strides: Pair, pads: Pads, dilation: Pair) -> Array:
    return _conv_forward(x, w, strides, pads, dilation)


def _conv_fwd(x, w, strides, pads, dilation):
    return _conv_forward(x, w, strides, pads, dilation), (x, w)


def _conv_bwd(strides, pads, dilation, res, dy):
    x, w = res
    dx = _conv_backward_data(dy, w, x.shape, strides, pads, dilation)
    dw = _conv_backward_weights(x, dy, w.shape, strides, pads, dilation)
    return dx, dw


_conv.defvjp(_conv_fwd, _conv_bwd)


def _is_nhwc_hwio(lhs: Array, rhs: Array, dimension_numbers) -> bool:
    try:
        dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    except (TypeError, ValueError):
        return False
    return dn == lax.conv_dimension_numbers(lhs.shape, rhs.shape, _DN)


def _onednn_eligible(
    lhs, rhs, padding, lhs_dilation, dimension_numbers, groups, preferred_element_type
) -> bool:
    """Whether the oneDNN path computes exactly what ``lax.conv_general_dilated`` would."""
    if lhs.ndim != 4 or rhs.ndim != 4:
        return False
    if lhs.dtype != jnp.float32 or rhs.dtype != jnp.float32:
        return False
    if preferred_element_type not in (None, jnp.float32, np.float32):
        return False
    if groups != (1, 1) or as_pair(lhs_dilation, "lhs_dilation") != (1, 1):
        return False
    if not isinstance(padding, str):
        if any(p < 0 for pair in padding for p in pair):
            return False
    elif padding not in ("SAME", "VALID"):  # SAME_LOWER: rare, leave it to XLA
        return False
    return _is_nhwc_hwio(lhs, rhs, dimension_numbers) and available()


def conv_general_dilated_compatible(
    lhs: Array,
    rhs: Array,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers=None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    precision=None,
    preferred_element_type=None,
) -> Array:
    """``lax.conv_general_dilated`` that runs oneDNN on CPU where it can.

    For ``flax.linen.Conv(..., conv_general_dilated=conv_general_dilated_compatible)``. The
    oneDNN path is taken for 4-D float32 NHWC/HWIO convolutions without input dilation or
    grouping (any strides, kernel dilation, 'SAME'/'VALID'/non-negative explicit padding), when
    the library is available, and only in computations lowered for CPU; everything else is
    ``lax.conv_general_dilated`` with the same arguments. ``precision`` does not change f32
    convolutions on CPU, so it is ignored on the oneDNN path.
    """

    def xla(lhs, rhs):
        return lax.conv_general_dilated(
            lhs,
            rhs,
            window_strides,
            padding,
            lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation,
            dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count,
            batch_group_count=batch_group_count,
            precision=precision,
            preferred_element_type=preferred_element_type,
        )

    groups = (feature_group_count, batch_group_count)
    if not _onednn_eligible(
        lhs, rhs, padding, lhs_dilation, dimension_numbers, groups, preferred_element_type
    ):
        return xla(lhs, rhs)
    strides = as_pair(window_strides, "window_strides")
    dilation = as_pair(rhs_dilation, "rhs_dilation")
    pads = resolve_padding(lhs.shape[1:3], rhs.shape[:2], strides, padding, dilation)

    def onednn(lhs, rhs):
        return _conv(lhs, rhs, strides, pads, dilation)

    return lax.platform_dependent(lhs, rhs, cpu=onednn, default=xla)


# ---- transposed convolution -------------------------------------------------------------------
#
# ``lax.conv_transpose(x, K, s, padding)`` is the adjoint of the strided convolution F that
# ``jaxgen.nn.conv_transpose`` differentiates with: F(u) = conv(u, K_adj, s, pads_adj), with
# K_adj = K flipped spatially, in/out channels swapped, and pads_adj from ``_adjoint_pads``
# (after cropping, see ``_pad_nonnegative``). So its forward pass is F's backward-data, its
# input gradient F itself, its kernel gradient F's backward-weights (flipped and swapped back).
# (oneDNN's deconvolution primitive, which computes the same forward pass from K flipped only,
# measured no faster than backward-data; it is backward-data underneath.)


def _flip_swap(k: Array) -> Array:
    return jnp.swapaxes(k[::-1, ::-1], 2, 3)


def _transpose_geometry(x_shape, k_shape, strides: Pair, padding: str):
    """(cropped output shape, crop ((lo, hi), (lo, hi)), F's non-negative pads)."""
    n, h, w, _ = x_shape
    kh, kw, _, c_out = k_shape
    pads_adj = _adjoint_pads((kh, kw), strides, padding)
    # lax.conv_transpose's output size: the stride-dilated input, padded by (k - 1 - pad_adj)
    # per side, correlated with the k-tap kernel.
    out_hw = [
        (size - 1) * s + 1 + (k - 1 - lo) + (k - 1 - hi) - k + 1
        for size, k, s, (lo, hi) in zip((h, w), (kh, kw), strides, pads_adj, strict=True)
    ]
    crop = tuple((max(-lo, 0), max(-hi, 0)) for lo, hi in pads_adj)
    pads = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads_adj)
    cropped = (n, out_hw[0] - sum(crop[0]), out_hw[1] - sum(crop[1]), c_out)
    return cropped, crop, pads


def _transpose_forward(x: Array, kernel: Array, strides: Pair, padding: str) -> Array:
    shape, crop, pads = _transpose_geometry(x.shape, kernel.shape, strides, padding)
    y = _conv_backward_data(x, _flip_swap(kernel), shape, strides, pads, (1, 1))
    # Output rows that the cropped input of F never reads are zero (the adjoint of a crop).
    if any(c for pair in crop for c in pair):
        y = jnp.pad(y, ((0, 0), *crop, (0, 0)))
    return y


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_transpose(x: Array, kernel: Array, strides: Pair, padding: str) -> Array:
    return _transpose_forward(x, kernel, strides, padding)


def _transpose_fwd(x, kernel, strides, padding):
    return _transpose_forward(x, kernel, strides, padding), (x, kernel)


def _transpose_bwd(strides, padding, res, dy):
    x, kernel = res
    pads_adj = _adjoint_pads(kernel.shape[:2], strides, padding)
    dy_c, pads = _pad_nonnegative(dy, pads_adj)
    k_adj = _flip_swap(kernel)
    dx = _conv_forward(dy_c, k_adj, strides, pads, (1, 1))
    # Guards the index algebra: F maps the (cropped) output back onto x's shape exactly.
    assert dx.shape == x.shape, (dx.shape, x.shape)
    dk_adj = _conv_backward_weights(dy_c, x, k_adj.shape, strides, pads, (1, 1))
    return dx, _flip_swap(dk_adj)


_conv_transpose.defvjp(_transpose_fwd, _transpose_bwd)


def conv_transpose(x: Array, kernel: Array, strides: int | Sequence[int], padding: str) -> Array:
    """oneDNN transposed convolution, equal to ``jaxgen.nn.conv_transpose`` (and so to
    ``lax.conv_transpose`` with NHWC/HWIO, ``transpose_kernel=False``), 'SAME' or 'VALID'.

    On CPU with the library available it runs on oneDNN, forward and backward (the forward pass
    to 5 to 15 channels on XLA, see ``MIN_BLOCKED_BACKWARD_DATA_CHANNELS``); otherwise (and in
    computations lowered for other platforms) it is ``jaxgen.nn.conv_transpose``.
    """
    from jaxgen.nn.conv_transpose import conv_transpose as xla_conv_transpose

    strides = as_pair(strides, "strides")
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    if x.ndim != 4 or kernel.ndim != 4 or x.shape[3] != kernel.shape[2]:
        raise ValueError(f"need NHWC input and HWIO kernel, got {x.shape}, {kernel.shape}")
    if x.dtype != jnp.float32 or kernel.dtype != jnp.float32 or not available():
        return xla_conv_transpose(x, kernel, strides, padding)
    return lax.platform_dependent(
        x,
        kernel,
        cpu=lambda x, k: _conv_transpose(x, k, strides, padding),
        default=lambda x, k: xla_conv_transpose(x, k, strides, padding),
    )


# ---- order ------------------------------------------------------------------------------------


def run_after(x: Array, *deps) -> Array:
    """``x``, which XLA:CPU's executor computes on only once every array in ``deps`` (pytrees)
    exists: the same values, with a data dependency that the program's dataflow lacks.

    XLA:CPU runs two operations that do not depend on each other concurrently. A oneDNN
    primitive already spreads over every core with its own OpenMP team, so when the other branch
    is XLA's fusions the two share the cores and both run slower: in the DCGAN's step the
    generator's forward pass for its own update (which needs only the generator) ran beside the
    discriminator's update, and ordering it after that update took the step from 1036 to 972
    ms (families/gan/adversarial.py, benchmarks/step_order.py). Where no oneDNN primitive runs,
    the concurrency is XLA's own and worth keeping (``calls_library`` tells).
    ``lax.optimization_barrier`` does not do this: XLA drops it before the executor builds its
    graph of dependencies.

    On CPU with the library available it is the library's no-op custom call, its result aliased
    to ``x``; elsewhere, and without the library, it is ``x``. Differentiable in ``x`` (the
    identity); ``deps`` get no gradient. Under ``vmap`` every operand is broadcast to the batch.
    """
    leaves = jax.tree.leaves(deps)
    if not leaves or not available():
        return x
    return lax.platform_dependent(
        x, *leaves, cpu=lambda x, *leaves: _run_after(x, *leaves), default=lambda x, *_: x
    )


def calls_library(fn, *args) -> bool:
    """Whether ``fn(*args)`` calls the library's convolutions or LSTM on the CPU: traced, not
    run (``args``: arrays, tracers or ``jax.ShapeDtypeStruct``s, in pytrees). False without the
    library. For code that orders its branches only where the library's primitives run."""
    if not available():
        return False
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), args)
    return "jaxgen_onednn" in str(jax.make_jaxpr(fn)(*abstract))


@jax.custom_jvp
def _run_after(x: Array, *leaves: Array) -> Array:
    call = jax.ffi.ffi_call(
        "jaxgen_run_after",
        jax.ShapeDtypeStruct(x.shape, x.dtype),
        input_output_aliases={0: 0},
        vmap_method="broadcast_all",
    )
    return call(x, *leaves)


@_run_after.defjvp
def _run_after_jvp(primals, tangents):
    return _run_after(*primals), tangents[0]


# ---- LSTM -------------------------------------------------------------------------------------
#
# An LSTM layer over a sequence (native/onednn/lstm.cc) on the fused weights of
# ``jaxgen.nn.lstm``: W_i (E, G) and W_h (H, G) (G = 4H; gates i, f, g, o), b (G,), batch-major
# (B, T, ...) sequences, the carry (c, h) as Flax's. Any leading dimensions (vmap's) are
# independent problems, looped over by the library.


def _lstm_call(target: str, results, *args):
    call = jax.ffi.ffi_call(
        target,
        [jax.ShapeDtypeStruct(shape, jnp.float32) for shape in results],
        # The library loops over leading dimensions itself (models vmapped over seeds and cells
        # share one call).
        vmap_method="broadcast_all",
    )
    return call(*args)


def lstm_forward(x_BxTxE: Array, w_i: Array, w_h: Array, b: Array, carry) -> tuple[Array, ...]:
    """(h_BxTxH, c_TxBxH, tanh_c_TxBxH, gates_TxBxG, xh_TxBxK): every step's h; for the backward
    pass, every step's c, tanh(c), gate activations (i, f, g, o) and input row [x_t, h_{t-1}],
    time-major; from the inputs, W_i (E, G), W_h (H, G), b and `carry` = (c0, h0). The FFI call
    itself: CPU only, float32, nonempty shapes."""
    _library()
    c0, h0 = carry
    *lead, batch, steps, _ = x_BxTxE.shape
    hidden, gates = w_h.shape[-2], w_h.shape[-1]
    results = [
        (*lead, batch, steps, hidden),
        (*lead, steps, batch, hidden),
        (*lead, steps, batch, hidden),
        (*lead, steps, batch, gates),
        (*lead, steps, batch, w_i.shape[-2] + hidden),
    ]
    return _lstm_call("jaxgen_onednn_lstm_fwd", results, x_BxTxE, w_i, w_h, b, c0, h0)


def lstm_backward(gates_TxBxG, c_TxBxH, tanh_c_TxBxH, c0, w_i, w_h, dh_BxTxH, dcarry):
    """(dz_TxBxG, dx_BxTxE, db, dc0, dh0): every step's gradient of the gates' pre-activations
    (time-major), of the inputs, of the bias (dz summed), and of the initial carry, from
    ``lstm_forward``'s gates, cells and their tanh, c0, W_i, W_h, and the cotangents of every
    step's h and of the final carry `dcarry` = (dc_T, dh_T)."""
    dc_last, dh_last = dcarry
    *lead, steps, batch, _ = gates_TxBxG.shape
    inputs = w_i.shape[-2]
    results = [
        gates_TxBxG.shape,
        (*lead, batch, steps, inputs),
        (*lead, w_h.shape[-1]),
        c0.shape,
        c0.shape,
    ]
    return _lstm_call(
        "jaxgen_onednn_lstm_bwd",
        results,
        gates_TxBxG,
        c_TxBxH,
        tanh_c_TxBxH,
        c0,
        w_i,
        w_h,
        dh_BxTxH,
        dc_last,
        dh_last,
    )
