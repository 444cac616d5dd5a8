"""Step speed of neural style transfer at 256 pixels: jaxgen (jitted, donated state) vs PyTorch
eager, on VGG19 with random weights as experiments/style_transfer.py runs it with the TensorFlow
tutorial's loss weights.

    python benchmarks/style_transfer_step.py [--quick] [--image-size 256]
                                             [--repeats N] [--steps N] [--warmup N]
                                             [--processes contender|one]

(`--rounds` is `--repeats`.) The task is `experiments/style_transfer.py` loaded with
`jaxgen.config.load_config` and built by `jaxgen.families.build_task` (`StyleTask`) with
network=random_vgg19 (VGG19, He-normal random weights, seed 0), image_size=256,
style_weight=1e-2, content_weight=1e4, tv_weight=30, no check network: scikit-image's `chelsea`
in the style of `coffee`, each resized so that its longer side is 256 pixels, so the optimised
image is chelsea's 170x256 (1 x 170 x 256 x 3) and the style targets come from coffee's
171x256. `--quick`: image_size=64 (a 43x64 image), one step a round, two rounds.

One step (jaxgen's `StyleTask.train_step`; the same in the PyTorch copy): the image, pixels in
[0, 1], is preprocessed as Keras's VGG does it (255 * image, RGB -> BGR, minus the ImageNet
means), run through VGG19 up to block5_conv2 (3x3 convolutions with SAME padding and ReLU, 2x2
max pooling after each block); the style loss is the mean over block1_conv1 ... block5_conv1 of
the mean squared difference between the image's Gram matrix (einsum('bijc,bijd->bcd') / (H W))
and the style image's; the content loss the mean squared difference of block5_conv2's features
and the content image's; total variation the sum of the absolute differences of neighbouring
pixels; the loss 1e-2 style + 1e4 content + 30 total variation; its gradient with respect to the
pixels; one Adam update (lr 0.02, betas 0.99 and 0.999, eps 0.1); the pixels clipped to [0, 1].
The targets (Gram matrices and features) are the task's own, computed once. Contenders, timed
interleaved (benchmarks/harness.py: every round runs each of them for the same number of steps,
the starting contender rotating), medians over rounds; by default (`--processes contender`)
jaxgen's and PyTorch's each in a worker process of its own, as benchmarks/family_steps.py runs
them and for its reasons (jaxgen's worker never imports torch; PyTorch's runs with jaxgen's
native library off), with `--processes one` all in this process. The checks below run in this
process either way, before the timing:

- `jaxgen`: `StyleTask.train_step(state, key, frozen)` jitted with the state donated, the
  frozen arrays (the network's weights and the targets) placed on the device once: what the
  training loop runs (its `step_fn` jits the same function with the state donated).
- `torch`: the same computation in PyTorch eager, written out here: `F.conv2d` and
  `F.max_pool2d` on NCHW tensors with the same weights (jaxgen's HWIO kernels as OIHW), the
  same preprocessing, targets (jaxgen's, NHWC -> NCHW) and losses (|x| in the total variation
  with JAX's derivative, +1 at 0: neighbouring pixels of flat regions are exactly equal, where
  PyTorch's `abs` would give 0), `torch.optim.Adam([image], lr=0.02, betas=(0.99, 0.999),
  eps=0.1)`, then `image.data.clamp_(0, 1)`; `torch.set_num_threads` equal to the number of
  cores XLA's CPU client uses. (channels_last tensors ran no faster: NCHW, PyTorch's default.)
- `torch_1thread`: the same PyTorch step on one thread. Unlike seq2seq_step.py's small matrix
  products, these are large convolutions (block1: 64 -> 64 channels over 170 x 256 positions,
  forward and backward), which intra-op threads split well on an idle machine; but PyTorch's
  OpenMP threads wait for each other at every operation, and on a busy machine a thread that
  has lost its core holds up the rest: on this 2-core machine, with another process using
  about one core, 2 threads took 2.1 s a step at 256 pixels and 1 thread 0.54 s (at 64 pixels
  1.17 s against 0.07 s). This contender tells that apart from the work. (XLA's thread pool
  is set when the process starts; jaxgen has no one-thread contender.)
Both PyTorch contenders are left out, and said so in the JSON (`torch_missing`), when torch is
not installed (`pip install torch==2.13.0`). With CUDA (`torch.cuda.is_available()`) `torch`
runs there (synchronized before the clock is read) and there is no `torch_1thread`; the checks
run on the CPU. The JSON's `table` holds the rows (benchmarks/table.py) of `jaxgen` against
`torch` and against `torch_1thread`.

Checks before timing (with torch installed): one step each, with a fresh optimizer, from the
starting image (the content image) and from jaxgen's image after one step:
- the loss, style loss, content loss and total variation (jaxgen's metrics `loss`,
  `style_loss`, `content_loss`, `total_variation`, of the image the step starts from) to 1e-4
  relative, and the gradients' norms to 1e-4 relative. On the content image the content loss
  is float32 rounding noise in both (the content image's block5_conv2 features minus the same
  features computed once before: about 1e-9, where it is about 25 a step later), so there it
  is held to 1e-4 of the content targets' mean square instead.
- the images after the step: to 1e-4 in mean absolute difference, and every pixel within
  lr / eps = 0.2 times the difference of its two gradients (+ 1e-6): Adam's first update,
  lr g / (|g| + eps), moves a pixel by at most that per unit of gradient, so this says that
  both applied the same update to their gradients.
- the gradients: to 1e-2 relative, |g_torch - g_jaxgen| / |g_jaxgen|.
1e-4 absolute on every pixel, and 1e-4 on every gradient, are not reachable in float32. VGG on
[0, 255] inputs has features in the hundreds to thousands, and the content term's gradient is
1e4 times backpropagated (features - targets), a difference of nearly equal numbers near the
content image: float32 rounding of the features (about 1e-6 of them) becomes about 1e-3 of
that difference. Measured at 256 pixels: the gradients differ by 5e-4 (start) and 1.3e-3
(after one step) relative in norm on the AVX-512 machines, by up to 0.5% of the largest in a few
patches, and by 7e-4 and 5.1e-3 on an AVX2 one (2.5e-3 after one step with XLA's
convolutions, `JAXGEN_ONEDNN=0`: each kernel rounds in its own order); the same
computation in float64 (written against jaxgen's functions with jax_enable_x64, outside this
script) agrees with the PyTorch copy's float64 run to 1e-14, and merely rounding the ImageNet
means to float32 moves a float64 gradient by 2e-3. Where a pixel's gradient is near 0 Adam's
update turns such differences into up to 0.2 times them: from the content image about 1.5% of
the pixels end up more than 1e-4 apart (at most ~0.02, the mean 1e-5); from the next image
0.1% (at most ~0.04, the mean 4e-6). The JSON's `checks` holds every number.

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import pathlib
import sys

import harness
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen.config import load_config
from jaxgen.families import build_task
from jaxgen.nn import vgg
from jaxgen.train.state import TrainState

EXPERIMENT = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "style_transfer.py"
# The TensorFlow tutorial's loss weights (VGG19 on [0, 255] inputs), in a random VGG19 (no
# weights file), measured in no second network (its losses are not part of the step).
OVERRIDES = (
    "network=random_vgg19",
    "style_weight=1e-2",
    "content_weight=1e4",
    "tv_weight=30",
    "check_network=",
    "progress=false",
)
LOSS_PARTS = ("loss", "style_loss", "content_loss", "total_variation")
TOLERANCE = 1e-4  # relative for the losses, absolute for the pixels
GRAD_TOLERANCE = 1e-2  # |g_torch - g_jaxgen| / |g_jaxgen|: float32 rounding (docstring)
NUM_KEYS = 8  # distinct step keys, cycled (the step draws nothing: the key is unused)


def style_task(image_size: int):
    """The task of experiments/style_transfer.py with OVERRIDES at `image_size` pixels."""
    return build_task(load_config(str(EXPERIMENT), [*OVERRIDES, f"image_size={image_size}"]))


def check_supported(task) -> None:
    config = task.config
    if task.texture or task.network.layers != tuple(vgg.layer_names("vgg19")):
        raise SystemExit("the PyTorch copy is of style transfer in VGG19")
    if config.optimizer != "adam":
        raise SystemExit("the PyTorch copy steps by Adam (and clips the pixels to [0, 1])")
    if task.network.channels != 3 or task.shape[-1] != 3:
        raise SystemExit("the PyTorch copy takes RGB images")


# ---- the PyTorch copy ----------------------------------------------------------------------------


def to_nchw(torch, array_NxHxWxC) -> object:
    return torch.from_numpy(np.array(array_NxHxWxC, np.float32)).permute(0, 3, 1, 2)


def torch_network(torch, weights, device="cpu") -> list[tuple[str, object, object]]:
    """VGG19 as (layer name, OIHW kernel, bias) in forward order, (name, None, None) for the
    poolings: jaxgen's HWIO kernels transposed, the same numbers, on `device`."""
    layers = []
    for name in vgg.layer_names("vgg19"):
        if name.endswith("_pool"):
            layers.append((name, None, None))
            continue
        kernel = np.asarray(weights[name]["kernel"], np.float32).transpose(3, 2, 0, 1)
        bias = np.asarray(weights[name]["bias"], np.float32)
        kernel, bias = torch.from_numpy(kernel.copy()), torch.from_numpy(bias.copy())
        layers.append((name, kernel.to(device), bias.to(device)))
    return layers


