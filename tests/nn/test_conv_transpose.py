"""jaxgen.nn.ConvTranspose must match flax.linen.ConvTranspose in values and gradients."""

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn import ConvTranspose, conv_transpose

RTOL = 1e-5
ATOL = 1e-5

# (kernel, stride, padding, c_in, c_out, batch, spatial)
CONFIGS = [
    (k, s, p, cin, cout, b, hw)
    for (k, s, p), (cin, cout, b, hw) in itertools.product(
        itertools.product((3, 4, 5), (1, 2), ("SAME", "VALID")),
        ((3, 5, 2, 7), (8, 4, 4, 8)),
    )
] + [
    # Non-square kernel/stride/input and a stride larger than the kernel (negative adjoint pad).
    (k, s, p, 3, 2, 3, hw)
    for k, s, p, hw in [
        ((3, 4), (2, 1), "SAME", (7, 8)),
        ((2, 5), (1, 2), "VALID", (8, 7)),
        ((2, 2), (3, 3), "SAME", (5, 6)),
        ((2, 2), (3, 3), "VALID", (5, 6)),
        ((1, 1), (2, 2), "SAME", (4, 4)),
    ]
]


def _as_pair(v):
    return (v, v) if isinstance(v, int) else v


def _setup(k, s, p, cin, cout, b, hw):
    k, s, hw = _as_pair(k), _as_pair(s), _as_pair(hw)
    ref = nn.ConvTranspose(cout, k, strides=s, padding=p)
    ours = ConvTranspose(cout, k, strides=s, padding=p)
    kx, kp, kr, kb = jax.random.split(jax.random.key(0), 4)
    x = jax.random.normal(kx, (b, *hw, cin))
    params = ref.init(kp, x)
    # The default bias init is zeros; make it non-trivial so the bias path is exercised.
    params = {
        "params": {
            "kernel": params["params"]["kernel"],
            "bias": jax.random.normal(kb, params["params"]["bias"].shape),
        }
    }
    r = jax.random.normal(kr, ref.apply(params, x).shape)
    return ref, ours, params, x, r


