"""jaxgen.nn.onednn's convolutions must equal XLA's: values and both gradients.

Skipped (with the reason) only when the library is not built (`make native`) or is turned off
by JAXGEN_ONEDNN=0; a library that is built but does not load fails the tests instead.
"""

import itertools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxgen.nn import conv_transpose as jaxgen_conv_transpose
from jaxgen.nn import onednn

DN = ("NHWC", "HWIO", "NHWC")
RTOL = 1e-5  # elementwise, plus ATOL_SCALE times the largest magnitude of the reference
ATOL_SCALE = 1e-5


def _not_built_reason() -> str | None:
    if onednn.available():
        return None
    if not onednn.LIBRARY.exists() or os.environ.get("JAXGEN_ONEDNN") == "0":
        return onednn.unavailable_reason()
    return None  # built but not loadable: run, and fail on it (test_built_library_loads)


requires_onednn = pytest.mark.skipif(
    _not_built_reason() is not None, reason=str(_not_built_reason())
)


def _assert_close(actual, expected):
    actual, expected = np.asarray(actual, np.float32), np.asarray(expected, np.float32)
    assert actual.shape == expected.shape
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL_SCALE * max(scale, 1e-30))


def _check_vjp(ours, ref, *args):
    """ours(*args) against ref(*args), and both VJPs for a random cotangent."""
    y_ref, vjp_ref = jax.vjp(ref, *args)
    y, vjp = jax.vjp(ours, *args)
    _assert_close(y, y_ref)
    r = jax.random.normal(jax.random.key(7), y_ref.shape, y_ref.dtype)
    grads, grads_ref = vjp(r), vjp_ref(r)
    assert jax.tree.structure(grads) == jax.tree.structure(grads_ref)
    for g, g_ref in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_ref), strict=True):
        _assert_close(g, g_ref)


def _extent(k, d):
    return (k - 1) * d + 1


# Every kernel size, stride, padding form and kernel dilation jaxgen uses, each with one of the
# (batch, spatial size, in channels, out channels) combinations in turn, so that all batch sizes
# (1, 3), odd sizes (7, 13, 28) and channel counts (1, 3, 64) occur across kernels and strides.
PADDINGS = ("SAME", "VALID", ((1, 2), (0, 3)), ((0, 0), (0, 0)))
SHAPES = [(1, 7, 3, 64), (3, 13, 64, 3), (1, 28, 1, 64), (3, 7, 64, 1), (3, 28, 3, 3)]
CONV_CONFIGS = [
    (k, s, p, d, *SHAPES[i % len(SHAPES)])
    for i, (k, s, p, d) in enumerate(itertools.product((1, 3, 4, 5, 7), (1, 2), PADDINGS, (1, 2)))
]
# Drop those whose dilated kernel does not fit the padded input (lax rejects them too).
CONV_CONFIGS = [
    c
    for c in CONV_CONFIGS
    if _extent(c[0], c[3]) <= c[5] + (0 if isinstance(c[2], str) else sum(c[2][0]))
]


def _conv_id(c):
    k, s, p, d, b, hw, cin, cout = c
    pad = p if isinstance(p, str) else "x".join(str(v) for pair in p for v in pair)
    return f"k{k}-s{s}-{pad}-d{d}-b{b}-{hw}px-{cin}to{cout}"


def _conv_inputs(k, b, hw, cin, cout):
    kx, kw = jax.random.split(jax.random.key(k * 1000 + hw * 10 + cin))
    x = jax.random.normal(kx, (b, hw, hw, cin))
    w = jax.random.normal(kw, (k, k, cin, cout)) / np.sqrt(k * k * cin)
    return x, w


@requires_onednn
@pytest.mark.parametrize(
    "cfg",
    [
        # No network of jaxgen dilates its kernels: the dilated cases (the library supports
        # them) run in `make test-all` only, to keep CI within its time.
        pytest.param(c, id=_conv_id(c), marks=[pytest.mark.slow] if c[3] > 1 else [])
        for c in CONV_CONFIGS
    ],
)
def test_conv2d_matches_lax(cfg):
    k, s, p, d, b, hw, cin, cout = cfg
    x, w = _conv_inputs(k, b, hw, cin, cout)

    def ref(x, w):
        return lax.conv_general_dilated(x, w, (s, s), p, rhs_dilation=(d, d), dimension_numbers=DN)

    _check_vjp(jax.jit(lambda x, w: onednn.conv2d(x, w, (s, s), p, (d, d))), ref, x, w)