def torch_features(torch, network, image_Nx3xHxW, wanted) -> dict:
    """{layer: activations (N x C x h x w)} of the pixels in [0, 1], as `_vgg_forward` of
    jaxgen/families/reverse/networks.py: Keras's preprocessing of 255 * image (RGB -> BGR,
    minus the ImageNet means), 3x3 convolutions padded by 1 (SAME), ReLU, 2x2 max pooling
    (VALID); the layers past the deepest wanted one are not run."""
    F = torch.nn.functional
    mean_bgr = torch.tensor(
        vgg._MEAN_BGR, dtype=image_Nx3xHxW.dtype, device=image_Nx3xHxW.device
    ).view(1, 3, 1, 1)
    x = (255.0 * image_Nx3xHxW).flip(1) - mean_bgr
    wanted, found = set(wanted), {}
    for name, kernel, bias in network:
        if len(found) == len(wanted):
            break
        if kernel is None:
            x = F.max_pool2d(x, 2)
        else:
            x = F.relu(F.conv2d(x, kernel, bias, padding=1))
        if name in wanted:
            found[name] = x
    return found


def torch_targets(torch, targets, device="cpu") -> dict:
    """jaxgen's targets, {"grams": {layer: 1 x C x C}, "features": {layer: NHWC}}, as the
    PyTorch copy reads them: C x C and NCHW, on `device`."""
    return {
        "grams": {
            k: torch.from_numpy(np.array(v[0], np.float32)).to(device)
            for k, v in targets["grams"].items()
        },
        "features": {
            k: to_nchw(torch, v).contiguous().to(device) for k, v in targets["features"].items()
        },
    }


