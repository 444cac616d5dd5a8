"""Train-step speed of the DCGAN on 28x28x1 images: jaxgen vs jaxgen with flax's ConvTranspose
vs PyTorch eager.

    python benchmarks/dcgan_step.py [--batch-size 256] [--steps 4] [--repeats 7]
                                    [--flax-steps 2] [--skip-flax]

Model (the classic DCGAN of the TensorFlow tutorial; `jaxgen.models.gan`): the generator maps
z (100) by Dense(7*7*256, no bias) + BN + LeakyReLU(0.2), then 5x5 transposed convolutions to 128
(stride 1), 64 (stride 2), both without bias + BN + LeakyReLU, and to 1 (stride 2, with bias) +
tanh; the discriminator has 5x5 stride-2 SAME convolutions to 64 and 128 (+ LeakyReLU), then a
dense logit. One step = one discriminator update on real and generated images concatenated in
one call, then one generator update with fresh z through the updated discriminator;
non-saturating loss; Adam 2e-4, betas (0.5, 0.999), for each player.

Contenders, timed interleaved in one process (every round runs each contender for its number of
steps, the starting contender rotating), medians over rounds:

- `jaxgen`: the step built by jaxgen's own code (`gan_config("dcgan")`, `build_players`,
  `adversarial.Players`, `make_adversarial_step`), jitted with the state donated.
- `jaxgen_flax_conv_transpose`: the same, with `flax.linen.ConvTranspose` monkeypatched in for
  jaxgen's transposed convolution (whose custom VJP avoids XLA:CPU's slow kernel gradient of a
  transposed convolution); it is slow, so it runs `--flax-steps` steps per round.
- `torch` (2 threads) and `torch_1thread`: the same model, loss, optimizer and update order in
  PyTorch eager: D step on cat(real, G(z).detach()), then G step with fresh z through the updated
  D (D's parameters frozen for that backward pass, as jaxgen differentiates only G there). Padding
  gives the same shapes (padding=2; output_padding=1 for the stride-2 transposed convolutions);
  BatchNorm momentum 0.1 (flax's 0.9).

The parameter counts of the jaxgen and PyTorch players are checked equal and printed. Prints one
JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
import types
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import jaxgen.models.gan as gan_models
from jaxgen.models.gan import build_players
from jaxgen.tasks.gan import gan_config
from jaxgen.train import adversarial
from jaxgen.train.state import adam

IMAGE_SHAPE = (28, 28, 1)
LEARNING_RATE = 2e-4
BETAS = (0.5, 0.999)
NUM_BATCHES = 4  # distinct real batches, cycled
NUM_KEYS = 64  # distinct step keys, cycled


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def make_config(batch_size: int):
    return gan_config(
        "dcgan",
        batch_size=batch_size,
        generator_learning_rate=LEARNING_RATE,
        discriminator_learning_rate=LEARNING_RATE,
        adam_b1=BETAS[0],
        adam_b2=BETAS[1],
    )


@contextlib.contextmanager
def flax_conv_transpose():
    """While active, jaxgen's DCGAN generator builds flax's `nn.ConvTranspose` (same arguments,
    parameters and output; autodiff's slow kernel gradient on XLA:CPU)."""
    original = gan_models.jnn
    gan_models.jnn = types.SimpleNamespace(ConvTranspose=nn.ConvTranspose)
    try:
        yield
    finally:
        gan_models.jnn = original


def count_params(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def custom_vjp_calls(players: adversarial.Players, state) -> int:
    """custom_vjp calls in the generator's jaxpr: 3 with jaxgen's layer, 0 with flax's."""
    g_vars = {"params": state.params["generator"], "batch_stats": state.carry["generator_stats"]}
    z = jnp.zeros((2, players.latent_size))
    label = jnp.zeros((2,), jnp.int32)
    jaxpr = jax.make_jaxpr(lambda v: players.generate(v, z, label, True)[0])(g_vars)
    return str(jaxpr).count("custom_vjp_call")


class JaxgenStep:
    """The jaxgen DCGAN step, compiled ahead of time (so a monkeypatch active while building
    covers the tracing), run n steps at a time with the state donated."""

    def __init__(self, batch_size: int, batches: list[dict], keys: list[jax.Array]):
        config = make_config(batch_size)
        generator, discriminator = build_players(config.model, IMAGE_SHAPE, 0)
        self.players = adversarial.Players(
            generator, discriminator, config.model.latent_size, IMAGE_SHAPE
        )
        txs = {p: adam(config, config[f"{p}_learning_rate"]) for p in adversarial.PLAYERS}
        step = adversarial.make_adversarial_step(self.players, config.objective, txs)
        # Jitted, as the train loop does: eagerly, the generator's weight average would alias
        # its parameters, and a donated state must not hold one buffer twice.
        self.state = jax.jit(
            lambda key: adversarial.init_adversarial_state(self.players, txs, key)
        )(jax.random.key(0))
        self.param_counts = {p: count_params(self.state.params[p]) for p in adversarial.PLAYERS}
        self.custom_vjp_calls = custom_vjp_calls(self.players, self.state)
        t0 = time.perf_counter()
        self.fn = jax.jit(step, donate_argnums=0).lower(self.state, batches[0], keys[0]).compile()
        self.compile_s = time.perf_counter() - t0
        self.batches, self.keys, self.calls = batches, keys, 0

    def __call__(self, n: int) -> None:
        state = self.state
        for _ in range(n):
            i = self.calls
            state, metrics = self.fn(
                state, self.batches[i % len(self.batches)], self.keys[i % len(self.keys)]
            )
            self.calls += 1
        jax.block_until_ready((state, metrics))
        self.state = state


def torch_contender(batches: list[dict]):
    """The same DCGAN step in PyTorch eager; returns run(n, threads), the parameter counts and
    the torch version."""
    import torch
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
    g_opt = torch.optim.Adam(generator.parameters(), lr=LEARNING_RATE, betas=BETAS)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=LEARNING_RATE, betas=BETAS)
    softplus = torch.nn.functional.softplus
    reals = [torch.from_numpy(np.asarray(b["x"]).transpose(0, 3, 1, 2).copy()) for b in batches]
    batch_size = reals[0].shape[0]
    with torch.no_grad():  # the shapes match jaxgen's
        assert generator(torch.randn(2, 100)).shape == (2, 1, 28, 28)

    def step(real):
        # Discriminator update on real and generated images in one call.
        fake = generator(torch.randn(batch_size, 100)).detach()
        real_logits, fake_logits = discriminator(torch.cat([real, fake]))[:, 0].chunk(2)
        d_loss = softplus(-real_logits).mean() + softplus(fake_logits).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        # Generator update with fresh z through the updated discriminator.
        for p in discriminator.parameters():
            p.requires_grad_(False)
        g_loss = softplus(-discriminator(generator(torch.randn(batch_size, 100)))[:, 0]).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        for p in discriminator.parameters():
            p.requires_grad_(True)
        return d_loss, g_loss

    calls = [0]

    def run(n: int, threads: int) -> None:
        torch.set_num_threads(threads)
        for _ in range(n):
            losses = step(reals[calls[0] % len(reals)])
            calls[0] += 1
        [loss.item() for loss in losses]

    counts = {
        "generator": sum(p.numel() for p in generator.parameters()),
        "discriminator": sum(p.numel() for p in discriminator.parameters()),
    }
    return run, counts, torch.__version__


def interleaved(contenders: dict[str, tuple[Callable[[int], None], int]], rounds: int):
    """Seconds per step of each contender (run for its own number of steps) in each round; the
    start rotates every round. One warm-up step each first."""
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        t0 = time.perf_counter()
        contenders[name][0](1)
        log(f"warm-up {name}: {time.perf_counter() - t0:.2f}s for 1 step")
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            run, steps = contenders[name]
            t0 = time.perf_counter()
            run(steps)
            times[name].append((time.perf_counter() - t0) / steps)
        log(
            f"round {r + 1}/{rounds}: "
            + ", ".join(f"{n} {1e3 * times[n][-1]:.1f}ms/step" for n in names)
        )
    return times


def ratios(times: dict[str, list[float]], a: str, b: str) -> dict[str, float]:
    """a's speed over b's: the ratio of median steps/s, and the median of per-round ratios."""
    per_round = [tb / ta for ta, tb in zip(times[a], times[b], strict=True)]
    return {
        "of_medians": round(statistics.median(times[b]) / statistics.median(times[a]), 3),
        "median_per_round": round(statistics.median(per_round), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4, help="steps per round (jaxgen, torch)")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds")
    parser.add_argument(
        "--flax-steps", type=int, default=2, help="steps per round of the flax variant"
    )
    parser.add_argument("--skip-flax", action="store_true", help="leave out the flax variant")
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]

    rng = np.random.default_rng(1)
    batches = [
        {
            "x": jnp.asarray(
                rng.uniform(-1, 1, (args.batch_size, *IMAGE_SHAPE)).astype(np.float32)
            ),
            "label": jnp.zeros((args.batch_size,), jnp.int32),
        }
        for _ in range(NUM_BATCHES)
    ]
    keys = list(jax.random.split(jax.random.key(42), NUM_KEYS))

    log("compiling the jaxgen step ...")
    jaxgen_step = JaxgenStep(args.batch_size, batches, keys)
    contenders: dict[str, tuple[Callable[[int], None], int]] = {"jaxgen": (jaxgen_step, args.steps)}
    compile_s = {"jaxgen": round(jaxgen_step.compile_s, 2)}
    checks = {"jaxgen_generator_custom_vjp_calls": jaxgen_step.custom_vjp_calls}
    if not args.skip_flax:
        log("compiling the step with flax's ConvTranspose ...")
        with flax_conv_transpose():
            flax_step = JaxgenStep(args.batch_size, batches, keys)
        assert flax_step.param_counts == jaxgen_step.param_counts
        assert flax_step.custom_vjp_calls == 0, "the monkeypatch did not take"
        checks["flax_generator_custom_vjp_calls"] = flax_step.custom_vjp_calls
        contenders["jaxgen_flax_conv_transpose"] = (flax_step, args.flax_steps)
        compile_s["jaxgen_flax_conv_transpose"] = round(flax_step.compile_s, 2)

    torch_run, torch_counts, torch_version = torch_contender(batches)
    if torch_counts != jaxgen_step.param_counts:
        raise AssertionError(f"parameter counts differ: {torch_counts} vs jaxgen's")
    contenders["torch_2threads"] = (lambda n: torch_run(n, 2), args.steps)
    contenders["torch_1thread"] = (lambda n: torch_run(n, 1), args.steps)

    log(f"timing {len(contenders)} contenders, {args.repeats} rounds ...")
    times = interleaved(contenders, args.repeats)
    load_after = [round(x, 2) for x in os.getloadavg()]

    results = {
        name: {
            "steps_per_s_median": round(1.0 / statistics.median(ts), 3),
            "ms_per_step_median": round(1e3 * statistics.median(ts), 1),
            "ms_per_step_rounds": [round(1e3 * t, 1) for t in ts],
            "steps_per_round": contenders[name][1],
        }
        for name, ts in times.items()
    }
    speed = {
        "jaxgen_over_torch_2threads": ratios(times, "jaxgen", "torch_2threads"),
        "jaxgen_over_torch_1thread": ratios(times, "jaxgen", "torch_1thread"),
    }
    if not args.skip_flax:
        speed["jaxgen_over_flax_conv_transpose"] = ratios(
            times, "jaxgen", "jaxgen_flax_conv_transpose"
        )
    print(
        json.dumps(
            {
                "benchmark": "dcgan_step",
                "model": "DCGAN 28x28x1, z 100, non-saturating, 1 D update + 1 G update per step",
                "optimizer": f"adam {LEARNING_RATE:g} betas {BETAS} per player",
                "batch_size": args.batch_size,
                "param_counts": {"jaxgen": jaxgen_step.param_counts, "torch": torch_counts},
                "cpu_count": os.cpu_count(),
                "backend": jax.default_backend(),
                "jax": jax.__version__,
                "torch": torch_version,
                "xla_flags": os.environ.get("XLA_FLAGS", ""),
                "load_average_before": load_before,
                "load_average_after": load_after,
                "protocol": (
                    f"interleaved in one process: 1 warm-up step each, then {args.repeats} "
                    "rounds, each running every contender for its steps_per_round (rotating "
                    "start); medians over rounds"
                ),
                "compile_s": compile_s,
                "checks": checks,
                "results": results,
                "speed_ratios": speed,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
