"""benchmarks/family_steps.py and its PyTorch twins (benchmarks/torch_twins.py): each twin,
holding a copy of jaxgen's parameters (all of them random, biases included: zeros would hide a
transposition), takes one step on one batch with jaxgen's own random draws, and its losses must
be jaxgen's `train_step` metrics; plus the script's run in-process (its JSON and table rows),
with and without torch. Tiny shapes: the smoke presets (8x8 digits), the classifier's default
preset at batch 8 (its random shifts need 28x28 images)."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))  # the script imports `harness` as its neighbour
    try:
        spec = importlib.util.spec_from_file_location(
            "benchmarks_family_steps", BENCHMARKS / "family_steps.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclass looks its module up
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


@pytest.fixture(scope="module")
def twins(bench):
    pytest.importorskip("torch")
    return bench.import_twins()


def random_params(params, seed: int = 0):
    """Every parameter random, drawn in NumPy: kernels ~ N(0, 1/fan_in), batch-norm scales
    ~ 1 + N(0, 0.1^2), the rest ~ N(0, 0.1^2)."""
    rng = np.random.default_rng(seed)

    def draw(path, leaf):
        name = jax.tree_util.keystr(path)
        if name.endswith("['kernel']"):
            scale = 1 / np.sqrt(np.prod(leaf.shape[:-1]))
            return np.asarray(rng.normal(scale=scale, size=leaf.shape), np.float32)
        offset = 1.0 if name.endswith("['scale']") else 0.0
        return np.asarray(offset + rng.normal(scale=0.1, size=leaf.shape), np.float32)

    return jax.tree_util.tree_map_with_path(draw, params)


def normal(key, shape):
    return np.asarray(jax.random.normal(key, shape))


def jaxgen_draws(name: str, task, batch, key) -> dict:
    """The random inputs of jaxgen's step for this key, as the twin's `step` takes them (the
    same splits of the step key as the task's code)."""
    split = jax.random.split
    if name == "denoising_ae":
        from jaxgen.families.autoencoder import corruption

        o = task.config.objective
        x = jnp.asarray(batch["image"])
        return {"x_in": corruption.corrupt(o.corruption, key, x, o.noise_level)}
    if name == "conv_vae":
        sample_key = split(split(key)[1], 1)[0]
        return {"eps": normal(sample_key, (len(batch["image"]), task.config.model.latent_size))}
    if name == "vaegan":
        eps_key, prior_key = split(key)
        shape = (len(batch["x"]), task.latent_size)
        return {"eps": normal(eps_key, shape), "z_p": normal(prior_key, shape)}
    if name == "bigan":
        d_key, eg_key = split(key)
        shape = (len(batch["x"]), task.latent_size)
        return {
            "z_d": normal(split(d_key, 3)[0], shape),
            "z_eg": normal(split(eg_key, 3)[0], shape),
        }
    if name == "feature_classifier":
        span = 2 * task.shift + 1
        return {"offsets": np.asarray(jax.random.randint(key, (len(batch["image"]), 2), 0, span))}
    return {}  # pix2pix (dropout off here), CycleGAN (the pools fill), the LM: nothing drawn


# family -> (preset, overrides, {metric: relative tolerance}); the metrics after an update of
# another player (BiGAN's E+G loss, pix2pix's generator loss) are looser: Adam's first update
# is lr * sign(gradient), so a gradient near zero may move a parameter the other way. CycleGAN
# with one residual block a generator (the same code as three) and no pool (a first step's pool
# returns the fakes themselves): less to compile. Still 20-40 s on a loaded 2-core machine,
# nearly all of it XLA compiling six generator passes and their gradient: marked slow.
CASES = {
    "denoising_ae": ("smoke", [], {"loss": 1e-5, "mse": 1e-5}),
    "conv_vae": ("smoke", [], {"loss": 1e-5}),
    "vaegan": (
        "smoke",
        [],
        dict.fromkeys(
            ("loss", "prior_nats", "llike", "decoder_adversarial", "discriminator_loss"), 1e-4
        ),
    ),
    "bigan": (
        "smoke",
        ["model.discriminator_dropout=0"],
        {"loss": 1e-5, "encoder_generator_loss": 1e-4},
    ),
    "pix2pix": (
        "smoke",
        ["model.dropout=0"],
        {"loss": 1e-5, "generator_loss": 1e-4, "generator_gan": 1e-4, "l1": 1e-5},
    ),
    "cyclegan": (
        "smoke",
        ["model.resnet_blocks=1", "objective.pool_size=0"],
        dict.fromkeys(("loss", "generator_loss", "d_a", "d_b", "cycle_a", "cycle_b"), 1e-4),
    ),
    "char_lm": ("smoke", [], {"loss": 1e-5}),
    "feature_classifier": ("default", ["batch_size=8"], {"loss": 1e-5}),
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "cyclegan" else n for n in CASES]
)
def test_twin_takes_jaxgen_step_from_the_same_parameters(bench, twins, name):
    preset, overrides, tolerances = CASES[name]
    task = bench.build(name, preset, overrides)
    (batch,) = bench.first_batches(task, 1)
    key = jax.random.key(3)
    # The state's structure without running flax's initialisers (eagerly, the CycleGAN's take
    # 20 s): zeros, as Adam's moments, the pools and the carries start; then random parameters.
    shapes = jax.eval_shape(task.init_state, jax.random.key(0))
    state = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    state = state.replace(params=random_params(shapes.params))
    state_np = jax.tree.map(np.asarray, state)
    twin = twins.TWINS[name](task, state_np, "cpu")
    assert twin.param_counts() == bench.jaxgen_param_counts(type(twin), state_np.params)
    draws = jaxgen_draws(name, task, batch, key)
    _, metrics = jax.jit(task.train_step)(state, jax.tree.map(jnp.asarray, batch), key)
    tensors = {k: twin.tensor(v, twins.torch.int64 if k == "offsets" else twins.torch.float32)
               for k, v in draws.items()}  # fmt: skip
    if "x_in" in tensors:
        tensors["x_in"] = tensors["x_in"].permute(0, 3, 1, 2).contiguous()
    theirs = twin.step(twin.batch(batch), tensors)
    assert set(tolerances) <= set(theirs)
    for metric, rtol in tolerances.items():
        np.testing.assert_allclose(
            float(theirs[metric]), float(metrics[metric]), rtol=rtol, err_msg=metric
        )