def torch_objective(torch, network, targets, weights, image):
    """(loss, {style_loss, content_loss, total_variation}) of the 1 x 3 x H x W image, as
    `StyleTask.objective` (losses.py, image_params.total_variation)."""
    twins = harness.import_twins()  # the Gram matrix and total variation of the other twins
    style_layers, content_layers = tuple(targets["grams"]), tuple(targets["features"])
    feats = torch_features(torch, network, image, style_layers + content_layers)
    style = torch.stack(
        [torch.mean((twins.gram(feats[k])[0] - t) ** 2) for k, t in targets["grams"].items()]
    ).mean()
    content = torch.stack(
        [torch.mean((feats[k] - t) ** 2) for k, t in targets["features"].items()]
    ).mean()
    tv = twins.total_variation(image)[0]  # |x| with JAX's derivative, +1 at 0 (twins.jax_abs)
    style_weight, content_weight, tv_weight = weights
    loss = style_weight * style + content_weight * content + tv_weight * tv
    return loss, {"style_loss": style, "content_loss": content, "total_variation": tv}


def torch_trainer(torch, task, image0_1xHxWx3, device="cpu"):
    """(image, step() -> (loss, parts)): the PyTorch pixels (1 x 3 x H x W, from
    `image0_1xHxWx3`, on `device`) and their step (loss, backward, Adam with the task's
    settings, clip)."""
    config = task.config
    frozen = task.frozen_inputs().arrays
    network = torch_network(torch, frozen["network"], device)
    targets = torch_targets(torch, frozen["targets"], device)
    weights = (config.style_weight, config.content_weight, config.tv_weight)
    image = to_nchw(torch, image0_1xHxWx3).to(device).clone().requires_grad_(True)
    optimizer = torch.optim.Adam(
        [image], lr=config.learning_rate, betas=(config.adam_b1, 0.999), eps=config.adam_eps
    )

    def step():
        loss, parts = torch_objective(torch, network, targets, weights, image)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        image.data.clamp_(0, 1)
        return loss.detach(), parts

    return image, step


