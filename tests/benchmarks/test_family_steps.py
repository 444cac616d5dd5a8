"""benchmarks/family_steps.py and its PyTorch twins (benchmarks/torch_twins.py): each twin,
holding a copy of jaxgen's parameters (all of them random, biases included: zeros would hide a
transposition), takes one step on one batch with jaxgen's own random draws, and its losses must
be jaxgen's `train_step` metrics; plus the script's run in-process (its JSON and table rows),
with and without torch. Tiny shapes: the smoke presets (8x8 digits), the classifier's default
preset at batch 8 (its random shifts need 28x28 images). The reverse family reads no data and
starts from its task's own image: its twins take one step from jaxgen's starting state, and the
image after it must be jaxgen's too."""

from __future__ import annotations

import importlib.util
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("family_steps")


@pytest.fixture(scope="module")
def twins(bench):
    pytest.importorskip("torch")
    return bench.harness.import_twins()


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


def uniform(key, shape):
    return np.asarray(jax.random.uniform(key, shape))


def gan_draws(task, batch, key) -> dict:
    """One run's draws of the GAN step (families/gan/adversarial.py): per discriminator update
    i, z from the first half of key i and the penalty's u from the second; z of the generator's
    update from key k. Bernoulli and normal draws are JAX's of these keys."""
    o, split = task.config.objective, jax.random.split
    k = o.discriminator_steps
    b, latent = len(batch["x"]) // k, task.config.model.latent_size
    keys = split(key, k + 1)
    draws = {
        "z_d": np.stack([normal(split(keys[i])[0], (b, latent)) for i in range(k)]),
        "z_g": normal(keys[k], (b, latent)),
    }
    if o.loss == "wasserstein_gp":
        draws["u"] = np.stack([uniform(split(keys[i])[1], (b,)) for i in range(k)])
    return draws


def dbn_draws(task, layer: int, batch, key) -> dict:
    """The DBN's pretraining step (families/dbn/task.py, rbm/model.py gibbs): the binarizing
    uniforms from the first half of the key; Gibbs round i from fold_in(second half, i), split
    into the hidden units' key and the visible units' (at the top, split again into the
    feature bits' uniforms and the label's Gumbel noise)."""
    split = jax.random.split
    key_bits, key_gibbs = split(key)
    b = len(batch["image"])
    visible, hidden = task.layer_sizes[layer]
    top = layer == task.top
    features = visible - task.num_labels if top else visible
    draws = {"bits_u": uniform(key_bits, (b, batch["image"][0].size)), "h_u": [], "v_u": []}
    gumbel = []
    for i in range(task.config.objective.gibbs_steps):
        key_h, key_v = split(jax.random.fold_in(key_gibbs, i))
        draws["h_u"].append(uniform(key_h, (b, hidden)))
        if top:
            key_v, key_label = split(key_v)
            gumbel.append(np.asarray(jax.random.gumbel(key_label, (b, task.num_labels))))
        draws["v_u"].append(uniform(key_v, (b, features)))
    draws = {k: np.stack(v) if isinstance(v, list) else v for k, v in draws.items()}
    return {**draws, "gumbel": np.stack(gumbel)} if top else draws


