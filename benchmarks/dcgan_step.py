"""Train-step speed of the DCGAN on 28x28x1 images: jaxgen vs jaxgen with flax's ConvTranspose
vs PyTorch eager.

    python benchmarks/dcgan_step.py [--quick] [--batch-size 256] [--steps 4] [--repeats 7]
                                    [--warmup 1] [--flax-steps 2] [--skip-flax]

Model: `experiments/dcgan.py` (the classic DCGAN of the TensorFlow tutorial;
`jaxgen.families.gan.model`) at the classic widths of its `full` preset, loaded with
`jaxgen.config.load_config` and built as `jaxgen.families.build_task` builds it
(`ImageGANTask`: its players, `txs` and `train_step`). The generator maps z (100) by
Dense(7*7*256, no bias) + BN + LeakyReLU(0.2), then 5x5 transposed
convolutions to 128 (stride 1), 64 (stride 2), both without bias + BN + LeakyReLU, and to 1
(stride 2, with bias) + tanh; the discriminator has 5x5 stride-2 SAME convolutions to 64 and 128
(+ LeakyReLU), then a dense logit. One step = one discriminator update on real and generated
images concatenated in one call, then one generator update with fresh z through the updated
discriminator; non-saturating loss; Adam 2e-4, betas (0.5, 0.999), for each player.

Contenders, timed interleaved (benchmarks/harness.py), medians over rounds. jaxgen's two and
PyTorch's two run in two worker processes (`--processes contender`, the default; `one` puts
them all in this process), as in benchmarks/family_steps.py, which says why: jaxgen's never
imports torch, PyTorch's runs with jaxgen's native library off, so that neither's OpenMP teams
throttle the other's.

- `jaxgen`: the task's `train_step`, jitted with the state donated.
- `jaxgen_flax_conv_transpose`: the same with `--config.model.transposed_conv=flax`, i.e.
  `flax.linen.ConvTranspose` instead of jaxgen's transposed convolution (whose custom VJP
  avoids XLA:CPU's slow kernel gradient of a transposed convolution); it is slow, so it runs
  `--flax-steps` steps per round.
- `torch_2threads` and `torch_1thread`: the same model, loss, optimizer and update order in
  PyTorch eager: D step on cat(real, G(z).detach()), then G step with fresh z through the
  updated D (D's parameters frozen for that backward pass, as jaxgen differentiates only G
  there). Padding gives the same shapes (padding=2; output_padding=1 for the stride-2
  transposed convolutions); BatchNorm momentum 0.1 (flax's 0.9). Left out, and said so in the
  JSON (`torch_missing`), when torch is not installed (`pip install torch==2.13.0`). With CUDA
  (`torch.cuda.is_available()`) they are replaced by `torch_cuda`, the same step on the GPU,
  synchronized before the clock is read.

The JSON's `table` holds the rows (benchmarks/table.py) of `jaxgen` against `torch_2threads`
and `torch_1thread` (against `torch_cuda` with CUDA).

`--quick`: batch 32, 1 step per round, 2 rounds. The parameter counts of the jaxgen and PyTorch
players are checked equal and printed. Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import pathlib
import sys

import harness
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.config import load_config
from jaxgen.families import build_task
from jaxgen.families.gan import adversarial
from jaxgen.nn.common import count_params

EXPERIMENT = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "dcgan.py"
CLASSIC_WIDTHS = ("model.generator_channels=256,128,64", "model.discriminator_channels=64,128")
IMAGE_SHAPE = (28, 28, 1)
NUM_BATCHES = 4  # distinct real batches, cycled
NUM_KEYS = 64  # distinct step keys, cycled


def build_gan_task(batch_size: int, transposed_conv: str):
    """The DCGAN task of experiments/dcgan.py at the classic widths."""
    overrides = [*CLASSIC_WIDTHS, f"batch_size={batch_size}"]
    overrides.append(f"model.transposed_conv={transposed_conv}")
    return build_task(load_config(str(EXPERIMENT), overrides))


def step_inputs(batch_size: int) -> tuple[list[dict], list[jax.Array]]:
    """The step's inputs, cycled: NUM_BATCHES batches of random pixels in [-1, 1] (labels 0)
    and NUM_KEYS step keys, the same in every script that times this step."""
    rng = np.random.default_rng(1)
    batches = [
        {
            "x": jnp.asarray(rng.uniform(-1, 1, (batch_size, *IMAGE_SHAPE)).astype(np.float32)),
            "label": jnp.zeros((batch_size,), jnp.int32),
        }
        for _ in range(NUM_BATCHES)
    ]
    return batches, list(jax.random.split(jax.random.key(42), NUM_KEYS))


def custom_vjp_calls(players: adversarial.Players, state: adversarial.GANState) -> int:
    """custom_vjp calls in the generator's jaxpr: 3 with jaxgen's layer, 0 with flax's."""
    g_vars = {"params": state.params["generator"], "batch_stats": state.batch_stats["generator"]}
    z = jnp.zeros((2, players.latent_size))
    label = jnp.zeros((2,), jnp.int32)
    jaxpr = jax.make_jaxpr(lambda v: players.generate(v, z, label, True)[0])(g_vars)
    return str(jaxpr).count("custom_vjp_call")