# ---- checks --------------------------------------------------------------------------------------


def loss_values(metrics_or_parts, loss=None) -> dict[str, float]:
    """{loss, style_loss, content_loss, total_variation} as floats (jaxgen's metrics, or the
    PyTorch copy's loss and parts)."""
    values = dict(metrics_or_parts) if loss is None else {"loss": loss, **metrics_or_parts}
    return {name: float(values[name].item()) for name in LOSS_PARTS}


def compare(ours: dict, theirs: dict, where: str, tolerance: float, skip=()) -> dict:
    """Asserts the relative differences of the losses (but those in `skip`) below
    `tolerance`; returns jaxgen's, torch's and the differences, keys ending in `where`."""
    out = {}
    for name in LOSS_PARTS:
        rel = abs(theirs[name] - ours[name]) / abs(ours[name])
        if name not in skip:
            assert rel < tolerance, (
                f"{name} {where} differs: torch {theirs[name]}, jaxgen {ours[name]} ({rel:.2e})"
            )
        out[f"{name}_{where}"] = {"jaxgen": ours[name], "torch": theirs[name], "rel_diff": rel}
    return out


def one_step_each(torch, task, image0, frozen, step) -> dict:
    """One step of jaxgen (`step`, from a fresh state holding `image0`) and of the PyTorch copy
    (a fresh Adam) from `image0`: {side: (loss values, gradient, image after), 1 x H x W x 3}."""
    config = task.config
    state = TrainState.create({"image": jnp.asarray(image0)}, task.tx)
    state, metrics = step(state, jax.random.key(0), frozen)
    # The gradient that step used: Adam's first moment after one update is (1 - b1) g.
    grad = np.asarray(optax.tree.get(state.opt_state, "mu")["image"]) / (1 - config.adam_b1)
    out = {"jaxgen": (loss_values(metrics), grad, np.asarray(state.params["image"]))}
    image, torch_step = torch_trainer(torch, task, image0)
    loss, parts = torch_step()
    nhwc = lambda t: t.detach().permute(0, 2, 3, 1).numpy()  # noqa: E731
    out["torch"] = (loss_values(parts, loss), nhwc(image.grad), nhwc(image))
    return out


def compare_steps(sides: dict, image0, where: str, tolerance: float, slope: float, skip=()) -> dict:
    """Asserts: the losses (but those in `skip`) and the gradients' norms to `tolerance`
    relative, the gradients to GRAD_TOLERANCE relative (in norm), the images after the step to
    `tolerance` in mean absolute difference and every pixel of them within `slope` (lr / eps)
    times the difference of its two gradients (+ 1e-6); returns the differences."""
    (ours, jax_grad, jax_after), (theirs, torch_grad, torch_after) = sides["jaxgen"], sides["torch"]
    checks = compare(ours, theirs, where, tolerance, skip)
    grad_diff = np.abs(torch_grad - jax_grad)
    norm_ours, norm_theirs = np.linalg.norm(jax_grad), np.linalg.norm(torch_grad)
    norm_rel = float(abs(norm_theirs - norm_ours) / norm_ours)
    assert norm_rel < tolerance, f"gradient norms {where} differ: {norm_theirs}, {norm_ours}"
    grad_rel = float(np.linalg.norm(torch_grad - jax_grad) / norm_ours)
    assert grad_rel < GRAD_TOLERANCE, f"gradients {where} differ by {grad_rel:.2e} in norm"
    image_diff = np.abs(torch_after - jax_after)
    image_mean = float(np.mean(image_diff))
    assert image_mean < tolerance, f"images after a step {where} differ by {image_mean} on average"
    # Adam's first update, lr g / (|g| + eps), moves a pixel by at most lr / eps per unit of
    # gradient, and the clip by no more: the same update applied to the two gradients.
    excess = float(np.max(image_diff - slope * grad_diff))
    assert excess < 1e-6, f"images after a step {where} differ by {excess} beyond the bound"
    return {
        **checks,
        f"grad_{where}": {
            "norm_rel_diff": norm_rel,
            "rel_diff_in_norm": grad_rel,
            "max_abs": float(np.max(np.abs(jax_grad))),
            "max_abs_diff": float(np.max(grad_diff)),
            "median_abs_diff": float(np.median(grad_diff)),
        },
        f"image_one_step_from_{where}": {
            "moved_by_max_abs": float(np.max(np.abs(jax_after - image0))),
            "mean_abs_diff": image_mean,
            "max_abs_diff": float(np.max(image_diff)),
            "share_within_tolerance": float(np.mean(image_diff <= tolerance)),
            "max_excess_over_lr_over_eps_times_grad_diff": excess,
        },
    }


