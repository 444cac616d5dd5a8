"""pix2pix's and CycleGAN's networks: shapes at jaxgen's sizes and at 256, the reference's
parameter counts, the PatchGAN's receptive field (computed and measured), the U-Net's skips,
bottleneck and dropout, batch versus instance norm, and the transposed convolution's alignment
with PyTorch's."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.image_translation import model as translation
from jaxgen.families.image_translation.model import (
    PatchDiscriminator,
    ResnetGenerator,
    UNetGenerator,
    norm_layer,
    patch_layers,
    receptive_field,
    resnet_blocks,
    unet_depth,
    unet_dropout_levels,
)
from jaxgen.nn.common import count_params

from ..conftest import numpy_init

NORMS = ("batch", "instance")


def _variables(model, x, train=False):
    """Random variables for `model` on x, drawn in NumPy (skips compiling Flax's initialisers):
    kernels ~ N(0, 1/fan_in), the rest ~ N(0, 0.1^2), running variances in [0.5, 1.5)."""
    shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=train), x)
    rng = np.random.default_rng(0)

    def draw(path, leaf):
        name = jax.tree_util.keystr(path)
        if name.endswith("['kernel']"):
            scale = 1 / np.sqrt(np.prod(leaf.shape[:-1]))
            return jnp.asarray(rng.normal(scale=scale, size=leaf.shape), leaf.dtype)
        if name.endswith("['var']"):
            return jnp.asarray(rng.uniform(0.5, 1.5, size=leaf.shape), leaf.dtype)
        return jnp.asarray(rng.normal(scale=0.1, size=leaf.shape), leaf.dtype)

    return jax.tree_util.tree_map_with_path(draw, shapes)


def _images(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, shape), jnp.float32)


def _models(channels, norm, base):
    """Each module with a tiny width, for running at jaxgen's sizes."""
    return {
        "unet": UNetGenerator(channels, base=base, norm=norm),
        "resnet": ResnetGenerator(channels, base=base, norm=norm),
        "patch": PatchDiscriminator(base=base, norm=norm),
    }


def _patch_side(size):
    """Logit map side of the default PatchGAN: size halves n times (padding 1, kernel 4), then
    two stride-1 convolutions with padding 1 each take one pixel."""
    side = size
    for _ in range(patch_layers(size)):
        side //= 2
    return side - 2


def test_norm_layer_kinds():
    x = _images((2, 4, 4, 3))
    instance = norm_layer("instance", train=True)
    assert instance.init(jax.random.key(0), x) == {}  # not affine, no running statistics
    y = instance.apply({}, x)
    np.testing.assert_allclose(jnp.mean(y, axis=(1, 2)), 0.0, atol=1e-5)
    batch = norm_layer("batch", train=True)
    variables = batch.init(jax.random.key(0), x)
    assert set(variables) == {"params", "batch_stats"}
    assert set(variables["params"]) == {"scale", "bias"}
    assert batch.momentum == 0.9 and batch.epsilon == 1e-5
    assert norm_layer("batch", train=False).use_running_average
    with pytest.raises(ValueError, match="instance, batch"):
        norm_layer("group", train=True)
    with pytest.raises(ValueError, match="instance, batch"):
        UNetGenerator(3, norm="layer").init(jax.random.key(0), _images((1, 8, 8, 3)), train=False)


def test_default_sizes():
    assert [unet_depth(s) for s in (28, 32, 64, 128, 256, 512)] == [4, 5, 6, 7, 8, 8]
    assert [resnet_blocks(s) for s in (28, 32, 64, 128, 256)] == [3, 3, 6, 6, 9]
    assert [patch_layers(s) for s in (28, 32, 64, 128, 256)] == [1, 1, 2, 3, 3]
    # The reference's use_dropout blocks (num_downs - 5) at depth >= 6; one block below.
    assert unet_dropout_levels(8) == (4, 5, 6)
    assert unet_dropout_levels(7) == (4, 5)
    assert unet_dropout_levels(6) == (4,)
    assert unet_dropout_levels(5) == (3,)
    assert unet_dropout_levels(4) == (2,)
    assert unet_dropout_levels(2) == ()


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("shape", [(2, 28, 28, 1), (2, 32, 32, 3), (1, 64, 64, 3)])
def test_output_shapes_at_jaxgen_sizes(shape, norm):
    x = _images(shape)
    for name, model in _models(shape[-1], norm, base=4).items():
        y = jax.jit(lambda v, x, model=model: model.apply(v, x, train=False))(
            _variables(model, x), x
        )
        if name == "patch":
            side = _patch_side(shape[1])
            assert y.shape == (shape[0], side, side, 1), name
        else:
            assert y.shape == shape, name  # 28x28 too: padded to 32 inside, cropped back
            assert float(jnp.max(jnp.abs(y))) <= 1.0, name
        assert bool(jnp.all(jnp.isfinite(y))), name


@pytest.mark.parametrize("norm", NORMS)
def test_output_shapes_at_256(norm):
    x = jax.ShapeDtypeStruct((1, 256, 256, 3), jnp.float32)
    expected = {"unet": (1, 256, 256, 3), "resnet": (1, 256, 256, 3), "patch": (1, 30, 30, 1)}
    for name, model in _models(3, norm, base=64).items():

        def run(x, model=model):
            variables = model.init(jax.random.key(0), x, train=False)
            return model.apply(variables, x, train=False)

        assert jax.eval_shape(run, x).shape == expected[name], name


def test_odd_sizes_are_padded_and_cropped_back():
    for shape in [(1, 30, 30, 1), (1, 20, 36, 2)]:
        x = _images(shape)
        for name in ("unet", "resnet"):
            model = _models(shape[-1], "instance", base=4)[name]
            run = lambda v, x, model=model: model.apply(v, x, train=False)  # noqa: E731
            assert jax.eval_shape(run, _variables(model, x), x).shape == shape, name


def _count(model, channels=3, size=256):
    x = jax.ShapeDtypeStruct((1, size, size, channels), jnp.float32)
    variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), x)
    return count_params(variables["params"])  # batch norm's running statistics not included


