"""benchmarks/style_transfer_step.py: its PyTorch copy of VGG19 (every layer against jaxgen's,
on random weights and pixels) and its `--quick` run, in-process: the JSON it prints, the checks
it asserts before timing, each framework timed in a worker process of its own; the PyTorch
parts only with torch installed, and the run without torch (`torch_missing`, in one process)
either way."""

from __future__ import annotations

import importlib.util
import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.reverse import networks
from jaxgen.nn import vgg
from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("style_transfer_step")


def test_torch_vgg19_matches_jaxgen_at_every_layer(bench):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    weights = vgg.random_weights(rng, "vgg19")
    for layer in weights.values():  # nonzero biases, which a transposition mistake would show
        layer["bias"] = rng.normal(size=layer["bias"].shape).astype(np.float32)
    image = rng.random((1, 37, 50, 3), dtype=np.float32)  # odd sides: the poolings drop a row
    layers = tuple(vgg.layer_names("vgg19")[:-1])  # up to block5_conv4 (block5_pool: 1 x 1)
    ours = networks._vgg_forward(weights, jnp.asarray(image), layers)
    theirs = bench.torch_features(
        torch, bench.torch_network(torch, weights), bench.to_nchw(torch, image), layers
    )
    assert set(theirs) == set(layers)
    for name in layers:
        got = theirs[name].permute(0, 2, 3, 1).numpy()
        want = np.asarray(ours[name])
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_quick_run_checks_and_times_every_contender(bench, capsys):
    has_torch = importlib.util.find_spec("torch") is not None
    record = bench.main(["--quick"])
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(record))
    assert record["benchmark"] == "style_transfer_step"
    assert record["image_size"] == 64 and record["image_shape"] == [43, 64, 3]
    assert len(record["load_average_before"]) == len(record["load_average_after"]) == 3
    assert record["results"]["jaxgen"]["steps_per_s_median"] > 0
    if not has_torch:  # only the torch part is left out
        assert "torch_missing" in record and set(record["results"]) == {"jaxgen"}
        return
    assert set(record["results"]) == {"jaxgen", "torch", "torch_1thread"}
    assert record["jaxgen_over_torch"]["of_medians"] > 0
    # Each framework timed in a worker of its own, neither of them this process.
    ids = record["process_ids"]
    assert set(ids) == {"jaxgen", "torch"} and len({*ids.values(), os.getpid()}) == 3
    checks = record["checks"]
    for part in bench.LOSS_PARTS:
        assert checks[f"{part}_after_one_step"]["rel_diff"] < 1e-4
    for where in ("start", "after_one_step"):
        assert checks[f"grad_{where}"]["norm_rel_diff"] < 1e-4
        assert checks[f"grad_{where}"]["rel_diff_in_norm"] < bench.GRAD_TOLERANCE
        image = checks[f"image_one_step_from_{where}"]
        assert image["mean_abs_diff"] < 1e-4
        assert image["max_excess_over_lr_over_eps_times_grad_diff"] < 1e-6


def test_quick_run_without_torch_says_so(bench, capsys, monkeypatch):
    monkeypatch.setattr(bench.harness, "import_torch", lambda: None)
    record = bench.main(["--quick", "--repeats", "1", "--warmup", "0", "--processes", "one"])
    capsys.readouterr()
    assert record["torch_missing"] == bench.harness.torch_missing()
    assert set(record["results"]) == {"jaxgen"} and record["checks"] == {}
    assert record["jaxgen_over_torch"] is None
