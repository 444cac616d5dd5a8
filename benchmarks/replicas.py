"""Throughput of R replicas trained by one program vs R runs stepped one after another.

For the 784-400-20 MLP VAE (Bernoulli ELBO) and a small dense autoencoder (784-256-16, BCE),
batch 128 per replica, R in {2, 4, 8}: examples/s summed over replicas of

- `replicated`: the single-run step mapped by `jax.vmap` over a leading replica axis (what
  `jaxgen.train.replicas.ReplicatedTask.train_step` runs for `--config.seeds`), jitted with the
  state donated, one call per step for all R replicas (stacked state, batches and keys);
- `sequential`: the single jitted step called R times per step, one per replica's own state
  (dispatch is asynchronous, so consecutive calls of independent replicas may overlap);
- `sequential_blocking`: the same, waiting for each call (no overlap between replicas);
- `replicated_groups` (R > 4): the vmapped step called once per group of 4 replicas, each
  group its own stacked state (a loop-level alternative to one vmapped step).

The losses are jaxgen's own (`make_vae_loss`, `make_autoencoder_loss`), which now do their
per-pixel work on flattened (B, 784) operands (`jaxgen.families.vae.losses`,
`jaxgen.families.autoencoder.reconstruction`), so there is no separate flat-loss contender.

Each contender runs for the same number of steps in every round, the rounds interleave all of
them (rotating start; benchmarks/harness.py), and ratios are medians over rounds of the
per-round ratio. Before timing, the script checks that every replica of the vmapped step ends,
after a few steps, with the parameters of a separate single-step run (rtol 1e-5).

A diagnostics section times the pieces the explanation rests on: a batched matmul against R
separate ones, and a per-pixel reduction over (R, B, 28, 28, 1) against (R, B * 784) (XLA:CPU
vectorises along the last axis; why jaxgen's losses flatten). The HLO counts of the single and
the replicated step are reported per model.

    python benchmarks/replicas.py [--quick] [--repeats N] [--steps N] [--warmup N]

(`--rounds` is `--repeats`; `--quick`: R = 2 and 8, a few short rounds.)

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import json

import harness
import jax
import jax.numpy as jnp
import numpy as np
from vae_step import mlp_vae

from jaxgen.families.autoencoder.config import model_config, objective_config
from jaxgen.families.autoencoder.losses import make_autoencoder_loss
from jaxgen.families.autoencoder.model import build_autoencoder
from jaxgen.train import replicas
from jaxgen.train.base_config import base_config
from jaxgen.train.state import TrainState, make_optimizer, make_train_step

BATCH = 128
IMAGE_SHAPE = (28, 28, 1)
REPLICAS = (2, 4, 8)
GROUP = 4  # replicas per jitted call in `replicated_groups`: 4 VAE states (30 MiB) fit in L3


def dense_autoencoder():
    """(model, loss, tx) of the dense 784-256-16 autoencoder with jaxgen's BCE loss, Adam 1e-3."""
    model = build_autoencoder(model_config("dense", hidden=(256,), code_size=16), IMAGE_SHAPE)
    loss = make_autoencoder_loss(model, objective_config(reconstruction="bce"))
    return model, loss, make_optimizer(base_config(learning_rate=1e-3))


def init_state(model, tx, seed: int) -> TrainState:
    x = jax.random.uniform(jax.random.key(seed), (BATCH, *IMAGE_SHAPE))
    args = (x, jnp.zeros((BATCH,), jnp.int32)) if hasattr(model, "latent_size") else (x,)
    return TrainState.create(model.init(jax.random.key(seed), *args), tx)


def replica_batches(num: int) -> list[dict]:
    return [harness.image_batch(100 + r, BATCH, IMAGE_SHAPE) for r in range(num)]


class RoundRobin:
    """Steppers advanced in turn, one call each per step; `blocking` waits for every call (no
    overlap between them)."""

    def __init__(self, steppers: list[harness.Stepper], blocking: bool = False):
        self.steppers, self.blocking = steppers, blocking

    def __call__(self, steps: int) -> None:
        for _ in range(steps):
            for stepper in self.steppers:
                stepper.step()
                if self.blocking:
                    stepper.block()
        for stepper in self.steppers:
            stepper.block()


def check_vmapped_step(model, loss, tx, num: int, steps: int = 3) -> float:
    """Max relative parameter difference between the vmapped step and separate single steps
    after `steps` steps; asserts allclose(rtol=1e-5, atol=1e-6): atol is a thousandth of one
    Adam step (lr 1e-3), for parameters that pass near zero."""
    step_fn = make_train_step(loss, tx)
    batches = replica_batches(num)
    keys = jax.random.split(jax.random.key(7), num)
    single = jax.jit(step_fn)
    alone = []
    for r in range(num):
        state = init_state(model, tx, r)
        for i in range(steps):
            state, _ = single(state, batches[r], jax.random.fold_in(keys[r], i))
        alone.append(state.params)
    vmapped = jax.jit(jax.vmap(step_fn))
    state = harness.stack([init_state(model, tx, r) for r in range(num)])
    for i in range(steps):
        state, _ = vmapped(state, harness.stack(batches), replicas.step_keys(keys, i))
    return max(
        harness.assert_close(replicas.replica(state.params, r), alone[r], rtol=1e-5, atol=1e-6)
        for r in range(num)
    )


