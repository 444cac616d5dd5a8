"""Train-step speed of the 784-400-20 MLP VAE: jaxgen (jitted, donated state) vs PyTorch eager.

Model: dense encoder 784-400 (ReLU) -> 2x20 (mean, log-variance), decoder 20-400 (ReLU) -> 784
Bernoulli logits; loss = -ELBO with the analytic KL, one reparametrized sample, dynamic
binarization; Adam 1e-3; batch 128. The same model, loss and optimizer are written in PyTorch
eager with `torch.set_num_threads` equal to the number of cores XLA's CPU client uses.

The per-pixel Bernoulli work (dynamic binarization, the log-likelihood and their gradients)
now runs on (B, 784) operands inside jaxgen's own losses (`jaxgen.losses.vae`), so the
benchmark has one jaxgen contender and its scanned form. Contenders, timed interleaved in one
process (every round runs each of them for the same number of steps, the starting contender
rotating), medians over rounds:

- `jaxgen_plain`: `make_train_step(make_vae_loss(...))` jitted with the state donated.
- `jaxgen_plain_scanK`: the same step, K per jitted call (`make_multi_step`, `lax.scan`).
- `torch` (threads = XLA's cores) and `torch_1thread`.

Before timing, the script checks that K scanned steps end with the parameters of K single
steps. A second, shorter interleaved phase splits one step's time: dispatch (a jitted no-op
with the same arguments), the loss alone, loss + gradient, and the whole step.

    python benchmarks/vae_step.py [--quick] [--rounds N] [--steps N]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.losses.vae import make_vae_loss
from jaxgen.models.vae import build_vae
from jaxgen.tasks.vae import vae_model_config, vae_objective_config
from jaxgen.train.state import init_state, make_optimizer, make_train_step

BATCH = 128
IMAGE_SHAPE = (28, 28, 1)
SCAN_LENGTHS = (4, 16)


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def make_multi_step(step_fn: Callable) -> Callable:
    """K train steps in one call: `multi(state, batches, keys) -> (state, metrics)`.

    `batches` is a batch pytree with a leading axis of K batches and `keys` a (K,) key array
    (step i uses `keys[i]`, e.g. `fold_in(train_key, step + i)`); `metrics` come back stacked
    (K, ...). `lax.scan` over `step_fn`, so the result equals K single steps to float rounding.
    """

    def multi(state, batches, keys):
        def body(state, batch_and_key):
            batch, key = batch_and_key
            return step_fn(state, batch, key)

        return jax.lax.scan(body, state, (batches, keys))

    return multi


def fresh_params(model, seed: int = 0):
    x = jnp.zeros((BATCH, *IMAGE_SHAPE), jnp.float32)
    return model.init(jax.random.key(seed), x, jnp.zeros((BATCH,), jnp.int32))


def make_batches(count: int, seed: int = 1) -> list[dict]:
    """`count` distinct batches of grey levels in [0, 1] (what dynamic binarization reads)."""
    rng = np.random.default_rng(seed)
    return [
        {
            "image": jnp.asarray(rng.random((BATCH, *IMAGE_SHAPE), dtype=np.float32)),
            "label": jnp.asarray(rng.integers(0, 10, BATCH, dtype=np.int32)),
        }
        for _ in range(count)
    ]


def stack(trees: list) -> dict:
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def max_rel_diff(a, b) -> float:
    """max |a - b| / max |b| over all leaves."""
    diffs = jax.tree.leaves(jax.tree.map(lambda x, y: float(jnp.max(jnp.abs(x - y))), a, b))
    scale = max(jax.tree.leaves(jax.tree.map(lambda y: float(jnp.max(jnp.abs(y))), b)))
    return max(diffs) / scale


def check_multi_step(model, objective, tx, batches, keys, k: int) -> float:
    """max relative parameter difference between k scanned steps and k single steps."""
    step_fn = make_train_step(make_vae_loss(model, objective), tx)
    single = jax.jit(step_fn)
    state = init_state(fresh_params(model), tx)
    for i in range(k):
        state, _ = single(state, batches[i % len(batches)], keys[i])
    multi = jax.jit(make_multi_step(step_fn))
    scanned, _ = multi(
        init_state(fresh_params(model), tx),
        stack([batches[i % len(batches)] for i in range(k)]),
        jnp.stack(keys[:k]),
    )
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
        scanned.params,
        state.params,
    )
    return max_rel_diff(scanned.params, state.params)


class JaxSingle:
    """Runs n plain jitted steps (state donated), cycling through the batches and keys."""

    def __init__(self, step_fn, state, batches, keys):
        self.fn = jax.jit(step_fn, donate_argnums=0)
        self.state, self.batches, self.keys = state, batches, keys

    def __call__(self, n: int) -> None:
        state = self.state
        for i in range(n):
            state, metrics = self.fn(state, self.batches[i % len(self.batches)], self.keys[i])
        jax.block_until_ready((state, metrics))
        self.state = state


class JaxMulti:
    """Runs n steps as n / k calls of the k-step scan."""

    def __init__(self, step_fn, state, batches, keys, k: int):
        self.fn = jax.jit(make_multi_step(step_fn), donate_argnums=0)
        self.k, self.state = k, state
        self.batches = stack([batches[i % len(batches)] for i in range(k)])
        self.keys = [jnp.stack(keys[i : i + k]) for i in range(0, len(keys) - k + 1, k)]

    def __call__(self, n: int) -> None:
        assert n % self.k == 0, (n, self.k)
        state = self.state
        for j in range(n // self.k):
            state, metrics = self.fn(state, self.batches, self.keys[j])
        jax.block_until_ready((state, metrics))
        self.state = state


def torch_contender(batches: list[dict], threads: int):
    """The same VAE, loss and Adam in PyTorch eager; returns run(n) and the torch version."""
    import torch

    class TorchVAE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Linear(784, 400)
            self.code = torch.nn.Linear(400, 40)
            self.dec = torch.nn.Linear(20, 400)
            self.out = torch.nn.Linear(400, 784)

        def forward(self, x):
            mean, logvar = self.code(torch.relu(self.enc(x))).chunk(2, dim=-1)
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
            return self.out(torch.relu(self.dec(z))), mean, logvar

    torch.manual_seed(0)
    model = TorchVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = [torch.from_numpy(np.asarray(b["image"]).reshape(BATCH, -1)) for b in batches]

    def step(pixels):
        x = torch.bernoulli(pixels)
        logits, mean, logvar = model(x)
        nll = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")
        kl = 0.5 * (logvar.exp() + mean.square() - 1.0 - logvar).sum(-1)
        loss = (nll.sum(-1) + kl).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    def run(n: int, threads: int = threads) -> None:
        torch.set_num_threads(threads)
        for i in range(n):
            loss = step(images[i % len(images)])
        loss.item()

    return run, torch.__version__


def interleaved(contenders: dict[str, Callable[[int], None]], rounds: int, steps: int):
    """Seconds per step of each contender in each round; the start rotates every round."""
    names = list(contenders)
    times = {name: [] for name in names}
    for name in names:  # warm-up: compile, allocate, spin up thread pools
        contenders[name](steps)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            contenders[name](steps)
            times[name].append((time.perf_counter() - t0) / steps)
        log(
            f"round {r + 1}/{rounds}: "
            + ", ".join(f"{n} {1e3 * times[n][-1]:.2f}ms" for n in names)
        )
    return times


def summarize(times: dict[str, list[float]], reference: str) -> dict:
    """Median steps/s per contender, and its speed over `reference`: the median over rounds of
    the per-round ratio (robust to load that changes between rounds)."""
    out = {}
    for name, ts in times.items():
        per_round = [ref / t for ref, t in zip(times[reference], ts, strict=True)]
        out[name] = {
            "steps_per_s_median": round(1.0 / statistics.median(ts), 2),
            "steps_per_s_best": round(1.0 / min(ts), 2),
            "ms_per_step_median": round(1e3 * statistics.median(ts), 3),
            f"speed_vs_{reference}_median": round(statistics.median(per_round), 3),
            f"speed_vs_{reference}_best_rounds": round(min(times[reference]) / min(ts), 3),
        }
    return out


def breakdown(model, objective, tx, batches, keys, rounds: int, steps: int) -> dict:
    """ms per call, all interleaved: a jitted no-op step (dispatch), and for jaxgen's loss the
    loss alone, loss + gradient, and the whole step; plus XLA's flop count and HLO facts."""
    params = fresh_params(model)

    def call(fn):
        def run(n):
            for i in range(n):
                out = fn(params, batches[i % len(batches)], keys[i])
            jax.block_until_ready(out)

        return run

    contenders = {
        # What a step costs when it computes nothing: argument handling and dispatch.
        "dispatch_noop_step": JaxSingle(
            lambda s, b, k: (s.replace(step=s.step + 1), {"x": b["image"][0, 0, 0, 0]}),
            init_state(fresh_params(model), tx),
            batches,
            keys,
        )
    }
    loss = make_vae_loss(model, objective)
    contenders["plain/loss"] = call(jax.jit(lambda p, b, k: loss(p, b, k, 0)[0]))
    grad = jax.grad(lambda p, b, k: loss(p, b, k, 0)[0])
    contenders["plain/loss_and_grad"] = call(jax.jit(grad))
    state = init_state(fresh_params(model), tx)
    step_fn = make_train_step(loss, tx)
    contenders["plain/step"] = JaxSingle(step_fn, state, batches, keys)
    compiled = jax.jit(step_fn).lower(state, batches[0], keys[0]).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    text = compiled.as_text()
    facts = {
        "plain": {
            "step_gflop": round(cost.get("flops", float("nan")) / 1e9, 4),
            "hlo_loop_fusions_on_Bx28x28x1": sum(
                1 for line in text.splitlines() if "kind=kLoop" in line and ",28,28,1]" in line
            ),
            "hlo_while_loops": text.count(" while("),
        }
    }
    times = interleaved(contenders, rounds, steps)
    out = {name: round(1e3 * statistics.median(ts), 3) for name, ts in times.items()}
    return {"ms_median": out, "hlo": facts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few short rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="steps per contender per round")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 15)
    steps = args.steps or (16 if args.quick else 32)
    assert all(steps % k == 0 for k in SCAN_LENGTHS), (
        f"--steps must be a multiple of {SCAN_LENGTHS}"
    )

    # XLA:CPU runs one intra-op worker per core it may use; PyTorch gets the same number.
    xla_threads = len(os.sched_getaffinity(0))
    objective = vae_objective_config()  # the ELBO, K=1, beta 1, Bernoulli, dynamic binarization
    model = build_vae(
        vae_model_config("dense", hidden=(400,), latent_size=20), objective, IMAGE_SHAPE
    )
    tx = make_optimizer(ml_collections.ConfigDict(dict(learning_rate=1e-3, steps=10**6)))
    batches = make_batches(8)
    keys = list(jax.random.split(jax.random.key(42), 4096))

    log("checking the multi-step scan against jaxgen's single step ...")
    checks = {
        "multi_step_params_max_rel_diff_k4": check_multi_step(
            model, objective, tx, batches, keys, 4
        )
    }

    plain = make_train_step(make_vae_loss(model, objective), tx)
    contenders: dict[str, Callable[[int], None]] = {
        "jaxgen_plain": JaxSingle(plain, init_state(fresh_params(model), tx), batches, keys),
    }
    for k in SCAN_LENGTHS:
        contenders[f"jaxgen_plain_scan{k}"] = JaxMulti(
            plain, init_state(fresh_params(model), tx), batches, keys, k
        )
    torch_run, torch_version = torch_contender(batches, xla_threads)
    contenders["torch"] = torch_run
    contenders["torch_1thread"] = lambda n: torch_run(n, threads=1)

    log(f"timing {len(contenders)} contenders, {rounds} rounds of {steps} steps ...")
    times = interleaved(contenders, rounds, steps)
    results = summarize(times, "torch")
    vs_plain = summarize(times, "jaxgen_plain")
    for name in results:
        results[name]["speed_vs_jaxgen_plain_median"] = vs_plain[name][
            "speed_vs_jaxgen_plain_median"
        ]
        per_round_1t = [a / b for a, b in zip(times["torch_1thread"], times[name], strict=True)]
        results[name]["speed_vs_torch_1thread_median"] = round(statistics.median(per_round_1t), 3)

    log("splitting one step's time ...")
    split = breakdown(model, objective, tx, batches, keys, max(3, rounds // 3), steps)

    print(
        json.dumps(
            {
                "benchmark": "vae_step",
                "model": "MLP VAE 784-400-20, Bernoulli, analytic KL, dynamic binarization",
                "batch": BATCH,
                "optimizer": "adam 1e-3",
                "jax": jax.__version__,
                "torch": torch_version,
                "backend": jax.default_backend(),
                "cpu": platform.processor() or platform.machine(),
                "cores_xla_uses": xla_threads,
                "torch_threads": xla_threads,
                "xla_flags": os.environ.get("XLA_FLAGS", ""),
                "load_average_1min_at_end": round(os.getloadavg()[0], 2),
                "protocol": (
                    f"interleaved in one process: {rounds} rounds, each running every "
                    f"contender for {steps} steps (rotating start); medians over rounds; "
                    "speed_vs_X = median over rounds of (X's time / this one's time); "
                    "best_rounds = ratio of the fastest rounds"
                ),
                "checks": checks,
                "results": results,
                "ms_per_call_breakdown": split,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
