"""Convnets run in reverse: the losses and networks against NumPy and SciPy, and each method's
smoke run doing what it claims (the style loss falls in the network it was not optimised
against, DeepDream's objective rises, every class's probability rises), with exact resume
across DeepDream's octaves, Keras-layout VGG files through the whole task, and bad input
refused in one line."""

from __future__ import annotations

import json
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from scipy.signal import correlate
from skimage.color import rgb2gray

from jaxgen.errors import UserError
from jaxgen.families import build_task
from jaxgen.families.reverse import losses, networks
from jaxgen.families.reverse.dream import octave_sizes
from jaxgen.families.reverse.pixel_task import to_channels
from jaxgen.families.reverse.visualise import unit_values
from jaxgen.nn import vgg
from jaxgen.train import loop
from jaxgen.train.loop import train

from ..conftest import run_cli, smoke_config

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------- losses against NumPy


def _numpy_gram(f_NxHxWxC):
    n, h, w, c = f_NxHxWxC.shape
    flat = f_NxHxWxC.reshape(n, h * w, c).astype(np.float64)
    return np.stack([x.T @ x for x in flat]) / (h * w)


def test_gram_style_and_content_losses_are_the_tutorials_definitions():
    feats = {"a": RNG.normal(size=(2, 5, 7, 3)), "b": RNG.normal(size=(2, 3, 4, 6))}
    style = {"a": RNG.normal(size=(1, 5, 6, 3)), "b": RNG.normal(size=(1, 2, 2, 6))}
    content = {"b": RNG.normal(size=(2, 3, 4, 6))}
    f32 = {k: jnp.asarray(v, jnp.float32) for k, v in feats.items()}
    np.testing.assert_allclose(losses.gram(f32["a"]), _numpy_gram(feats["a"]), rtol=1e-5)

    targets = {k: jnp.asarray(_numpy_gram(v), jnp.float32) for k, v in style.items()}
    expected = np.mean(
        [
            np.mean((_numpy_gram(feats[k]) - _numpy_gram(style[k])) ** 2, axis=(1, 2))
            for k in ("a", "b")
        ],
        axis=0,
    )
    np.testing.assert_allclose(losses.style_loss(f32, targets), expected, rtol=1e-4)
    got = losses.content_loss(f32, {"b": jnp.asarray(content["b"], jnp.float32)})
    np.testing.assert_allclose(got, np.mean((feats["b"] - content["b"]) ** 2, axis=(1, 2, 3)), 1e-5)


def test_gram_gradient_is_the_closed_form_and_autodiffs():
    """gram's one-product VJP: d<W, gram(F)>/dF = F (W + W^T) / (h w), per image, against NumPy
    in float64 and against autodiff of the plain product (two products, summed)."""
    feats = RNG.normal(size=(2, 5, 7, 6))
    weights = RNG.normal(size=(2, 6, 6))  # not symmetric: both terms of the closed form count
    f32, w32 = jnp.asarray(feats, jnp.float32), jnp.asarray(weights, jnp.float32)
    grad = jax.grad(lambda f: jnp.sum(w32 * losses.gram(f)))(f32)
    closed = np.einsum("bijc,bcd->bijd", feats, weights + weights.transpose(0, 2, 1)) / 35
    np.testing.assert_allclose(grad, closed, rtol=1e-5, atol=1e-6)

    def autodiff_gram(f):
        return jnp.einsum("bijc,bijd->bcd", f, f) / 35

    autodiff = jax.grad(lambda f: jnp.sum(w32 * autodiff_gram(f)))(f32)
    np.testing.assert_allclose(grad, autodiff, rtol=1e-5, atol=1e-6)
    # Under vmap (one image at a time) and jit, the same gradient.
    per_image = jax.jit(jax.vmap(jax.grad(lambda f, w: jnp.sum(w * losses.gram(f[None])[0]))))
    np.testing.assert_allclose(per_image(f32, w32), grad, rtol=1e-6, atol=1e-7)