def state_megabytes(state) -> float:
    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state)) / 2**20


def bench_model(name, model, loss, tx, num: int, args) -> dict:
    batches = replica_batches(num)
    keys = list(jax.random.split(jax.random.key(1), num))
    step_fn = make_train_step(loss, tx)
    single = jax.jit(step_fn, donate_argnums=0)
    vmapped = jax.jit(jax.vmap(step_fn), donate_argnums=0)

    def groups(size: int) -> RoundRobin:
        states = [init_state(model, tx, r) for r in range(num)]
        return RoundRobin(
            [
                harness.Stepper(
                    vmapped,
                    harness.stack(states[i : i + size]),
                    [harness.stack(batches[i : i + size])],
                    [jnp.stack(keys[i : i + size])],
                )
                for i in range(0, num, size)
            ]
        )

    def one_by_one(blocking: bool) -> RoundRobin:
        return RoundRobin(
            [
                harness.Stepper(single, init_state(model, tx, r), [batches[r]], [keys[r]])
                for r in range(num)
            ],
            blocking,
        )

    contenders = {"replicated": groups(num)}
    if num > GROUP:
        contenders["replicated_groups"] = groups(GROUP)
    contenders["sequential"] = one_by_one(blocking=False)
    contenders["sequential_blocking"] = one_by_one(blocking=True)
    times = harness.interleave(contenders, args.repeats, args.steps, args.warmup)
    out = {
        f"{c}_examples_per_s": round(num * BATCH / ms * 1e3)
        for c, ms in harness.medians_ms(times).items()
    }

    def ratio(a, b):
        return harness.speed_ratio(times, a, b)["median_per_round"]

    out["ratio_replicated_over_sequential"] = ratio("replicated", "sequential")
    out["ratio_replicated_over_sequential_blocking"] = ratio("replicated", "sequential_blocking")
    if num > GROUP:
        out[f"ratio_groups_of_{GROUP}_over_sequential"] = ratio("replicated_groups", "sequential")
    out["stacked_state_MiB"] = round(state_megabytes(contenders["replicated"].steppers[0].state), 1)
    harness.log(f"{name} R={num}: " + json.dumps(out))
    return out


def diagnostics(num: int, repeats: int) -> dict:
    """The pieces of the explanation, timed interleaved at R = `num` (ms per call, 5 calls a
    round)."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((num, BATCH, 784), dtype=np.float32))
    w = jnp.asarray(rng.random((num, 784, 400), dtype=np.float32))
    g = jnp.asarray(rng.random((num, BATCH, 400), dtype=np.float32))
    one = jax.jit(jnp.matmul)
    one_t = jax.jit(lambda a, b: a.T @ b)
    batched = jax.jit(lambda a, b: jnp.einsum("rbi,rio->rbo", a, b))
    batched_t = jax.jit(lambda a, b: jnp.einsum("rbi,rbo->rio", a, b))
    xs, ws, gs = list(x), list(w), list(g)

    def median_ms(fns: dict) -> dict:
        calls = {name: harness.calls(fn) for name, fn in fns.items()}
        return harness.medians_ms(harness.interleave(calls, repeats, 5))

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
    }


def hlo_facts(model, loss, tx, num: int) -> dict:
    """What XLA emits for the single step and the replicated one."""
    step_fn = make_train_step(loss, tx)
    state = init_state(model, tx, 0)
    batch, key = replica_batches(1)[0], jax.random.key(0)
    single = jax.jit(step_fn).lower(state, batch, key).compile().as_text()
    stacked = harness.stack([state] * num)
    rep = (
        jax.jit(jax.vmap(step_fn))
        .lower(stacked, harness.stack([batch] * num), jax.random.split(key, num))
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


def main() -> None:
    bench = harness.Benchmark("replicas", __doc__, repeats=(9, 3), steps=(5, 2))
    args = bench.parse()
    counts = (2, 8) if args.quick else REPLICAS
    models = {"vae_784_400_20": mlp_vae(), "dense_ae_784_256_16": dense_autoencoder()}

    checks = {}
    for name, (model, loss, tx) in models.items():
        checks[f"{name}_params_max_rel_diff_R4_3_steps"] = check_vmapped_step(model, loss, tx, 4)
    harness.log("the vmapped step matches separate single steps: " + json.dumps(checks))

    results = {}
    for name, (model, loss, tx) in models.items():
        results[name] = {f"R{num}": bench_model(name, model, loss, tx, num, args) for num in counts}
        results[name]["hlo"] = {"jaxgen_loss": hlo_facts(model, loss, tx, max(counts))}
    bench.emit(
        protocol_note=(
            "each step runs all R replicas; examples/s = medians over rounds, summed over "
            "replicas; ratios = median over rounds of the per-round ratio"
        ),
        batch_per_replica=BATCH,
        **{"vmapped_step_checks_rtol_1e-5": checks},
        results=results,
        diagnostics=diagnostics(max(counts), args.repeats),
    )


if __name__ == "__main__":
    main()