def jaxgen_draws(name: str, task, batch, key) -> dict:
    """The random inputs of jaxgen's step for this key, as the twin's `step` takes them (the
    same splits of the step key as the task's code). A Bernoulli draw is JAX's uniform draw of
    its key below the probability, so the twins take the uniforms."""
    split = jax.random.split
    if name in ("denoising_ae", "autoencoder"):
        from jaxgen.families.autoencoder import corruption

        o = task.config.objective
        if o.corruption == "none":
            return {}
        x = jnp.asarray(batch["image"])
        return {"x_in": corruption.corrupt(o.corruption, key, x, o.noise_level)}
    if name == "conv_vae":
        sample_key = split(split(key)[1], 1)[0]
        return {"eps": normal(sample_key, (len(batch["image"]), task.config.model.latent_size))}
    if name == "cvae":
        binarize_key, sample_key = split(key)
        b = len(batch["image"])
        return {
            "bits_u": uniform(binarize_key, (b, batch["image"][0].size)),
            "eps": normal(split(sample_key, 1)[0], (b, task.config.model.latent_size)),
        }
    if name.startswith("dbn_rbm"):
        return dbn_draws(task, int(name[len("dbn_rbm") :]) - 1, batch, key)
    if name in ("cgan", "wgan_gp", "gan_ring"):
        seeds = getattr(task, "seeds", None)
        if not seeds:
            return [gan_draws(task, batch, key)]
        from jaxgen.train import replicas

        # A many-seed step ignores its key: replica r's is fold_in(train key of seed r, step).
        keys = replicas.step_keys(replicas.replica_keys(seeds)[1], 0)
        return [
            gan_draws(task.task, {k: v[r] for k, v in batch.items()}, keys[r])
            for r in range(len(seeds))
        ]
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
    "autoencoder": ("smoke", [], {"loss": 1e-5, "mse": 1e-5}),
    "denoising_ae": ("smoke", [], {"loss": 1e-5, "mse": 1e-5}),
    "cvae": ("smoke", [], {"loss": 1e-5, "elbo": 1e-5, "kl_nats": 1e-5}),
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
    "cgan": ("smoke", [], {"loss": 1e-5, "generator_loss": 1e-4}),
    # A critic unit whose pre-activations are positive at every real and fake point has a bias
    # gradient of exactly 0 (the Wasserstein term and the penalty cancel in it): both compute
    # rounding noise there, which Adam's first update, lr g / (|g| + eps), makes +-lr. The
    # generator's loss, a mean of critic values of both signs near 0, shows it (1e-3).
    "wgan_gp": (
        "smoke",
        [],
        {"loss": 1e-4, "gradient_penalty": 1e-4, "generator_loss": 1e-2},
    ),
    # Two seeds in one program (the default runs three): each seed's own numbers and the means.
    "gan_ring": (
        "smoke",
        ["seeds=0,1"],
        dict.fromkeys(
            (
                "loss",
                "generator_loss",
                "generator_grad_norm_minimax",
                "generator_grad_norm_non_saturating",
                "seed0/loss",
                "seed1/generator_loss",
            ),
            1e-4,
        ),
    ),
    "char_lm": ("smoke", [], {"loss": 1e-5}),
    **{
        f"dbn_rbm{i}": ("smoke", [], {"loss": 1e-4, "reconstruction_error": 1e-5})
        for i in (1, 2, 3)
    },
    "feature_classifier": ("default", ["batch_size=8"], {"loss": 1e-5}),
}


def twin_draws(twins, twin, draws):
    """jaxgen's draws (a dict, or a list of them) as the twin's tensors: images in its layout,
    the classifier's offsets int64."""
    if isinstance(draws, list):
        return [twin_draws(twins, twin, d) for d in draws]
    out = {}
    for k, v in draws.items():
        if k == "x_in":
            out[k] = twin.images(v)
        else:
            out[k] = twin.tensor(v, twins.torch.int64 if k == "offsets" else twins.torch.float32)
    return out


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
    shapes = jax.eval_shape(lambda k: bench.initial_state(task, name, k), jax.random.key(0))
    state = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    state = state.replace(params=random_params(shapes.params))
    state_np = jax.tree.map(np.asarray, state)
    twin = twins.TWINS[name](task, state_np, "cpu")
    assert twin.param_counts() == bench.jaxgen_param_counts(type(twin), state_np.params)
    draws = jaxgen_draws(name, task, batch, key)
    step = jax.jit(bench.train_step(task, name))
    _, metrics = step(state, jax.tree.map(jnp.asarray, batch), key)
    theirs = twin.step(twin.batch(batch), twin_draws(twins, twin, draws))
    assert set(tolerances) <= set(theirs)
    for metric, rtol in tolerances.items():
        np.testing.assert_allclose(
            float(theirs[metric]), float(metrics[metric]), rtol=rtol, err_msg=metric
        )