def _assert_trees_close(a, b):
    """Equal to float32 rounding: the kernels (XLA's, the sub-pixel form, oneDNN's) sum in
    different orders, so the absolute tolerance scales with the leaf's magnitude (a kernel
    gradient sums batch x height x width products)."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert u.shape == v.shape
        scale = max(1.0, float(np.max(np.abs(np.asarray(v)))))
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=RTOL, atol=ATOL * scale)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(map(str, c)))
def test_forward_matches_flax(cfg):
    ref, ours, params, x, _ = _setup(*cfg)
    y_ref = ref.apply(params, x)
    y = ours.apply(params, x)
    assert y.shape == y_ref.shape
    np.testing.assert_allclose(np.asarray(y), np.asarray(y_ref), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(map(str, c)))
def test_gradients_match_flax(cfg):
    ref, ours, params, x, r = _setup(*cfg)

    def grads(module):
        def loss(params, x):
            return jnp.sum(module.apply(params, x) * r)

        return jax.grad(loss, argnums=(0, 1))(params, x)

    (gp_ref, gx_ref), (gp, gx) = grads(ref), grads(ours)
    _assert_trees_close(gp, gp_ref)
    np.testing.assert_allclose(np.asarray(gx), np.asarray(gx_ref), rtol=RTOL, atol=ATOL)


def test_param_tree_matches_flax():
    x = jnp.ones((2, 7, 7, 3))
    ref = nn.ConvTranspose(5, (4, 4), strides=(2, 2)).init(jax.random.key(0), x)
    ours = ConvTranspose(5, (4, 4), strides=(2, 2)).init(jax.random.key(0), x)
    assert jax.tree.structure(ours) == jax.tree.structure(ref)
    assert jax.tree.map(jnp.shape, ours) == jax.tree.map(jnp.shape, ref)
    assert ours["params"]["kernel"].shape == (4, 4, 3, 5)
    # Same initialisers and param names, hence bit-identical initial values for the same key.
    _assert_trees_close(ours, ref)

    no_bias = ConvTranspose(5, (3, 3), use_bias=False).init(jax.random.key(0), x)
    assert set(no_bias["params"]) == {"kernel"}


def test_jit_matches_eager():
    ref, ours, params, x, r = _setup(5, 2, "SAME", 8, 4, 4, 8)

    def loss(params, x):
        return jnp.sum(ours.apply(params, x) * r)

    y = jax.jit(ours.apply)(params, x)
    np.testing.assert_allclose(
        np.asarray(y), np.asarray(ref.apply(params, x)), rtol=RTOL, atol=ATOL
    )
    g_jit = jax.jit(jax.grad(loss, argnums=(0, 1)))(params, x)
    g_eager = jax.grad(loss, argnums=(0, 1))(params, x)
    _assert_trees_close(g_jit, g_eager)


def test_vmap_matches_batched():
    _, ours, params, x, r = _setup(4, 2, "VALID", 3, 5, 4, 7)
    # vmap over an extra leading axis, each slice being a (1, H, W, C) batch.
    xs = x[:, None]
    y_vmap = jax.vmap(lambda xi: ours.apply(params, xi))(xs)[:, 0]
    np.testing.assert_allclose(
        np.asarray(y_vmap), np.asarray(ours.apply(params, x)), rtol=RTOL, atol=ATOL
    )

    # Per-example kernel gradients through vmap(grad) must sum to the full-batch gradient.
    def loss(kernel, xi, ri):
        p = {"params": {"kernel": kernel, "bias": params["params"]["bias"]}}
        return jnp.sum(ours.apply(p, xi) * ri)

    per_ex = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(
        params["params"]["kernel"], xs, r[:, None]
    )
    full = jax.grad(loss)(params["params"]["kernel"], x, r)
    np.testing.assert_allclose(np.asarray(per_ex.sum(0)), np.asarray(full), rtol=1e-4, atol=1e-4)


def test_batch_dims_like_flax():
    ref, ours, params, x, _ = _setup(3, 2, "SAME", 3, 5, 4, 7)
    # No batch axis and two batch axes are flattened/restored as flax does.
    np.testing.assert_allclose(
        np.asarray(ours.apply(params, x[0])),
        np.asarray(ref.apply(params, x[0])),
        rtol=RTOL,
        atol=ATOL,
    )
    x2 = x.reshape(2, 2, *x.shape[1:])
    np.testing.assert_allclose(
        np.asarray(ours.apply(params, x2)), np.asarray(ref.apply(params, x2)), rtol=RTOL, atol=ATOL
    )


def test_function_matches_lax():
    kx, kk = jax.random.split(jax.random.key(1))
    x = jax.random.normal(kx, (2, 6, 6, 3))
    kernel = jax.random.normal(kk, (5, 5, 3, 4))
    y = conv_transpose(x, kernel, (2, 2), "SAME")
    y_ref = jax.lax.conv_transpose(
        x, kernel, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    np.testing.assert_allclose(np.asarray(y), np.asarray(y_ref), rtol=RTOL, atol=ATOL)


def test_rejects_unsupported_padding():
    with pytest.raises(ValueError):
        ConvTranspose(4, (3, 3), padding="CIRCULAR").init(jax.random.key(0), jnp.ones((1, 4, 4, 2)))


@pytest.mark.parametrize(
    "k, s, padding, hw",
    [
        (k, s, p, hw)
        for k, s, p, hw in itertools.product(
            (1, 2, 3, 4, 5, (3, 5)), (2, 3, (2, 1)), ("SAME", "VALID"), ((7, 7), (4, 5), (1, 2))
        )
    ],
)
def test_the_sub_pixel_form_is_lax_conv_transpose(k, s, padding, hw):
    from jaxgen.nn.conv_transpose import subpixel_forward

    k, s = _as_pair(k), _as_pair(s)
    rng = np.random.default_rng(sum(k) * 31 + sum(s) * 7 + sum(hw))
    x = jnp.asarray(rng.normal(size=(2, *hw, 3)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(*k, 3, 4)), jnp.float32)
    reference = jax.lax.conv_transpose(x, w, s, padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    ours = subpixel_forward(x, w, s, padding)
    assert ours.shape == reference.shape
    # The same products summed in another order: equal to float32 rounding.
    np.testing.assert_allclose(
        ours, reference, rtol=1e-5, atol=1e-5 * float(jnp.abs(reference).max())
    )


def test_the_cpu_takes_the_sub_pixel_form_and_accelerators_keep_the_native_op():
    from jaxgen.nn.conv_transpose import SUBPIXEL_MIN_CHANNELS

    x = jnp.ones((2, 7, 7, 3))
    f = jax.jit(lambda x, w: conv_transpose(x, w, (2, 2), "SAME"))

    def convolutions(w, platform):
        text = f.trace(x, w).lower(lowering_platforms=(platform,)).as_text()
        return [line for line in text.splitlines() if "stablehlo.convolution" in line]

    wide = jnp.ones((5, 5, 3, SUBPIXEL_MIN_CHANNELS))
    (cpu,) = convolutions(wide, "cpu")
    assert "lhs_dilate = [1, 1]" in cpu  # no zeros inserted: the sub-pixel form
    for accelerator in ("cuda", "tpu"):
        (native,) = convolutions(wide, accelerator)
        assert "lhs_dilate = [2, 2]" in native
    # Into fewer channels the sub-pixel form is slower: the CPU keeps XLA's op too.
    narrow = jnp.ones((5, 5, 3, SUBPIXEL_MIN_CHANNELS - 1))
    (cpu,) = convolutions(narrow, "cpu")
    assert "lhs_dilate = [2, 2]" in cpu
    # Stride 1 is a plain convolution everywhere: no platform switch.
    g = jax.jit(lambda x, w: conv_transpose(x, w, (1, 1), "SAME"))
    assert "platform_index" not in g.trace(x, wide).lower().as_text()