@requires_onednn
@pytest.mark.parametrize(
    "strides,padding,dilation",
    [
        ((2, 1), ((2, 0), (1, 1)), (1, 2)),
        ((1, 3), "SAME", (2, 1)),
        ((3, 2), ((4, 1), (0, 5)), (1, 1)),
    ],
)
def test_conv2d_non_square_geometry(strides, padding, dilation):
    """Height and width get their own stride, padding and dilation (not swapped)."""
    kx, kw = jax.random.split(jax.random.key(3))
    x = jax.random.normal(kx, (2, 11, 9, 5))
    w = jax.random.normal(kw, (3, 4, 5, 6))

    def ref(x, w):
        return lax.conv_general_dilated(
            x, w, strides, padding, rhs_dilation=dilation, dimension_numbers=DN
        )

    _check_vjp(jax.jit(lambda x, w: onednn.conv2d(x, w, strides, padding, dilation)), ref, x, w)


@requires_onednn
def test_conv2d_inside_grad_of_jit_and_unjitted():
    """Eager calls, jit of grad and grad of jit all give XLA's gradients."""
    x, w = _conv_inputs(5, 1, 13, 3, 64)

    def loss(conv):
        return lambda x, w: jnp.sum(jnp.sin(conv(x, w)))

    ours = loss(lambda x, w: onednn.conv2d(x, w, 2, "SAME"))
    ref = loss(lambda x, w: lax.conv_general_dilated(x, w, (2, 2), "SAME", dimension_numbers=DN))
    expected = jax.grad(ref, argnums=(0, 1))(x, w)
    for fn in (
        jax.grad(ours, (0, 1)),
        jax.jit(jax.grad(ours, (0, 1))),
        jax.grad(jax.jit(ours), (0, 1)),
    ):
        for g, g_ref in zip(fn(x, w), expected, strict=True):
            _assert_close(g, g_ref)


@requires_onednn
@pytest.mark.parametrize("layout", ["plain", "any_activations", "any"])
def test_conv2d_other_layouts_match(layout):
    """The layouts that are not the default (see onednn.set_layout) compute the same."""
    x, w = _conv_inputs(5, 3, 13, 64, 32)

    def ref(x, w):
        return lax.conv_general_dilated(x, w, (2, 2), "SAME", dimension_numbers=DN)

    previous = onednn.get_layout()
    onednn.set_layout(layout)
    try:
        _check_vjp(jax.jit(lambda x, w: onednn.conv2d(x, w, 2, "SAME")), ref, x, w)
    finally:
        onednn.set_layout(previous)


@requires_onednn
def test_conv2d_under_vmap():
    """Not used by jaxgen, but batching works (the FFI calls run once per vmapped element)."""
    x, w = _conv_inputs(3, 3, 7, 16, 16)
    xs, ws = jnp.stack([x, 2 * x]), jnp.stack([w, -w])

    def ref(x, w):
        return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DN)

    ours = jax.vmap(lambda x, w: onednn.conv2d(x, w, 1, "SAME"))
    _check_vjp(jax.jit(ours), jax.vmap(ref), xs, ws)


@requires_onednn
def test_plans_are_cached():
    x, w = _conv_inputs(3, 3, 13, 3, 64)
    f = jax.jit(jax.grad(lambda x, w: jnp.sum(onednn.conv2d(x, w, 1, "SAME") ** 2), (0, 1)))
    jax.block_until_ready(f(x, w))
    after_first = onednn.num_plans()
    jax.block_until_ready(f(x, w))
    jax.block_until_ready(f(x + 1, w))
    assert onednn.num_plans() == after_first


@requires_onednn
def test_conv2d_rejects_what_it_cannot_compute():
    x, w = _conv_inputs(3, 1, 7, 3, 4)
    with pytest.raises(ValueError, match="negative"):
        onednn.conv2d(x, w, 1, ((-1, 0), (0, 0)))
    with pytest.raises(TypeError, match="float32"):
        onednn.conv2d(x.astype(jnp.bfloat16), w.astype(jnp.bfloat16), 1, "SAME")