@pytest.mark.parametrize("layer", [1, 3])
def test_dbn_twin_updates_its_layer_as_jaxgen(bench, twins, layer):
    """Two steps of a pretraining phase: the RBM's parameters and chains after them (SGD with
    momentum, weight decay on the weights only, the cosine schedule over the layer's budget)
    are jaxgen's."""
    name = f"dbn_rbm{layer}"
    task = bench.build(name, "smoke")
    batches = bench.first_batches(task, 2)
    shapes = jax.eval_shape(lambda k: bench.initial_state(task, name, k), jax.random.key(0))
    state = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    state = state.replace(params=random_params(shapes.params))
    twin = twins.TWINS[name](task, jax.tree.map(np.asarray, state), "cpu")
    step = jax.jit(bench.train_step(task, name))
    for i, batch in enumerate(batches):
        key = jax.random.key(10 + i)
        draws = twin_draws(twins, twin, jaxgen_draws(name, task, batch, key))
        state, _ = step(state, jax.tree.map(jnp.asarray, batch), key)
        twin.step(twin.batch(batch), draws)
    for k, v in twin.rbm.items():
        ours = np.asarray(state.params[f"rbm{layer}"][k])
        np.testing.assert_allclose(v.detach().numpy(), ours, rtol=1e-5, atol=1e-6, err_msg=k)
    np.testing.assert_array_equal(twin.chains.numpy(), np.asarray(state.chains))


def reverse_draws(name: str, task, state, key) -> dict:
    """The reverse family's draws (families/reverse/): DeepDream's roll (image_params.random_roll
    of the step key); the visualisation's transforms (visualise.py robust: the key split in
    three, the first roll's shift, the scale's index, the second roll's shift)."""
    from jaxgen.families.reverse import image_params

    def shift(k, bound):
        return [int(v) for v in image_params._random_shift(k, bound)]

    if name == "deepdream":
        image = state.params["image"]
        return {"shift": shift(key, task.config.max_roll or max(image.shape[1:3]))}
    if name == "class_visualisation":
        first, scale, last = jax.random.split(key, 3)
        jitter = task.config.jitter
        index = jax.random.randint(scale, (), 0, len(task.scales))
        return {
            "shift1": shift(first, jitter),
            "scale_index": int(index),
            "shift2": shift(last, min(1, jitter)),
        }
    return {}  # the texture: nothing drawn


# (family, overrides, {metric: relative tolerance}, the image's tolerance after the step). The
# visualisation from a spectrum of sd 0.5 (not 0.01: images near flat grey hide little);
# DeepDream with steps of 0.5, not 0.0015, so that the image after the step shows its
# gradient's normalisation (the population standard deviation, not the sample one, is 1.7e-4
# of a step here); DeepDream also in the digits' classifier (its default network's kind), at
# the 31-pixel octave: an odd side, so the average pooling pads as flax's SAME does.
VISUALISATION_METRICS = ("loss", "objective", "total_variation")
REVERSE_CASES = {
    "texture_synthesis": (
        "texture_synthesis",
        [],
        dict.fromkeys(("loss", "style_loss", "total_variation"), 1e-5),
        1e-5,
    ),
    "deepdream": ("deepdream", ["step_size=0.5"], {"loss": 1e-5, "objective": 1e-5}, 1e-5),
    "deepdream_classifier": (
        "deepdream",
        ["step_size=0.5", "network=classifier", "dataset=digits"],
        {"loss": 1e-5, "objective": 1e-5},
        1e-5,
    ),
    "class_visualisation": (
        "class_visualisation",
        ["init_sd=0.5"],
        dict.fromkeys(VISUALISATION_METRICS, 1e-5),
        1e-4,
    ),
}