def test_layers_pad_and_flip_as_jaxgen(twins):
    """SAME convolutions and transposed convolutions (even and odd kernels, both strides)
    against jaxgen's on random weights and inputs, odd and even sides."""
    import flax.linen as nn

    from jaxgen.nn import ConvTranspose

    torch = twins.torch
    rng = np.random.default_rng(0)
    for size in (7, 8):
        x = rng.normal(size=(2, size, size, 3)).astype(np.float32)
        xt = torch.from_numpy(x).permute(0, 3, 1, 2)
        for kernel, stride in ((3, 2), (5, 2), (5, 1), (4, 2)):
            conv = nn.Conv(4, (kernel, kernel), (stride, stride), padding="SAME")
            params = random_params(conv.init(jax.random.key(0), x))["params"]
            ours = np.asarray(conv.apply({"params": params}, x))
            layer = twins.SameConv2d(3, 4, kernel, stride)
            twins.load_conv(layer, params)
            theirs = layer(xt).permute(0, 2, 3, 1).detach().numpy()
            np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-5)
            up = ConvTranspose(4, (kernel, kernel), (stride, stride), padding="SAME")
            params = random_params(up.init(jax.random.key(0), x))["params"]
            ours = np.asarray(up.apply({"params": params}, x))
            layer = twins.SameConvTranspose2d(3, 4, kernel, stride)
            twins.load_conv_transpose(layer.conv, params)
            theirs = layer(xt).permute(0, 2, 3, 1).detach().numpy()
            assert theirs.shape == ours.shape
            np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-5)