def jaxgen_contender(task, batches: list[dict], keys: list[jax.Array]) -> tuple:
    """(the compiled, state-donating step as a contender, its facts)."""
    state = jax.jit(task.init_state)(jax.random.key(0))
    stepper = harness.Stepper(harness.jit_train_step(task, task.train_step), state, batches, keys)
    facts = {
        "param_counts": {p: count_params(state.params[p]) for p in adversarial.PLAYERS},
        "custom_vjp_calls": custom_vjp_calls(task.players, state),
        "compile_s": round(stepper.compile(), 2),
    }
    return stepper, facts


def torch_contender(
    torch, batches: list[dict], learning_rate: float, betas: tuple, platform: harness.TorchPlatform
):
    """The same DCGAN step in PyTorch eager on `platform`'s device; returns run(n, threads)
    (threads None: the platform's) and the parameter counts."""
    from torch import nn as tnn

    leak = 0.2

    class Reshape(tnn.Module):
        def forward(self, x):
            return x.view(x.shape[0], 256, 7, 7)

    generator = tnn.Sequential(
        tnn.Linear(100, 7 * 7 * 256, bias=False),
        tnn.BatchNorm1d(7 * 7 * 256, momentum=0.1),
        tnn.LeakyReLU(leak),
        Reshape(),
        tnn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False),
        tnn.BatchNorm2d(128, momentum=0.1),
        tnn.LeakyReLU(leak),
        tnn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False),
        tnn.BatchNorm2d(64, momentum=0.1),
        tnn.LeakyReLU(leak),
        tnn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1),
        tnn.Tanh(),
    )
    discriminator = tnn.Sequential(
        tnn.Conv2d(1, 64, 5, stride=2, padding=2),
        tnn.LeakyReLU(leak),
        tnn.Conv2d(64, 128, 5, stride=2, padding=2),
        tnn.LeakyReLU(leak),
        tnn.Flatten(),
        tnn.Linear(128 * 7 * 7, 1),
    )
    torch.manual_seed(0)
    device = platform.device
    generator, discriminator = generator.to(device), discriminator.to(device)
    g_opt = torch.optim.Adam(generator.parameters(), lr=learning_rate, betas=betas)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=learning_rate, betas=betas)
    softplus = torch.nn.functional.softplus
    reals = [
        torch.from_numpy(np.asarray(b["x"]).transpose(0, 3, 1, 2).copy()).to(device)
        for b in batches
    ]
    batch_size = reals[0].shape[0]
    with torch.no_grad():  # the shapes match jaxgen's
        assert generator(torch.randn(2, 100, device=device)).shape == (2, 1, 28, 28)

    def step(real):
        # Discriminator update on real and generated images in one call.
        fake = generator(torch.randn(batch_size, 100, device=device)).detach()
        real_logits, fake_logits = discriminator(torch.cat([real, fake]))[:, 0].chunk(2)
        d_loss = softplus(-real_logits).mean() + softplus(fake_logits).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        # Generator update with fresh z through the updated discriminator.
        for p in discriminator.parameters():
            p.requires_grad_(False)
        z = torch.randn(batch_size, 100, device=device)
        g_loss = softplus(-discriminator(generator(z))[:, 0]).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        for p in discriminator.parameters():
            p.requires_grad_(True)
        return d_loss, g_loss

    calls = [0]

    def run(n: int, threads: int | None = None) -> None:
        if threads is None:
            platform.set_threads()
        else:
            torch.set_num_threads(threads)
        for _ in range(n):
            losses = step(reals[calls[0] % len(reals)])
            calls[0] += 1
        platform.sync()
        [loss.item() for loss in losses]

    counts = {
        "generator": sum(p.numel() for p in generator.parameters()),
        "discriminator": sum(p.numel() for p in discriminator.parameters()),
    }
    return run, counts