@pytest.mark.parametrize("case", REVERSE_CASES)
def test_reverse_twin_takes_jaxgen_step_from_the_same_image(bench, twins, case):
    """The reverse family reads no data: the step is step(state, key, frozen), from the task's
    own starting state (DeepDream's at its timed octave, at that octave's first step, so that
    the step also records the entering image's objective); the twin takes jaxgen's draws. Its
    losses, and the image after the step, are jaxgen's."""
    name, overrides, tolerances, image_tolerance = REVERSE_CASES[case]
    task = bench.build(name, "smoke", overrides)
    key = jax.random.key(3)
    state = jax.jit(lambda k: bench.initial_state(task, name, k))(jax.random.key(0))
    if name == "deepdream":
        first = bench.FAMILIES[name].phase * task.config.steps_per_octave
        state = state.replace(step=jnp.asarray(first, state.step.dtype))
    state_np = jax.tree.map(np.asarray, state)
    twin = twins.TWINS[name](task, state_np, "cpu")
    assert twin.param_counts() == bench.jaxgen_param_counts(type(twin), state_np.params)
    draws = reverse_draws(name, task, state_np, key)
    step = jax.jit(bench.train_step(task, name))
    new_state, metrics = step(state, key, task.frozen_inputs().arrays)
    theirs = twin.step(twin.batch({}), draws)
    assert set(tolerances) <= set(theirs)
    for metric, rtol in tolerances.items():
        np.testing.assert_allclose(
            float(theirs[metric]), float(metrics[metric]), rtol=rtol, err_msg=metric
        )
    ours = new_state.params
    ours = np.asarray(task.to_image(ours) if name == "class_visualisation" else ours["image"])
    after = twin.image().permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(after, ours, rtol=0, atol=image_tolerance)
    if name == "deepdream":  # the objective entering the octave and after the step
        assert twin.PHASE == bench.FAMILIES[name].phase
        record = np.asarray(new_state.octave_objective)[bench.FAMILIES[name].phase]
        assert np.all(np.isfinite(record))
        np.testing.assert_allclose(twin.record.numpy()[twin.PHASE], record, rtol=1e-5)


@pytest.mark.parametrize("scale", [0.9, 0.95, 1.0, 1.05, 1.1])
def test_random_scale_resamples_as_jax(twins, scale):
    """The visualisation's random scale (image_params.random_scale: edge padding, then
    jax.image.scale_and_translate's antialiased bilinear weights) at each factor, on a
    non-square batch with an odd side."""
    import math

    from jaxgen.families.reverse import image_params

    torch = twins.torch
    x = np.random.default_rng(2).random((2, 9, 12, 3), np.float32)
    ours = np.asarray(image_params.random_scale(jax.random.key(0), jnp.asarray(x), (scale,)))
    margin = math.ceil(12 / 2 * max(0.0, 1 / scale - 1)) + 1
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    theirs = twins.random_scale(xt, torch.tensor([scale]), 0, margin)
    np.testing.assert_allclose(theirs.permute(0, 2, 3, 1).numpy(), ours, rtol=0, atol=1e-5)


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
    argv = ["--quick", "--preset", "smoke", "--families", "denoising_ae"]
    record = bench.main([*argv, "--repeats", "1", "--warmup", "0", "--steps", "1"])
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(record))
    assert set(record["families"]) == {"denoising_ae"}
    for family in record["families"].values():
        assert family["results"]["jaxgen"]["steps_per_s_median"] > 0
        assert len(family["load_average"]["before"]) == 3
    # Each family's jaxgen and PyTorch timed in worker processes of their own, never this one.
    processes = [pid for f in record["families"].values() for pid in f["process_ids"].values()]
    assert len(set(processes)) == len(processes) and os.getpid() not in processes
    assert "between processes" in record["protocol"]
    if not has_torch:
        assert "torch_missing" in record and record["table"] == []
        return
    # Per family, PyTorch on its threads (or CUDA), then on one CPU thread when that differs.
    one_thread = "torch_1thread" in record["families"]["denoising_ae"]["results"]
    contenders = ["torch", "torch_1thread"] if one_thread else ["torch"]
    assert [(row["family"], row["reference_contender"]) for row in record["table"]] == [
        ("autoencoder", c) for c in contenders
    ]
    for row in record["table"]:
        assert row["reference"].startswith("PyTorch eager")
        assert row["preset"] == "smoke" and row["rounds"] == 1 and row["ratio"] > 0
    counts = record["families"]["denoising_ae"]["param_counts"]
    assert counts["torch"] == counts["jaxgen"]