def test_flattened_maps_reorder_dense_layers(twins):
    """A Dense layer reading a flattened (H, W, C) map, and one reshaped into such a map, give
    jaxgen's numbers from PyTorch's (C, H, W) order."""
    torch = twins.torch
    rng = np.random.default_rng(1)
    hwc = (2, 3, 4)
    x = rng.normal(size=(5, *hwc)).astype(np.float32)
    p = {"kernel": rng.normal(size=(24, 6)), "bias": rng.normal(size=6)}
    layer = torch.nn.Linear(24, 6)
    twins.load_dense(layer, p, rows_hwc=hwc)
    theirs = layer(torch.from_numpy(x).permute(0, 3, 1, 2).flatten(1)).detach().numpy()
    np.testing.assert_allclose(theirs, x.reshape(5, -1) @ p["kernel"] + p["bias"], rtol=1e-5)
    z = rng.normal(size=(5, 6)).astype(np.float32)
    p = {"kernel": rng.normal(size=(6, 24)), "bias": rng.normal(size=24)}
    layer = torch.nn.Linear(6, 24)
    twins.load_dense(layer, p, cols_hwc=hwc)
    theirs = layer(torch.from_numpy(z)).view(5, 4, 2, 3).permute(0, 2, 3, 1).detach().numpy()
    ours = (z @ p["kernel"] + p["bias"]).reshape(5, *hwc)
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6)


def test_image_pool_fills_then_swaps_half(twins):
    torch = twins.torch
    pool = twins.ImagePool(4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: every image returned
    out = pool.query(torch.full((200, 1, 1, 1), 9.0))
    old = (out < 9).sum().item()
    assert 0 < old <= 4  # stored images come back (each only once: it is then replaced)


def test_steps_words_name_the_sizes(bench):
    task = bench.build("denoising_ae", "smoke")
    words = bench.FAMILIES["denoising_ae"].describe(task)
    assert "batch 16 of 8x8x1 (digits)" in words and "Adam 0.001" in words


def test_quick_run_emits_rows(bench, capsys):
    has_torch = importlib.util.find_spec("torch") is not None
    argv = ["--quick", "--preset", "smoke", "--families", "denoising_ae,feature_classifier"]
    record = bench.main([*argv, "--repeats", "1", "--warmup", "0", "--steps", "1"])
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(record))
    assert set(record["families"]) == {"denoising_ae", "feature_classifier"}
    for family in record["families"].values():
        assert family["results"]["jaxgen"]["steps_per_s_median"] > 0
        assert len(family["load_average"]["before"]) == 3
    if not has_torch:
        assert "torch_missing" in record and record["table"] == []
        return
    # Per family, PyTorch on its threads (or CUDA), then on one CPU thread when that differs.
    one_thread = "torch_1thread" in record["families"]["denoising_ae"]["results"]
    contenders = ["torch", "torch_1thread"] if one_thread else ["torch"]
    assert [(row["family"], row["reference_contender"]) for row in record["table"]] == [
        (family, c) for family in ("autoencoder", "classifier") for c in contenders
    ]
    for row in record["table"]:
        assert row["reference"].startswith("PyTorch eager")
        assert row["preset"] == "smoke" and row["rounds"] == 1 and row["ratio"] > 0
    counts = record["families"]["denoising_ae"]["param_counts"]
    assert counts["torch"] == counts["jaxgen"]


def test_run_without_torch_says_so(bench, capsys, monkeypatch):
    monkeypatch.setattr(bench.harness, "import_torch", lambda: None)
    argv = ["--quick", "--preset", "smoke", "--families", "feature_classifier"]
    record = bench.main([*argv, "--repeats", "1", "--warmup", "0", "--steps", "1"])
    capsys.readouterr()
    assert record["torch_missing"] == bench.harness.torch_missing()
    assert record["table"] == [] and set(record["families"]["feature_classifier"]["results"]) == {
        "jaxgen"
    }