def step_settings(args) -> tuple[dict, tuple]:
    """(the players' learning rates, Adam's betas) of the task's config."""
    overrides = [*CLASSIC_WIDTHS, f"batch_size={args.batch_size}"]
    config = load_config(str(EXPERIMENT), overrides)
    rates = {p: config[f"{p}_learning_rate"] for p in adversarial.PLAYERS}
    assert rates["generator"] == rates["discriminator"], rates  # the PyTorch side has one rate
    return rates, (config.adam_b1, config.adam_b2)


def jaxgen_side(args) -> tuple[dict, dict]:
    """(jaxgen's contenders; facts: their steps per round, parameter counts, compile times and
    the generator's custom-VJP checks)."""
    batches, keys = step_inputs(args.batch_size)
    harness.log("compiling the jaxgen step ...")
    stepper, facts = jaxgen_contender(build_gan_task(args.batch_size, "jaxgen"), batches, keys)
    contenders, steps = {"jaxgen": stepper}, {"jaxgen": args.steps}
    compile_s = {"jaxgen": facts["compile_s"]}
    checks = {"jaxgen_generator_custom_vjp_calls": facts["custom_vjp_calls"]}
    if not args.skip_flax:
        harness.log("compiling the step with flax's ConvTranspose ...")
        flax_stepper, flax_facts = jaxgen_contender(
            build_gan_task(args.batch_size, "flax"), batches, keys
        )
        assert flax_facts["param_counts"] == facts["param_counts"]
        assert flax_facts["custom_vjp_calls"] == 0, "transposed_conv=flax still uses jaxgen's"
        checks["flax_generator_custom_vjp_calls"] = flax_facts["custom_vjp_calls"]
        contenders["jaxgen_flax_conv_transpose"] = flax_stepper
        steps["jaxgen_flax_conv_transpose"] = args.flax_steps
        compile_s["jaxgen_flax_conv_transpose"] = flax_facts["compile_s"]
    facts = {"param_counts": {"jaxgen": facts["param_counts"]}, "compile_s": compile_s}
    return contenders, {**facts, "steps": steps, "checks": checks}


def torch_side(args, torch, platform) -> tuple[dict, dict]:
    """(PyTorch's contenders; facts: their steps per round, its parameter counts)."""
    batches, _ = step_inputs(args.batch_size)
    rates, betas = step_settings(args)
    run, counts = torch_contender(torch, batches, rates["generator"], betas, platform)
    if platform.cuda:
        contenders = {"torch_cuda": run}
    else:
        contenders = {"torch_2threads": lambda n: run(n, 2), "torch_1thread": lambda n: run(n, 1)}
    steps = dict.fromkeys(contenders, args.steps)
    return contenders, {"steps": steps, "param_counts": {"torch": counts}}


