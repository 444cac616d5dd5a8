"""Throughput of R replicas trained by one program vs R runs stepped one after another.

For the 784-400-20 MLP VAE (Bernoulli ELBO) and a small dense autoencoder (784-256-16, BCE),
batch 128 per replica, R in {2, 4, 8}: examples/s summed over replicas of

- `replicated`: `jaxgen.train.replicas.replicate_step(step)` jitted with the state donated,
  one call per step for all R replicas (stacked state, batches and keys);
- `sequential`: the single jitted step called R times per step, one per replica's own state
  (dispatch is asynchronous, so consecutive calls of independent replicas may overlap);
- `sequential_blocking`: the same, waiting for each call (no overlap between replicas);
- `replicated_groups` (R > 4): `replicate_step` called once per group of 4 replicas, each
  group its own stacked state (a loop-level alternative, not a `replicate_step`).

The losses are jaxgen's own (`make_vae_loss`, `make_autoencoder_loss`), which now do their
per-pixel work on flattened (B, 784) operands (`jaxgen.losses.vae`,
`jaxgen.losses.reconstruction`), so there is no separate flat-loss contender.

Each contender runs for the same number of steps in every round, the rounds interleave all of
them (rotating start), and ratios are medians over rounds of the per-round ratio. Before
timing, the script checks that every replica of `replicate_step` ends, after a few steps, with
the parameters of a separate single-step run (rtol 1e-5).

A diagnostics section times the pieces the explanation rests on: a batched matmul against R
separate ones, and a per-pixel reduction over (R, B, 28, 28, 1) against (R, B * 784) (XLA:CPU
vectorises along the last axis; why jaxgen's losses flatten). The HLO counts of the single and
the replicated step are reported per model.

    python benchmarks/replicas.py [--quick] [--rounds N] [--steps N]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.losses import vae as vae_losses
from jaxgen.losses.autoencoder import make_autoencoder_loss
from jaxgen.models.autoencoders import build_autoencoder
from jaxgen.models.vae import build_vae
from jaxgen.tasks.autoencoder import model_config, objective_config
from jaxgen.tasks.vae import vae_model_config, vae_objective_config
from jaxgen.train import replicas
from jaxgen.train.state import init_state, make_optimizer, make_train_step

BATCH = 128
IMAGE_SHAPE = (28, 28, 1)
REPLICAS = (2, 4, 8)
GROUP = 4  # replicas per jitted call in `replicated_groups`: 4 VAE states (30 MiB) fit in L3


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def vae_model_and_loss():
    """The 784-400-20 Bernoulli VAE (ELBO, K=1, dynamic binarization) and its jaxgen loss."""
    objective = vae_objective_config()
    model = build_vae(
        vae_model_config("dense", hidden=(400,), latent_size=20), objective, IMAGE_SHAPE
    )
    return model, vae_losses.make_vae_loss(model, objective)


def ae_model_and_loss():
    """The dense 784-256-16 autoencoder and its jaxgen BCE loss."""
    model = build_autoencoder(model_config("dense", hidden=(256,), code_size=16), IMAGE_SHAPE)
    return model, make_autoencoder_loss(model, objective_config(reconstruction="bce"))


def init_params(model, seed: int):
    x = jax.random.uniform(jax.random.key(seed), (BATCH, *IMAGE_SHAPE))
    if hasattr(model, "latent_size"):
        return model.init(jax.random.key(seed), x, jnp.zeros((BATCH,), jnp.int32))
    return model.init(jax.random.key(seed), x)


def make_batch(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "image": jnp.asarray(rng.random((BATCH, *IMAGE_SHAPE), dtype=np.float32)),
        "label": jnp.asarray(rng.integers(0, 10, BATCH, dtype=np.int32)),
    }


def stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


class Sequential:
    """R single-run states, each stepped by the single jitted step, once per replica per step."""

    def __init__(self, step_fn, states, batches, keys, blocking: bool = False):
        self.fn = jax.jit(step_fn, donate_argnums=0)
        self.states, self.batches, self.keys, self.blocking = states, batches, keys, blocking

    def __call__(self, steps: int) -> None:
        for _ in range(steps):
            for r, (batch, key) in enumerate(zip(self.batches, self.keys, strict=True)):
                self.states[r], metrics = self.fn(self.states[r], batch, key)
                if self.blocking:
                    jax.block_until_ready(self.states[r])
        jax.block_until_ready((self.states, metrics))


class Replicated:
    """Stacked states stepped by a jitted replica step: one call per group of replicas per step
    (one group holding all R replicas is what `--config.seeds` runs)."""

    def __init__(self, replica_step, states, batches, keys, group: int):
        self.fn = jax.jit(replica_step, donate_argnums=0)
        starts = range(0, len(states), group)
        self.states = [stack(states[i : i + group]) for i in starts]
        self.batches = [stack(batches[i : i + group]) for i in starts]
        self.keys = [jnp.stack(keys[i : i + group]) for i in starts]

    def __call__(self, steps: int) -> None:
        for _ in range(steps):
            for g, (batch, keys) in enumerate(zip(self.batches, self.keys, strict=True)):
                self.states[g], metrics = self.fn(self.states[g], batch, keys)
        jax.block_until_ready((self.states, metrics))


def interleaved(contenders: dict[str, Callable[[int], None]], rounds: int, steps: int):
    """Seconds per call of `steps` steps, per contender and round (rotating start)."""
    names = list(contenders)
    times = {name: [] for name in names}
    for name in names:
        contenders[name](1)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            contenders[name](steps)
            times[name].append(time.perf_counter() - t0)
    return times


def check_replicate_step(model, loss, tx, num: int, steps: int = 3) -> float:
    """Max relative parameter difference between `replicate_step` and separate single steps
    after `steps` steps; asserts allclose(rtol=1e-5, atol=1e-6): atol is a thousandth of one
    Adam step (lr 1e-3), for parameters that pass near zero."""
    step_fn = make_train_step(loss, tx)
    batches = [make_batch(100 + r) for r in range(num)]
    keys = jax.random.split(jax.random.key(7), num)
    single = jax.jit(step_fn)
    alone = []
    for r in range(num):
        state = init_state(init_params(model, r), tx)
        for i in range(steps):
            state, _ = single(state, batches[r], jax.random.fold_in(keys[r], i))
        alone.append(state.params)
    rep = jax.jit(replicas.replicate_step(step_fn))
    state = stack([init_state(init_params(model, r), tx) for r in range(num)])
    for i in range(steps):
        step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, i)
        state, _ = rep(state, stack(batches), step_keys)
    worst = 0.0
    for r in range(num):
        mine = replicas.replica(state.params, r)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), mine, alone[r]
        )
        diffs = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), mine, alone[r])
        scale = max(float(jnp.max(jnp.abs(b))) for b in jax.tree.leaves(alone[r]))
        worst = max(worst, max(jax.tree.leaves(diffs)) / scale)
    return worst


def state_megabytes(state) -> float:
    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state)) / 2**20


def bench_model(name, model, loss, tx, num: int, rounds: int, steps: int) -> dict:
    batches = [make_batch(100 + r) for r in range(num)]
    keys = list(jax.random.split(jax.random.key(1), num))
    step_fn = make_train_step(loss, tx)
    rep = replicas.replicate_step(step_fn)
    contenders = {}
    states = [init_state(init_params(model, r), tx) for r in range(num)]
    contenders["replicated"] = Replicated(rep, states, batches, keys, num)
    if num > GROUP:
        states = [init_state(init_params(model, r), tx) for r in range(num)]
        contenders["replicated_groups"] = Replicated(rep, states, batches, keys, GROUP)
    states = [init_state(init_params(model, r), tx) for r in range(num)]
    contenders["sequential"] = Sequential(step_fn, states, batches, keys)
    states = [init_state(init_params(model, r), tx) for r in range(num)]
    contenders["sequential_blocking"] = Sequential(step_fn, states, batches, keys, blocking=True)
    times = interleaved(contenders, rounds, steps)
    examples = steps * num * BATCH
    out = {
        f"{c}_examples_per_s": round(examples / statistics.median(ts)) for c, ts in times.items()
    }

    def ratio(a, b):
        return round(statistics.median(x / y for x, y in zip(times[b], times[a], strict=True)), 3)

    out["ratio_replicated_over_sequential"] = ratio("replicated", "sequential")
    out["ratio_replicated_over_sequential_blocking"] = ratio("replicated", "sequential_blocking")
    if num > GROUP:
        out[f"ratio_groups_of_{GROUP}_over_sequential"] = ratio("replicated_groups", "sequential")
    out["stacked_state_MiB"] = round(state_megabytes(contenders["replicated"].states), 1)
    log(f"{name} R={num}: " + json.dumps(out))
    return out


def median_ms(calls: dict[str, Callable[[], object]], rounds: int = 7) -> dict:
    """Interleaved medians (ms) of several zero-argument callables."""
    times = {k: [] for k in calls}
    for _ in range(2):
        for f in calls.values():
            jax.block_until_ready(f())
    for _ in range(rounds):
        for k, f in calls.items():
            t0 = time.perf_counter()
            for _ in range(5):
                out = f()
            jax.block_until_ready(out)
            times[k].append((time.perf_counter() - t0) / 5)
    return {k: round(1e3 * statistics.median(v), 3) for k, v in times.items()}


def diagnostics(num: int = 8) -> dict:
    """The pieces of the explanation, timed interleaved at R = `num`."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((num, BATCH, 784), dtype=np.float32))
    w = jnp.asarray(rng.random((num, 784, 400), dtype=np.float32))
    g = jnp.asarray(rng.random((num, BATCH, 400), dtype=np.float32))
    one = jax.jit(jnp.matmul)
    one_t = jax.jit(lambda a, b: a.T @ b)
    batched = jax.jit(lambda a, b: jnp.einsum("rbi,rio->rbo", a, b))
    batched_t = jax.jit(lambda a, b: jnp.einsum("rbi,rbo->rio", a, b))
    xs, ws, gs = list(x), list(w), list(g)
    matmuls = median_ms(
        {
            "forward_batched_einsum": lambda: batched(x, w),
            "forward_R_separate_jits": lambda: [one(a, b) for a, b in zip(xs, ws, strict=True)],
            "weight_grad_batched_einsum": lambda: batched_t(x, g),
            "weight_grad_R_separate_jits": lambda: [
                one_t(a, b) for a, b in zip(xs, gs, strict=True)
            ],
        },
    )
    images = jnp.asarray(rng.random((num, BATCH, *IMAGE_SHAPE), dtype=np.float32))
    logits = jnp.asarray(rng.standard_normal((num, BATCH, *IMAGE_SHAPE), dtype=np.float32))

    def mse_of_sigmoid(z, y):
        return jnp.mean(jnp.square(jax.nn.sigmoid(z) - y))

    vm = jax.jit(jax.vmap(mse_of_sigmoid))
    single = jax.jit(mse_of_sigmoid)
    flat_z, flat_y = logits.reshape(num, -1), images.reshape(num, -1)
    zs, ys = list(logits), list(images)
    reductions = median_ms(
        {
            "vmapped_over_RxBx28x28x1": lambda: vm(logits, images),
            "vmapped_over_Rx(B*784)": lambda: vm(flat_z, flat_y),
            "R_single_over_Bx28x28x1": lambda: [single(a, b) for a, b in zip(zs, ys, strict=True)],
        },
    )
    return {
        f"matmul_128x784x400_R{num}_ms": matmuls,
        f"loss_reduction_mean_sq_sigmoid_R{num}_ms": reductions,
        "l3_cache": _read("/sys/devices/system/cpu/cpu0/cache/index3/size"),
    }