def test_quick_run_of_a_task_without_data(bench, capsys):
    """The reverse family's step reads a key and the frozen arrays, no batch: both contenders
    run it and the table gets its rows."""
    has_torch = importlib.util.find_spec("torch") is not None
    argv = ["--quick", "--preset", "smoke", "--families", "texture_synthesis", "--processes", "one"]
    record = bench.main([*argv, "--repeats", "1", "--warmup", "0", "--steps", "1"])
    capsys.readouterr()
    family = record["families"]["texture_synthesis"]
    assert family["results"]["jaxgen"]["steps_per_s_median"] > 0
    assert "no data" in family["step"] and "32x32x1" in family["step"]
    if has_torch:
        assert family["param_counts"]["torch"] == family["param_counts"]["jaxgen"]
        assert {row["family"] for row in record["table"]} == {"reverse"}


def test_one_process_times_every_family_here(bench, capsys):
    argv = ["--quick", "--preset", "smoke", "--families", "autoencoder,feature_classifier"]
    flags = ["--processes", "one", "--repeats", "1", "--warmup", "0", "--steps", "1"]
    record = bench.main([*argv, *flags])
    capsys.readouterr()
    ids = {pid for family in record["families"].values() for pid in family["process_ids"].values()}
    assert ids == {os.getpid()}
    assert "in this one process" in record["protocol"]


def test_run_without_torch_says_so(bench, capsys, monkeypatch):
    monkeypatch.setattr(bench.harness, "import_torch", lambda: None)
    argv = ["--quick", "--preset", "smoke", "--families", "feature_classifier"]
    record = bench.main([*argv, "--repeats", "1", "--warmup", "0", "--steps", "1"])
    capsys.readouterr()
    assert record["torch_missing"] == bench.harness.torch_missing()
    assert set(record["families"]["feature_classifier"]["process_ids"]) == {"jaxgen"}
    assert record["table"] == [] and set(record["families"]["feature_classifier"]["results"]) == {
        "jaxgen"
    }


def test_a_failing_family_keeps_the_others_measurements_and_fails_the_run(
    bench, capsys, monkeypatch
):
    def bench_family(name, *args):
        if name == "cgan":
            raise AssertionError("torch was imported in jaxgen's worker")
        return {"results": {"jaxgen": name}, "rows": [row(name)]}

    def row(name):
        return {**dict.fromkeys(bench.harness.ROW_KEYS), "experiment": name}

    monkeypatch.setattr(bench.harness, "import_torch", lambda: None)
    monkeypatch.setattr(bench, "bench_family", bench_family)
    with pytest.raises(SystemExit, match="failed: cgan"):
        bench.main(["--quick", "--families", "autoencoder,cgan,wgan_gp"])
    record = json.loads(capsys.readouterr().out)  # printed before the exit
    assert set(record["families"]) == {"autoencoder", "wgan_gp"}
    assert record["table"] == [row("autoencoder"), row("wgan_gp")]
    assert record["failed"] == {"cgan": "AssertionError: torch was imported in jaxgen's worker"}