def test_parameter_counts_match_the_reference():
    # The totals of junyanz/pytorch-CycleGAN-and-pix2pix's networks (its printout rounds them to
    # "11.378 M", "7.838 M", "2.765 M", "2.769 M", "54.414 M"), from their layer lists: every
    # default (blocks, n_layers, depth) at 256 is the reference's.
    # CycleGAN: resnet_9blocks and the basic D, instance norm (so every conv has a bias).
    assert _count(ResnetGenerator(3)) == 11_378_179
    assert _count(ResnetGenerator(3, blocks=6), size=128) == 7_837_699
    assert _count(PatchDiscriminator(norm="instance")) == 2_764_737
    # pix2pix: unet_256 and the basic D on the concatenated (condition, image) pair, batch norm.
    assert _count(UNetGenerator(3)) == 54_413_955
    assert _count(PatchDiscriminator(), channels=6) == 2_768_705


def test_parameter_counts_by_hand():
    # The PatchGAN, base 64, 3 layers, batch norm, 3 channels in: biases only on the first and
    # last convolutions, batch norm's scale and offset on the three between.
    widths = [3, 64, 128, 256, 512, 1]
    expected = sum(16 * a * b for a, b in zip(widths, widths[1:], strict=False))
    expected += 64 + 1 + 2 * (128 + 256 + 512)
    assert _count(PatchDiscriminator()) == expected


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_receptive_field_is_computed_and_measured(n_layers):
    side = receptive_field(n_layers)
    assert side == {1: 16, 2: 34, 3: 70}[n_layers]
    # Batch norm in evaluation mode acts per pixel (instance norm would couple every pixel), so
    # the gradient of one logit is nonzero exactly where that logit looks.
    size = {1: 32, 2: 64, 3: 96}[n_layers]
    model = PatchDiscriminator(base=4, n_layers=n_layers, norm="batch")
    x = _images((1, size, size, 2))
    variables = _variables(model, x)

    def central_logit(x):
        logits = model.apply(variables, x, train=False)
        return logits[0, logits.shape[1] // 2, logits.shape[2] // 2, 0]

    support = np.any(np.asarray(jax.grad(central_logit)(x))[0] != 0, axis=-1)
    rows, cols = np.nonzero(support)
    assert rows.min() > 0 and cols.min() > 0 and rows.max() < size - 1 and cols.max() < size - 1
    assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
    assert support.sum() == side * side  # the whole square, nothing outside it


def _intermediates(model, shape):
    """Shapes of every submodule's output (eval_shape: nothing runs)."""

    def run(x):
        variables = model.init(jax.random.key(0), x, train=False)
        _, state = model.apply(
            variables, x, train=False, capture_intermediates=True, mutable=["intermediates"]
        )
        return state["intermediates"]

    return jax.eval_shape(run, jax.ShapeDtypeStruct(shape, jnp.float32))


def test_unet_bottleneck_and_dropout_blocks():
    inter = _intermediates(UNetGenerator(3), (1, 256, 256, 3))
    assert inter["down7"]["__call__"][0].shape == (1, 1, 1, 512)  # unet_256's 1x1 bottleneck
    assert "down8" not in inter
    assert sorted(k for k in inter if k.startswith("Dropout")) == [
        "Dropout_0",
        "Dropout_1",
        "Dropout_2",
    ]
    for size, depth, bottleneck in [(32, 5, 1), (64, 6, 1), (28, 4, 2)]:
        inter = _intermediates(UNetGenerator(1, base=4), (1, size, size, 1))
        assert inter[f"down{depth - 1}"]["__call__"][0].shape[1:3] == (bottleneck, bottleneck)
        assert f"down{depth}" not in inter


def test_unet_skips_carry_the_input():
    model = UNetGenerator(1, base=4, norm="batch")
    x = _images((1, 32, 32, 1))
    variables = _variables(model, x)
    apply = jax.jit(lambda x: model.apply(variables, x, train=False))
    y = apply(x)
    changed = np.abs(np.asarray(apply(x.at[0, 10, 20, 0].set(-x[0, 10, 20, 0])) - y))[0, ..., 0]
    assert changed[10, 20] > 0
    # The outermost skip works at full resolution minus one: the pixel's own 4x4 neighbourhood
    # moves more than the far corner, which only the 1x1 bottleneck links to it.
    assert changed[9:12, 19:22].mean() > 10 * changed[:8, :8].mean()


def test_dropout_is_the_only_noise_and_only_in_training():
    model = UNetGenerator(1, base=4, norm="instance")
    x = _images((2, 28, 28, 1))
    variables = _variables(model, x)
    apply = jax.jit(
        lambda key: model.apply(variables, x, train=True, rngs={"dropout": key}),
    )
    a, b = apply(jax.random.key(1)), apply(jax.random.key(2))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, apply(jax.random.key(1)))
    # Evaluation needs no rng and is deterministic.
    evaluate = jax.jit(lambda: model.apply(variables, x, train=False))
    np.testing.assert_array_equal(evaluate(), evaluate())
    # With no dropout, training (instance norm) is deterministic and needs no rng either.
    quiet = UNetGenerator(1, base=4, norm="instance", dropout=0.0)
    np.testing.assert_array_equal(
        jax.jit(lambda: quiet.apply(variables, x, train=True))(), evaluate()
    )