def main() -> None:
    bench = harness.Benchmark("dcgan_step", __doc__, repeats=(7, 2), steps=(4, 1))
    bench.parser.add_argument("--batch-size", type=int, default=None, help="256, quick 32")
    bench.parser.add_argument(
        "--flax-steps", type=int, default=None, help="steps per round of the flax variant (2)"
    )
    bench.parser.add_argument("--skip-flax", action="store_true", help="leave out the flax variant")
    bench.add_process_flags()
    argv = sys.argv[1:]
    args = bench.parse(argv)
    args.batch_size = args.batch_size or (32 if args.quick else 256)
    args.flax_steps = args.flax_steps or (1 if args.quick else 2)
    torch = None if args.serve == "jaxgen" else harness.import_torch()  # jaxgen's worker: none
    platform = None if torch is None else harness.TorchPlatform(torch)
    sides = {"jaxgen": lambda: jaxgen_side(args)}
    if torch is not None:
        sides["torch"] = lambda: torch_side(args, torch, platform)
    if args.serve:
        harness.serve(*sides[args.serve]())
        return

    rates, betas = step_settings(args)
    log = harness.log
    facts = {}
    with contextlib.ExitStack() as stack:
        contenders, side_facts, _ = harness.side_contenders(
            stack, args.processes, sides, __file__, argv
        )
        for key in ("steps", "param_counts", "compile_s", "checks"):
            for one_side in side_facts.values():
                facts.setdefault(key, {}).update(one_side.get(key, {}))
        steps = facts["steps"]
        param_counts, compile_s, checks = facts["param_counts"], facts["compile_s"], facts["checks"]
        payload = {}
        if torch is None:
            payload["torch_missing"] = harness.torch_missing()
        else:
            payload["torch_platform"] = platform.facts()
            if param_counts["torch"] != param_counts["jaxgen"]:
                raise AssertionError(f"parameter counts differ: {param_counts}")
        log(f"timing {len(contenders)} contenders, {args.repeats} rounds ...")
        times = harness.interleave(contenders, args.repeats, steps, args.warmup)

    results = harness.summarize(times)
    for name in results:
        results[name]["steps_per_round"] = steps[name]
    speed = {
        f"jaxgen_over_{other}": harness.speed_ratio(times, "jaxgen", other)
        for other in ("torch_2threads", "torch_1thread", "torch_cuda")
        if other in times
    }
    if not args.skip_flax:
        speed["jaxgen_over_flax_conv_transpose"] = harness.speed_ratio(
            times, "jaxgen", "jaxgen_flax_conv_transpose"
        )
    table = []
    references = {
        "torch_cuda": (platform.name, platform.device_name) if torch is not None else None,
        "torch_2threads": (harness.torch_reference(2), f"{harness.cpu_name()}, 2 threads"),
        "torch_1thread": (harness.torch_reference(1), f"{harness.cpu_name()}, 1 thread"),
    }
    for contender, names in references.items():
        if contender not in times:
            continue
        table.append(
            harness.table_row(
                times,
                family="gan",
                experiment="experiments/dcgan.py",
                overrides=[*CLASSIC_WIDTHS, f"batch_size={args.batch_size}"],
                step=(
                    f"batch {args.batch_size} of 28x28x1 (random pixels in [-1, 1]); DCGAN "
                    "generator z 100 -> dense 7x7x256 + 5x5 transposed convs 128-64-1 (batch "
                    "norm), discriminator 5x5 stride-2 convs 64-128 + dense logit; 1 D update "
                    "on real and fake, then 1 G update with fresh z through the updated D; "
                    f"non-saturating; Adam {rates['generator']:g} (beta1 {betas[0]:g}) per player"
                ),
                contender=contender,
                reference=names[0],
                reference_device=names[1],
            )
        )
    if args.processes == "contender":
        bench.where = "between processes"
    bench.emit(
        protocol_note=(
            "speed ratios: a's speed over b's, of the medians and per round; "
            + (
                harness.IN_WORKERS
                if args.processes == "contender"
                else "all contenders in this one process"
            )
        ),
        model="DCGAN 28x28x1, z 100, non-saturating, 1 D update + 1 G update per step",
        config=f"experiments/dcgan.py with {', '.join(CLASSIC_WIDTHS)}",
        optimizer=f"adam {rates['generator']:g} betas {betas} per player",
        batch_size=args.batch_size,
        param_counts=param_counts,
        compile_s=compile_s,
        checks=checks,
        results=results,
        speed_ratios=speed,
        table=table,
        **payload,
    )


if __name__ == "__main__":
    main()