def hlo_facts(model, loss, tx, num: int) -> dict:
    """What XLA emits for the single step and the replicated one."""
    step_fn = make_train_step(loss, tx)
    state = init_state(init_params(model, 0), tx)
    batch, key = make_batch(0), jax.random.key(0)
    single = jax.jit(step_fn).lower(state, batch, key).compile().as_text()
    stacked = stack([state] * num)
    rep = (
        jax.jit(replicas.replicate_step(step_fn))
        .lower(stacked, stack([batch] * num), jax.random.split(key, num))
        .compile()
        .as_text()
    )

    def count(text):
        lines = text.splitlines()
        # Computations (fused or not) that reduce an operand laid out as (..., 28, 28, 1).
        blocks = text.split("\n\n")
        return {
            "dots": sum(" dot(" in ln for ln in lines),
            "ynn_fusions": sum('"__ynn_fusion"' in ln and " fusion(" in ln for ln in lines),
            "copies_and_transposes": sum(" copy(" in ln or " transpose(" in ln for ln in lines),
            "reductions_of_Bx28x28x1_operands": sum(
                1
                for block in blocks
                if ",28,28,1]" in block.split("\n", 1)[0]
                and any(" reduce(" in ln for ln in block.splitlines())
            ),
        }

    return {"single_step": count(single), f"replicated_R{num}": count(rep)}


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="R=2 and 8, a few short rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="steps per contender per round")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 9)
    steps = args.steps or (2 if args.quick else 5)
    counts = (2, 8) if args.quick else REPLICAS
    tx = make_optimizer(ml_collections.ConfigDict(dict(learning_rate=1e-3, steps=10**6)))
    models = {
        "vae_784_400_20": vae_model_and_loss(),
        "dense_ae_784_256_16": ae_model_and_loss(),
    }

    checks = {}
    for name, (model, loss) in models.items():
        worst = check_replicate_step(model, loss, tx, num=4)
        checks[f"{name}_params_max_rel_diff_R4_3_steps"] = worst
    log("replicate_step matches separate single steps: " + json.dumps(checks))

    results = {}
    for name, (model, loss) in models.items():
        results[name] = {
            f"R{num}": bench_model(name, model, loss, tx, num, rounds, steps) for num in counts
        }
        results[name]["hlo"] = {"jaxgen_loss": hlo_facts(model, loss, tx, max(counts))}
    print(
        json.dumps(
            {
                "benchmark": "replicas",
                "batch_per_replica": BATCH,
                "jax": jax.__version__,
                "backend": jax.default_backend(),
                "cores": len(os.sched_getaffinity(0)),
                "xla_flags": os.environ.get("XLA_FLAGS", ""),
                "load_average_1min_at_end": round(os.getloadavg()[0], 2),
                "protocol": (
                    f"interleaved in one process: {rounds} rounds, each running every "
                    f"contender for {steps} steps of all R replicas (rotating start); "
                    "examples/s = medians over rounds, summed over replicas; ratios = median "
                    "over rounds of the per-round ratio"
                ),
                "replicate_step_checks_rtol_1e-5": checks,
                "results": results,
                "diagnostics": diagnostics(max(counts)),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