@pytest.mark.parametrize("name", ["unet", "resnet", "patch"])
def test_batch_norm_updates_its_statistics_and_instance_norm_has_none(name):
    x = _images((2, 32, 32, 3))
    model = _models(3, "batch", base=4)[name]
    variables = _variables(model, x)
    train_out, updated = jax.jit(
        lambda: model.apply(
            variables, x, train=True, rngs={"dropout": jax.random.key(0)}, mutable=["batch_stats"]
        )
    )()
    assert set(updated) == {"batch_stats"}
    old, new = jax.tree.leaves(variables["batch_stats"]), jax.tree.leaves(updated["batch_stats"])
    assert len(old) == len(new) > 0
    assert all(not np.allclose(a, b) for a, b in zip(old, new, strict=True))
    assert not np.allclose(train_out, jax.jit(lambda: model.apply(variables, x, train=False))())

    instance = _models(3, "instance", base=4)[name]
    shapes = jax.eval_shape(lambda x: instance.init(jax.random.key(0), x, train=False), x)
    assert set(shapes) == {"params"}


class _Up(nn.Module):
    features: int
    kernel: int

    @nn.compact
    def __call__(self, x):
        return translation._conv_up(x, self.features, self.kernel, use_bias=True)


@pytest.mark.parametrize("kernel", [3, 4])
def test_transposed_conv_is_pytorchs(kernel):
    """Against PyTorch's ConvTranspose2d(kernel, stride 2, padding 1, output_padding kernel % 2)
    written out in NumPy: input pixel i adds x[i] * W[t] to output pixel 2 i - 1 + t, where W is
    PyTorch's kernel, ours flipped."""
    x = np.asarray(_images((2, 5, 4, 3)))
    module = _Up(features=2, kernel=kernel)
    variables = numpy_init(module, jnp.asarray(x))
    params = variables["params"]["ConvTranspose_0"]
    w = np.asarray(params["kernel"])[::-1, ::-1]  # (kh, kw, in, out)
    n, h, wd, _ = x.shape
    full = np.zeros((n, 2 * h + kernel, 2 * wd + kernel, 2))
    for i in range(h):
        for j in range(wd):
            patch = np.einsum("nc,tucd->ntud", x[:, i, j], w)
            full[:, 2 * i : 2 * i + kernel, 2 * j : 2 * j + kernel] += patch
    # Output pixel o is full[o + padding]; output_padding extends the end by one for kernel 3.
    expected = full[:, 1 : 1 + 2 * h, 1 : 1 + 2 * wd] + np.asarray(params["bias"])
    y = module.apply(variables, jnp.asarray(x))
    assert y.shape == (n, 2 * h, 2 * wd, 2)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