# ---- lax.conv_general_dilated compatibility ---------------------------------------------------


def _lowered_text(f, *args, **kwargs) -> str:
    return jax.jit(f).trace(*args).lower(**kwargs).as_text()


@requires_onednn
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("cin", [1, 2, 4, 5, 8, 15, 16])
def test_backward_data_into_few_channels_takes_its_route(cin, stride):
    """Input gradients into at most planar_max_channels() (4) channels run on oneDNN's planar
    layouts, 5 to 15 on XLA, 16 and more on oneDNN's blocked ones: each is XLA's gradient."""
    x, w = _conv_inputs(5, 3, 13, cin, 32)

    def ref(x, w):
        return lax.conv_general_dilated(x, w, (stride, stride), "SAME", dimension_numbers=DN)

    def ours(x, w):
        return onednn.conv2d(x, w, (stride, stride), "SAME")

    _check_vjp(jax.jit(ours), ref, x, w)
    text = _lowered_text(jax.grad(lambda x, w: jnp.sum(ours(x, w) ** 2)), x, w)
    on_xla = onednn.planar_max_channels() < cin < onednn.MIN_BLOCKED_BACKWARD_DATA_CHANNELS
    assert ("jaxgen_onednn_conv_bwd_data" in text) is not on_xla
    assert onednn.planar_max_channels() == 4


@requires_onednn
def test_flax_conv_with_compatible_conv_equals_plain_conv():
    """nn.Conv(..., conv_general_dilated=...) keeps the params tree and the output."""
    x = jax.random.normal(jax.random.key(0), (3, 13, 13, 3))
    plain = nn.Conv(8, (5, 5), strides=(2, 2), padding="SAME")
    ours = nn.Conv(
        8,
        (5, 5),
        strides=(2, 2),
        padding="SAME",
        conv_general_dilated=onednn.conv_general_dilated_compatible,
    )
    params = plain.init(jax.random.key(1), x)
    params_ours = ours.init(jax.random.key(1), x)
    assert jax.tree.structure(params) == jax.tree.structure(params_ours)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(params_ours), strict=True):
        np.testing.assert_array_equal(a, b)
    _check_vjp(lambda p, x: ours.apply(p, x), lambda p, x: plain.apply(p, x), params, x)
    assert "jaxgen_onednn_conv_fwd" in _lowered_text(lambda p, x: ours.apply(p, x), params, x)