def check_against_torch(torch, task, tolerance: float = TOLERANCE) -> dict:
    """The PyTorch copy against jaxgen, one step each with a fresh optimizer from the starting
    image and from jaxgen's image after one step; asserts (see the module's docstring) and
    returns the differences."""
    config = task.config
    frozen = task.frozen_inputs().arrays
    step = jax.jit(task.train_step)
    slope = config.learning_rate / config.adam_eps
    image0 = np.asarray(task.init_params(jax.random.key(config.seed))["image"])
    start = one_step_each(torch, task, image0, frozen, step)
    checks = compare_steps(start, image0, "start", tolerance, slope, skip=("content_loss",))
    # The starting image is the content image: its content loss is rounding noise (about 1e-9)
    # in both, held to `tolerance` of the content targets' mean square instead.
    content_scale = float(
        np.mean([np.mean(np.square(f)) for f in frozen["targets"]["features"].values()])
    )
    content = checks["content_loss_start"]
    content_diff = abs(content["torch"] - content["jaxgen"])
    assert content_diff < tolerance * content_scale, f"content losses differ by {content_diff}"
    content["abs_diff_over_target_mean_square"] = content_diff / content_scale
    image1 = start["jaxgen"][2]  # jaxgen's image after one step
    after = one_step_each(torch, task, image1, frozen, step)
    checks |= compare_steps(after, image1, "after_one_step", tolerance, slope)
    return {"tolerance": tolerance, "grad_tolerance": GRAD_TOLERANCE, **checks}


# ---- contenders ----------------------------------------------------------------------------------


def torch_contender(torch, task, image0, platform):
    """run(n, threads): n PyTorch steps on `platform`'s device, on from where the last run
    stopped; threads None keeps the platform's."""
    _, step = torch_trainer(torch, task, image0, platform.device)

    def run(n: int, threads: int | None = None) -> None:
        if threads is None:
            platform.set_threads()
        else:
            torch.set_num_threads(threads)
        for _ in range(n):
            loss, _ = step()
        platform.sync()
        float(loss)  # eager ops are done when they return; this reads the last loss

    return run


def jaxgen_stepper(task) -> harness.Stepper:
    """jaxgen's contender: `task.train_step` jitted with the state donated, from
    `task.init_state` at the config's seed, not yet compiled."""
    state = jax.jit(task.init_state)(jax.random.key(task.config.seed))
    frozen = jax.device_put(task.frozen_inputs().arrays)  # once, as the training loop does
    keys = list(jax.random.split(jax.random.key(42), NUM_KEYS))
    # The harness's Stepper calls fn(state, batch, key): here the "batches" are the step keys
    # and the one "key" is the frozen arrays, so it calls train_step(state, key, frozen).
    return harness.Stepper(harness.jit_train_step(task, task.train_step), state, keys, [frozen])


def jaxgen_side(args) -> tuple[dict, dict]:
    """(jaxgen's contender, compiled; facts: its compile time)."""
    stepper = jaxgen_stepper(style_task(args.image_size))
    return {"jaxgen": stepper}, {"compile_s": {"jaxgen": round(stepper.compile(), 3)}}


def torch_side(args, torch, platform) -> tuple[dict, dict]:
    """(PyTorch's contenders from the task's starting image: `torch`, and `torch_1thread` on a
    CPU; facts: none)."""
    task = style_task(args.image_size)
    image0 = np.asarray(task.init_params(jax.random.key(task.config.seed))["image"])
    run = torch_contender(torch, task, image0, platform)
    contenders = {"torch": run}
    if not platform.cuda:
        contenders["torch_1thread"] = lambda n: run(n, threads=1)
    return contenders, {}