def test_gray_networks_see_luminance_and_rgb_networks_see_gray_repeated():
    rgb = RNG.uniform(size=(2, 4, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(to_channels(rgb, 1)[..., 0], rgb2gray(rgb), rtol=1e-5)
    gray = rgb[..., :1]
    np.testing.assert_array_equal(to_channels(gray, 3), np.repeat(gray, 3, axis=-1))


# ---------------------------------------------------------------- networks against SciPy


def test_the_multiscale_network_is_relu_of_correlations_in_a_fixed_order():
    net = networks.multiscale_network(seed=3, channels=2, sizes=(3, 5, 11), width=4)
    x = RNG.uniform(size=(1, 9, 12, 2)).astype(np.float32)
    eager = networks.multiscale_forward(net.weights, x, ("multiscale",))
    # Through jit the weights dict comes back with sorted keys ("scale11" first): the stacked
    # maps must still be in filter-size order.
    jitted = jax.jit(networks.multiscale_forward, static_argnums=2)(net.weights, x, ("x",))
    np.testing.assert_array_equal(eager["multiscale"], jitted["multiscale"])
    column = 0
    for size in (3, 5, 11):
        kernel = net.weights[f"scale{size}"]["kernel"]
        for out in range(4):
            ref = sum(
                correlate(x[0, :, :, c] - 0.5, kernel[:, :, c, out], mode="same") for c in range(2)
            )
            got = np.asarray(eager["multiscale"][0, :, :, column])
            np.testing.assert_allclose(got, np.maximum(ref, 0), rtol=1e-4, atol=1e-5)
            column += 1


def test_the_classifier_network_exposes_its_conv_maps_and_logits():
    from jaxgen.nn.classifier import DigitClassifier

    from ..conftest import numpy_init

    model = DigitClassifier(10)
    params = numpy_init(model, jnp.zeros((1, 8, 8, 1)))
    x = RNG.uniform(size=(2, 8, 8, 1)).astype(np.float32)
    out = networks.classifier_forward(params, x, ("conv1", "logits"), num_classes=10)
    _, logits = model.apply(params, x)
    np.testing.assert_allclose(out["logits"], logits, rtol=1e-6)
    conv = params["params"]["Conv_0"]
    ref = correlate(x[0, :, :, 0], np.asarray(conv["kernel"][:, :, 0, 5]), mode="same")
    expected = np.maximum(ref + float(conv["bias"][5]), 0)
    np.testing.assert_allclose(out["conv1"][0, :, :, 5], expected, rtol=1e-4, atol=1e-5)


def test_unit_values_pick_each_images_unit_averaging_conv_positions():
    dense = RNG.normal(size=(3, 4)).astype(np.float32)
    conv = RNG.normal(size=(3, 2, 2, 4)).astype(np.float32)
    units = jnp.asarray([2, 0, 3])
    np.testing.assert_allclose(unit_values(dense, units), dense[[0, 1, 2], [2, 0, 3]])
    expected = conv.mean(axis=(1, 2))[[0, 1, 2], [2, 0, 3]]
    np.testing.assert_allclose(unit_values(conv, units), expected, rtol=1e-6)


def test_octave_sizes_grow_by_the_scale():
    assert octave_sizes(100, 60, [-1, 0, 2], 1.3) == [(77, 46), (100, 60), (169, 101)]


# ---------------------------------------------------------------- the methods, end to end


def _summary(workdir: pathlib.Path) -> dict:
    return json.loads((workdir / "summary.json").read_text())


def test_style_transfer_lowers_the_style_loss_in_the_network_it_never_saw(tmp_path):
    summary = train(smoke_config("style_transfer", progress="false", steps=12), tmp_path)
    check = "random_multiscale_seed1"
    assert summary["initial_content_loss"] == 0.0  # it starts from the content image
    assert summary["final_content_loss"] > 0.0
    assert summary["final_style_loss"] < 0.8 * summary["initial_style_loss"]
    assert summary[f"final_style_loss_{check}"] < 0.9 * summary[f"initial_style_loss_{check}"]
    assert (tmp_path / "result.png").exists() and (tmp_path / "result_image.png").exists()


def test_a_texture_by_lbfgs_approaches_its_exemplar_in_both_networks(tmp_path):
    config = smoke_config("texture_synthesis", progress="false", optimizer="lbfgs", steps=8)
    summary = train(config, tmp_path)
    assert "final_content_loss" not in summary
    assert summary["final_style_loss"] < 0.1 * summary["initial_style_loss"]
    check = "random_multiscale_seed1"
    assert summary[f"final_style_loss_{check}"] < 0.5 * summary[f"initial_style_loss_{check}"]


def test_deepdream_raises_its_objective_and_resumes_exactly_across_octaves(tmp_path):
    reference = train(smoke_config("deepdream", progress="false"), tmp_path / "reference")
    for i in range(3):
        assert reference[f"objective_octave{i}_end"] > reference[f"objective_octave{i}_start"]
    assert reference["distance_from_start"] > 0.0
    # Stopped inside the second octave (step 3 of 2 + 2 + 2), then extended: the same image.
    train(smoke_config("deepdream", progress="false", steps=3), tmp_path / "resumed")
    resumed = train(smoke_config("deepdream", progress="false"), tmp_path / "resumed")
    assert resumed["params_fingerprint"] == reference["params_fingerprint"]
    # The report names what changes its rounding: the step's own XLA options (runtime.py).
    report = (tmp_path / "reference" / "report.md").read_text()
    assert "the train step's own: xla_cpu_experimental_ynn_fusion_type=" in report
    assert "(YNNPACK's REDUCE off)" in report


def test_deepdream_s_step_compiles_without_ynnpack_s_reductions_on_the_cpu(tmp_path):
    # dream.py's measurement: the step runs faster on XLA's own loops for its reductions. The
    # smoke network, on an image large enough for YNNPACK to take its reductions.
    run = loop._Run(smoke_config("deepdream", progress="false", image_size=256), tmp_path)
    assert run.step_compiler_options  # a CPU under jaxgen's flags (tests/test_runtime.py)
    phase = run.schedule.phases[0]
    args = (run.state, None, run.train_key, run.frozen_arrays)
    ours = run.step_fn(phase).lower(*args).compile().as_text()
    assert "__ynn_fusion" not in ours
    # The control: the same step under the process's flags alone takes YNNPACK's reductions.
    flags = jax.jit(phase.train_step).lower(*args[:1], *args[2:]).compile().as_text()
    assert re.search(r'op_name="[^"]*reduce\w*".*"__ynn_fusion"', flags)


def test_class_visualisation_raises_every_class_and_measures_transfer(tmp_path):
    summary = train(smoke_config("class_visualisation", progress="false", steps=30), tmp_path)
    assert summary["min_class_probability"] > 0.5
    assert 0.0 <= summary["mean_class_probability_transfer"] <= 1.0
    assert summary["test_image_min_best"] > 0.9  # every digit class has a confident test image
    text = (tmp_path / "report.md").read_text()
    assert "transfer net" in text and "visualisations.png" in text


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("keras") / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    vgg.write_keras_weights(path, vgg.random_weights(np.random.default_rng(0), "vgg16"), "vgg16")
    return path


def test_style_transfer_runs_on_a_keras_vgg16_file(tmp_path, vgg16_file):
    config = smoke_config(
        "style_transfer",
        progress="false",
        network="vgg16",
        weights=str(vgg16_file),
        style_layers="block1_conv1,block3_conv1",
        content_layers="block3_conv2",
        steps=2,
    )
    summary = train(config, tmp_path)
    assert np.isfinite(summary["final_style_loss"])
    saved = json.loads((tmp_path / "config.json").read_text())
    assert len(saved["frozen_inputs"]) == 64  # the file's identity is recorded


def test_a_changed_image_file_is_refused_on_resume(tmp_path):
    style = tmp_path / "style.png"
    Image.fromarray(RNG.integers(0, 255, (20, 24, 3), np.uint8)).save(style)
    args = dict(progress="false", style_image=str(style), steps=3)
    train(smoke_config("style_transfer", **args), tmp_path / "run")
    Image.fromarray(RNG.integers(0, 255, (20, 24, 3), np.uint8)).save(style)
    with pytest.raises(UserError, match="frozen_inputs"):
        train(smoke_config("style_transfer", **{**args, "steps": 6}), tmp_path / "run")


@pytest.mark.parametrize(
    "override, message",
    [
        ("style_image=no_such_image", "neither an embedded image"),
        ("network=vgg19", "never downloaded at run time"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, override, message):
    result = run_cli(
        "train",
        "--config=experiments/style_transfer.py:smoke",
        f"--workdir={tmp_path}",
        f"--config.{override}",
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"network": "vgg16", "weights": __file__}, "cannot read"),  # not HDF5
        ({"network": "random_vgg16", "image_size": 8}, "smaller than"),
        ({"network": "resnet"}, "unknown network"),
        ({"style_layers": "block9_conv1"}, "has no layer"),
        ({"optimizer": "sgd"}, "unknown optimizer"),
        ({"method": "dream"}, "unknown method"),
    ],
)
def test_bad_values_are_refused_when_the_task_is_built(overrides, message):
    # Set after loading: load_config already refuses the enumerated keys' other values
    # (tests/test_config_choices.py); a config built in Python meets the task's own checks.
    config = smoke_config("style_transfer")
    config.update(overrides)
    with pytest.raises(UserError, match=message) as error:
        build_task(config)
    assert "\n" not in str(error.value)


def test_the_check_network_must_differ_from_the_optimised_one():
    config = smoke_config("style_transfer", check_seed=0)
    with pytest.raises(UserError, match="check network is the optimised one"):
        build_task(config)


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_any_classifier_runs_workdir_is_a_network(tmp_path):
    train(smoke_config("feature_classifier", progress="false"), tmp_path / "clf")
    config = smoke_config(
        "class_visualisation",
        progress="false",
        weights=str(tmp_path / "clf"),
        target_units="3,7",
        steps=2,
    )
    summary = train(config, tmp_path / "vis")
    assert summary["mean_class_probability"] > 0.0
    text = (tmp_path / "vis" / "report.md").read_text()
    assert str(tmp_path / "clf") in text  # the report names the network it optimised against