@requires_onednn
@pytest.mark.parametrize(
    "kwargs",
    [
        {"feature_group_count": 3},
        {"lhs_dilation": (2, 2), "padding": ((1, 1), (1, 1))},
        {"dimension_numbers": ("NCHW", "OIHW", "NCHW")},
        {"padding": ((-1, 2), (1, 1))},
        {"batch_group_count": 2},
        {"dtype": jnp.bfloat16},
    ],
    ids=["groups", "lhs_dilation", "nchw", "negative_pad", "batch_groups", "bfloat16"],
)
def test_compatible_falls_back_to_xla(kwargs):
    """What oneDNN does not compute here goes to lax.conv_general_dilated, unchanged."""
    args = {"window_strides": (1, 1), "padding": "SAME", "dimension_numbers": DN, **kwargs}
    dtype = args.pop("dtype", jnp.float32)
    x = jax.random.normal(jax.random.key(0), (2, 9, 9, 6), dtype)
    w = jax.random.normal(jax.random.key(1), (3, 3, 6 // args.get("feature_group_count", 1), 6))
    w = w.astype(dtype)
    if args["dimension_numbers"][0] == "NCHW":
        x, w = x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)

    def ours(x, w):
        return onednn.conv_general_dilated_compatible(x, w, **args)

    def ref(x, w):
        return lax.conv_general_dilated(x, w, **args)

    _check_vjp(ours, ref, x, w)
    assert "jaxgen_onednn" not in _lowered_text(ours, x, w)


@requires_onednn
def test_compatible_lowered_for_gpu_keeps_xla_conv():
    """The FFI targets exist only for CPU: a CUDA lowering must contain XLA's convolution.
    (16 input channels: 5 to 15 would take XLA's backward-data on CPU too.)"""
    x, w = _conv_inputs(5, 2, 13, 16, 4)

    def f(x, w):
        y = onednn.conv_general_dilated_compatible(x, w, (2, 2), "SAME", dimension_numbers=DN)
        return jnp.sum(y**2)

    for fn in (f, jax.grad(f, (0, 1))):
        cpu = _lowered_text(fn, x, w)
        assert "jaxgen_onednn" in cpu and "convolution" not in cpu
        cuda = _lowered_text(fn, x, w, lowering_platforms=("cuda",))
        assert "jaxgen_onednn" not in cuda and "convolution" in cuda
    # One lowering for both platforms carries both branches, chosen when compiled.
    both = _lowered_text(f, x, w, lowering_platforms=("cpu", "cuda"))
    assert "jaxgen_onednn" in both and "convolution" in both


# ---- transposed convolution -------------------------------------------------------------------

# (kernel, stride, padding, batch, spatial size, in channels, out channels)
TRANSPOSE_CONFIGS = [
    (k, s, p, *shape)
    for (k, s, p), shape in zip(
        itertools.product((3, 4, 5), (1, 2), ("SAME", "VALID")),
        itertools.cycle([(1, 7, 64, 1), (3, 13, 3, 64), (3, 7, 1, 3), (1, 14, 64, 64)]),
    )
] + [
    # A stride larger than the kernel: the adjoint convolution's padding is negative there.
    (1, 2, "SAME", 3, 7, 3, 4),
    (2, 3, "VALID", 1, 13, 3, 4),
]


@requires_onednn
@pytest.mark.parametrize("cfg", TRANSPOSE_CONFIGS, ids=lambda c: "-".join(map(str, c)))
def test_conv_transpose_matches_lax(cfg):
    k, s, p, b, hw, cin, cout = cfg
    x, w = _conv_inputs(k, b, hw, cin, cout)

    def ours(x, w):
        return onednn.conv_transpose(x, w, (s, s), p)

    def ref(x, w):
        return lax.conv_transpose(x, w, (s, s), p, dimension_numbers=DN)

    _check_vjp(jax.jit(ours), ref, x, w)
    # and jaxgen's XLA version, which it replaces
    _check_vjp(jax.jit(ours), lambda x, w: jaxgen_conv_transpose(x, w, (s, s), p), x, w)


@requires_onednn
def test_conv_transpose_lowered_for_gpu_is_jaxgens():
    x, w = _conv_inputs(5, 2, 7, 4, 16)

    def f(x, w):
        return jnp.sum(onednn.conv_transpose(x, w, 2, "SAME") ** 2)

    for fn in (f, jax.grad(f, (0, 1))):
        assert "jaxgen_onednn" in _lowered_text(fn, x, w)
        assert "jaxgen_onednn" not in _lowered_text(fn, x, w, lowering_platforms=("cuda",))


# ---- availability -----------------------------------------------------------------------------


def test_built_library_loads():
    """A built library must load; when it is not built, the reason says how to build it."""
    if onednn.LIBRARY.exists() and os.environ.get("JAXGEN_ONEDNN") != "0":
        assert onednn.available(), onednn.unavailable_reason()
        assert onednn.unavailable_reason() is None
        assert "." in onednn.runtime()
    else:
        assert not onednn.available()
        assert "make native" in onednn.unavailable_reason() or "JAXGEN_ONEDNN" in (
            onednn.unavailable_reason()
        )


def test_missing_library_is_reported(monkeypatch, tmp_path):
    """Without the library, available() is False with a one-line reason, and the compatible
    wrapper is plain XLA."""
    monkeypatch.delenv("JAXGEN_ONEDNN", raising=False)
    monkeypatch.setattr(onednn, "_reason", onednn._reason)
    monkeypatch.setattr(onednn, "_loaded", False)
    monkeypatch.setattr(onednn, "_lib", None)
    monkeypatch.setattr(onednn, "LIBRARY", tmp_path / "missing.so")
    assert not onednn.available()
    reason = onednn.unavailable_reason()
    assert "make native" in reason and "\n" not in reason
    x, w = _conv_inputs(3, 1, 7, 3, 4)
    text = _lowered_text(
        lambda x, w: onednn.conv_general_dilated_compatible(x, w, (1, 1), "SAME", None, None, DN),
        x,
        w,
    )
    assert "jaxgen_onednn" not in text and "convolution" in text