def main(argv: list[str] | None = None) -> dict:
    bench = harness.Benchmark("style_transfer_step", __doc__, repeats=(7, 2), steps=(3, 1))
    bench.parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="the longer side of the images in pixels (default 256, quick 64)",
    )
    bench.add_process_flags()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = bench.parse(argv)
    if args.image_size is None:
        args.image_size = 64 if args.quick else 256
    log = harness.log
    xla_threads = harness.machine_facts()["cores"]
    torch = None if args.serve == "jaxgen" else harness.import_torch()  # jaxgen's worker: none
    platform = None if torch is None else harness.TorchPlatform(torch, xla_threads)
    sides = {"jaxgen": lambda: jaxgen_side(args)}
    if torch is not None:
        sides["torch"] = lambda: torch_side(args, torch, platform)
    if args.serve:
        contenders, facts = sides[args.serve]()
        harness.serve(contenders, facts)
        return {}

    log(f"building the style transfer task at {args.image_size} pixels ...")
    task = style_task(args.image_size)
    check_supported(task)
    config = task.config
    payload, checks = {}, {}
    if torch is None:
        payload["torch_missing"] = harness.torch_missing()
    else:
        payload["torch_platform"] = platform.facts()
        # Here, in the process that times nothing: the checks need both frameworks.
        log("checking the PyTorch copy against jaxgen (loss and its parts, one step) ...")
        checks = check_against_torch(torch, task)
        log(f"checks: {checks}")

    with contextlib.ExitStack() as stack:
        contenders, facts, process_ids = harness.side_contenders(
            stack, args.processes, sides, __file__, argv
        )
        compile_s = {k: v for f in facts.values() for k, v in f.get("compile_s", {}).items()}
        log(f"timing {len(contenders)} contenders, {args.repeats} rounds of {args.steps} steps ...")
        times = harness.interleave(contenders, args.repeats, args.steps, args.warmup)
    results = harness.summarize(times)
    ratios = {}
    for reference in ("torch", "torch_1thread"):
        if reference in times:
            ratios[reference] = harness.speed_ratio(times, "jaxgen", reference)
            for name in results:
                r = harness.speed_ratio(times, name, reference)
                results[name][f"speed_vs_{reference}_median"] = r["median_per_round"]
                results[name][f"speed_vs_{reference}_best_rounds"] = r["of_best_rounds"]

    height, width, _ = task.shape
    config_name = f"{EXPERIMENT.relative_to(EXPERIMENT.parent.parent)}"
    table = harness.torch_rows(
        times,
        platform,
        family="reverse",
        experiment=config_name,
        overrides=[*OVERRIDES, f"image_size={args.image_size}"],
        step=(
            f"one {height}x{width}x3 image optimised: VGG19 (random weights) up to "
            "block5_conv2, Gram-matrix style loss on 5 layers, content loss on "
            "block5_conv2, total variation; the gradient with respect to the pixels; "
            f"Adam {config.learning_rate:g} (eps {config.adam_eps:g}), pixels clipped; "
            "1 update"
        ),
    )
    if args.processes == "contender":
        bench.where = "between processes"
    return bench.emit(
        protocol_note=(
            "speed_vs_X_median = median over rounds of (X's time / this one's time), above 1 "
            "when faster than X; jaxgen_over_X: jaxgen's speed over X's (of the medians, median "
            "of the per-round ratios, of the fastest rounds); "
            + (
                f"{harness.IN_WORKERS}, the checks in this one"
                if args.processes == "contender"
                else "all contenders and the checks in this one process"
            )
        ),
        model=(
            f"{task.network.description}, up to block5_conv2, on Keras's preprocessing of "
            "255 * image; style layers "
            f"{', '.join(task.style_layers)}, content layer {', '.join(task.content_layers)}"
        ),
        config=f"{config_name} {' '.join(OVERRIDES)} image_size={args.image_size}",
        images=(
            f"content: scikit-image's {config.content_image} ({height}x{width}, optimised); "
            f"style: {config.style_image} ({task.style_image.shape[0]}x"
            f"{task.style_image.shape[1]}); the longer sides {args.image_size} pixels"
        ),
        loss=(
            f"{config.style_weight} style + {config.content_weight} content + "
            f"{config.tv_weight} total variation"
        ),
        optimizer=(
            f"adam {config.learning_rate} (b1 {config.adam_b1}, b2 0.999, eps "
            f"{config.adam_eps}), pixels clipped to [0, 1] after every step"
        ),
        image_size=args.image_size,
        image_shape=[height, width, 3],
        cores_xla_uses=xla_threads,
        torch_threads=platform.threads if torch is not None else None,
        compile_s=compile_s,
        process_ids=process_ids,
        checks=checks,
        jaxgen_over_torch=ratios.get("torch"),
        jaxgen_over_torch_1thread=ratios.get("torch_1thread"),
        results=results,
        table=table,
        **payload,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
