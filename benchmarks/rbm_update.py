"""Speed of one CD-1 update of a Bernoulli RBM: jaxgen vs scikit-learn vs PyTorch eager.

    python benchmarks/rbm_update.py [--quick] [--num-hidden 500] [--batch-size 100]
                                    [--repeats N] [--steps N] [--warmup N]

Sizes: the RBM of `experiments/rbm.py` (mnist5k: 784 visible, 500 hidden, batch 100);
`--quick` takes its smoke preset's data set (digits: 64 visible) with 32 hidden units and a
batch of 32. Every contender updates on the same binary batches: the first `NUM_BATCHES`
batches of the task's training split binarized once (`binarize=static`, jaxgen's fixed key).

One update: from the batch v0, one block-Gibbs round v0 -> h0 -> v1 (h0 and v1 sampled), the
hidden probabilities of v0 and v1, and the parameter update from <v h>_data - <v h>_model
(hidden probabilities in both terms). Contenders, timed interleaved in one process
(benchmarks/harness.py: every round runs each of them for the same number of steps, the
starting contender rotating), medians over rounds:

- `jaxgen`: the step the RBM task runs for CD-1 (`objective.kind=cd`), built from the family's
  modules: negatives by `model.gibbs` (1 step, from the batch, parameters held fixed), the
  gradient of `model.contrastive_divergence`, then the optax update of `task.rbm_optimizer`
  (L2 weight decay on the weights, SGD with momentum); jitted with the state donated.
- `jaxgen_task_step`: `RBMTask.train_step` itself (the same update, plus what the training
  loop's step also computes: the loss value, the gradient's norm and the mean-field
  reconstruction error that the loop watches); jitted with the state donated.
- `sklearn`: `BernoulliRBM.partial_fit` on one batch. scikit-learn trains by persistent CD
  (PCD-1: its negatives come from its own persistent chains, one Gibbs round each update),
  which costs the same per update as CD-1: one Gibbs round and the gradient; it has no momentum
  and no weight decay, and `partial_fit` casts its input to float64 (the batches are handed to
  it as float64 arrays already, so the cast copies nothing), so it computes in float64.
- `sklearn_fit_inner_float32`: the same PCD-1 update in float32: `BernoulliRBM._fit` (private;
  what `fit` calls per batch, which keeps float32 data in float32) on a model fitted once on
  float32 data. It separates scikit-learn's dtype from its framework cost.
- `torch`: the same CD-1 update as jaxgen's (momentum and weight decay included) in PyTorch
  eager under `torch.no_grad()`, by hand: W -= lr * m_W with m_W = momentum * m_W + g_W,
  g_W = (v1^T p(h|v1) - v0^T p(h|v0)) / B + weight_decay * W, and likewise for the biases
  (no decay); `torch.set_num_threads` equal to the number of cores XLA's CPU client uses.
  Left out, and said so in the JSON (`torch_missing`), when torch is not installed
  (`pip install torch==2.13.0`). With CUDA (`torch.cuda.is_available()`) it runs there
  (synchronized before the clock is read); scikit-learn always runs on the CPU.

The JSON's `table` holds two rows (benchmarks/table.py): `jaxgen` against `torch`, and `jaxgen`
against `sklearn` (whose update is PCD-1 without momentum or decay, in float64: the row says so).

Checks before timing: the `jaxgen` step ends, after a few steps, with the parameters of the
task's own step given the same keys; and the hand-written update that the PyTorch contender
runs (the same function, on numpy arrays in float64) matches jaxgen's optax update for fixed
negatives over two steps (momentum included); with torch installed, on torch tensors too.

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import pathlib

import harness
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.config import load_config
from jaxgen.families.rbm import model
from jaxgen.families.rbm.task import RBMTask, flat, rbm_optimizer
from jaxgen.train.state import TrainState

EXPERIMENT = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "rbm.py"
NUM_BATCHES = 8  # distinct binary batches, cycled
NUM_KEYS = 64  # distinct step keys, cycled
QUICK_SIZES = {"num_hidden": 32, "batch_size": 32}  # the smoke preset's digits: 64 visible


def rbm_task(quick: bool, num_hidden: int | None, batch_size: int | None) -> RBMTask:
    """The RBM task of experiments/rbm.py (its smoke preset with --quick) as CD-1 on the
    statically binarized training split, at the sizes asked."""
    # A constant rate: the schedule costs the same in every contender, and the PyTorch one
    # writes the update by hand.
    overrides = ["objective.kind=cd", "objective.gibbs_steps=1", "binarize=static"]
    overrides.append("lr_schedule=constant")
    sizes = dict(QUICK_SIZES) if quick else {}
    if num_hidden:
        sizes["num_hidden"] = num_hidden
    if batch_size:
        sizes["batch_size"] = batch_size
    if "num_hidden" in sizes:
        overrides.append(f"model.num_hidden={sizes['num_hidden']}")
    if "batch_size" in sizes:
        overrides.append(f"batch_size={sizes['batch_size']}")
    spec = f"{EXPERIMENT}:smoke" if quick else str(EXPERIMENT)
    return RBMTask(load_config(spec, overrides))


def cd_step(tx, gibbs_steps: int):
    """`step(state, v, key) -> (state, {})`: what `RBMTask.loss` does for objective.kind=cd
    (with `key` the Gibbs key the task splits off its step key), then the optax update."""

    def step(state: TrainState, v: jax.Array, key: jax.Array):
        negatives = model.gibbs(jax.lax.stop_gradient(state.params), v, key, gibbs_steps)
        grads = jax.grad(model.contrastive_divergence)(state.params, v, negatives)
        return state.apply_gradients(grads, tx), {}

    return step


def gibbs_key(key: jax.Array) -> jax.Array:
    """The key `RBMTask.loss` draws its negatives from, of the step key it is given."""
    return jax.random.split(key)[1]


def check_against_task(
    task: RBMTask, step, tx, params0, batches, keys, num_steps: int = 3
) -> float:
    """max relative parameter difference between `step` and the task's own step after
    `num_steps` steps with the same batches and keys."""
    task_state = task.init_state(jax.random.key(0)).replace(params=params0)
    task_step = jax.jit(task.train_step)
    mine = TrainState.create(params0, tx)
    step = jax.jit(step)
    for i in range(num_steps):
        image = batches[i].reshape(len(batches[i]), *task.image_shape)
        task_state, _ = task_step(task_state, {"image": image}, keys[i])
        mine, _ = step(mine, batches[i], gibbs_key(keys[i]))
    return harness.assert_close(mine.params, task_state.params, rtol=1e-5, atol=1e-6)


# ---- the hand-written update (PyTorch's, checked on numpy arrays) -----------------------------


def manual_gradients(sigmoid, w, b, c, v0, v1, weight_decay: float, p_h0=None):
    """Gradients of mean F(v0) - mean F(v1) plus L2 decay on the weights, written with
    operators that numpy arrays and torch tensors share: (g_W, g_b, g_c)."""
    if p_h0 is None:
        p_h0 = sigmoid(v0 @ w + c)
    p_h1 = sigmoid(v1 @ w + c)
    batch = v0.shape[0]
    g_w = (v1.T @ p_h1 - v0.T @ p_h0) / batch + weight_decay * w
    return g_w, (v1 - v0).mean(0), (p_h1 - p_h0).mean(0)


def manual_update(params, momenta, grads, learning_rate: float, momentum: float) -> None:
    """optax's SGD with momentum, in place: m = momentum * m + g; p -= learning_rate * m."""
    for p, m, g in zip(params, momenta, grads, strict=True):
        m *= momentum
        m += g
        p -= learning_rate * m


def check_manual_update(sigmoid, to_array, task: RBMTask, params0, batches) -> float:
    """Two updates by `manual_gradients` + `manual_update` on arrays made by `to_array`
    (float64) against jaxgen's optax update, the negatives fixed (drawn with numpy); the max
    relative difference of the parameters."""
    o, config = task.config.objective, task.config
    rng = np.random.default_rng(7)
    params = [to_array(np.asarray(params0[k], np.float64)) for k in PARAM_ORDER]
    momenta = [p * 0 for p in params]
    state = TrainState.create(params0, task.tx)
    cd_grad = jax.jit(jax.grad(model.contrastive_divergence))
    for v0 in batches[:2]:
        v1 = (rng.random(v0.shape) < 0.5).astype(np.float32)
        v0_64, v1_64 = (to_array(np.asarray(v, np.float64)) for v in (v0, v1))
        grads = manual_gradients(sigmoid, *params, v0_64, v1_64, o.weight_decay)
        manual_update(params, momenta, grads, config.learning_rate, o.momentum)
        state = state.apply_gradients(cd_grad(state.params, v0, v1), task.tx)
    manual = {k: np.asarray(p, np.float64) for k, p in zip(PARAM_ORDER, params, strict=True)}
    return harness.assert_close(manual, jax.tree.map(np.asarray, state.params), 1e-4, 1e-6)


PARAM_ORDER = ("weights", "visible_bias", "hidden_bias")


def fresh(params):
    """A copy of the parameters for a contender whose step donates its state."""
    return jax.tree.map(jnp.copy, params)


def numpy_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---- contenders ---------------------------------------------------------------------------------


def sklearn_contenders(batches: list[np.ndarray], num_hidden: int, learning_rate: float):
    """run(n) of `BernoulliRBM.partial_fit` (float64) and of its inner `_fit` on float32."""
    from sklearn.neural_network import BernoulliRBM

    batch_size = len(batches[0])
    make = dict(
        n_components=num_hidden, batch_size=batch_size, learning_rate=learning_rate, n_iter=1
    )
    rbm = BernoulliRBM(random_state=0, **make)
    batches64 = [np.asarray(v, np.float64) for v in batches]
    rbm32 = BernoulliRBM(random_state=1, **make).fit(batches[0])  # float32 attributes
    rng32 = np.random.RandomState(1)
    assert rbm32.components_.dtype == np.float32, rbm32.components_.dtype
    calls = [0, 0]

    def partial_fit(n: int) -> None:
        for _ in range(n):
            rbm.partial_fit(batches64[calls[0] % len(batches64)])
            calls[0] += 1

    def inner_fit32(n: int) -> None:
        for _ in range(n):
            rbm32._fit(batches[calls[1] % len(batches)], rng32)
            calls[1] += 1

    return partial_fit, inner_fit32


def torch_contender(torch, task: RBMTask, params0, batches: list[np.ndarray], platform):
    """The same CD-1 update in PyTorch eager on `platform`'s device; returns run(n)."""
    o, config = task.config.objective, task.config
    device = platform.device
    params = [torch.from_numpy(np.array(params0[k], np.float32)).to(device) for k in PARAM_ORDER]
    momenta = [torch.zeros_like(p) for p in params]
    data = [torch.from_numpy(np.array(v, np.float32)).to(device) for v in batches]
    generator = torch.Generator(device=device).manual_seed(0)
    calls = [0]

    def step(v0):
        w, b, c = params
        p_h0 = torch.sigmoid(v0 @ w + c)
        h0 = torch.bernoulli(p_h0, generator=generator)
        v1 = torch.bernoulli(torch.sigmoid(h0 @ w.T + b), generator=generator)
        grads = manual_gradients(torch.sigmoid, w, b, c, v0, v1, o.weight_decay, p_h0)
        manual_update(params, momenta, grads, config.learning_rate, o.momentum)

    def run(n: int) -> None:
        platform.set_threads()
        with torch.no_grad():
            for _ in range(n):
                step(data[calls[0] % len(data)])
                calls[0] += 1
        platform.sync()
        float(params[0][0, 0])  # eager ops are done when they return; this reads one

    return run


def blas_threads() -> list[dict]:
    """numpy's BLAS (what scikit-learn's matrix products run on) and its threads."""
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "num_threads")
    return [{k: lib.get(k) for k in keep} for lib in threadpool_info()]


def main() -> None:
    bench = harness.Benchmark("rbm_update", __doc__, repeats=(15, 3), steps=(20, 10))
    bench.parser.add_argument(
        "--num-hidden", type=int, default=None, help="hidden units (500, quick 32)"
    )
    bench.parser.add_argument("--batch-size", type=int, default=None, help="100, quick 32")
    args = bench.parse()
    log = harness.log

    log("loading the RBM task's data ...")
    task = rbm_task(args.quick, args.num_hidden, args.batch_size)
    config = task.config
    if config.get("lr_schedule", "constant") != "constant":
        raise SystemExit("the hand-written updates assume a constant learning rate")
    batch_size, num_hidden, num_visible = config.batch_size, task.num_hidden, task.num_visible
    train_bits = flat(task.train_split.pixels())
    rows = np.arange(NUM_BATCHES * batch_size) % len(train_bits)
    batches = [train_bits[r] for r in rows.reshape(NUM_BATCHES, batch_size)]
    assert set(np.unique(batches[0])) <= {0.0, 1.0}, "the batches are not binary"
    keys = list(jax.random.split(jax.random.key(42), NUM_KEYS))
    params0 = task.init_params(jax.random.key(0))

    tx = rbm_optimizer(config)  # what the task builds as task.tx
    step = cd_step(tx, config.objective.gibbs_steps)
    device_batches = [jnp.asarray(v) for v in batches]
    log("checking the jaxgen step against the task's own step ...")
    checks = {
        "jaxgen_step_vs_task_step_params_max_rel_diff": check_against_task(
            task, step, tx, params0, device_batches, keys
        ),
        "manual_update_numpy_vs_optax_params_max_rel_diff": check_manual_update(
            numpy_sigmoid, lambda x: x, task, params0, batches
        ),
    }

    contenders = {
        "jaxgen": harness.Stepper(
            jax.jit(step, donate_argnums=0),
            TrainState.create(fresh(params0), tx),
            device_batches,
            [gibbs_key(k) for k in keys],
        ),
        "jaxgen_task_step": harness.Stepper(
            harness.jit_train_step(task, task.train_step),
            task.init_state(jax.random.key(0)).replace(params=fresh(params0)),
            [{"image": v.reshape(batch_size, *task.image_shape)} for v in device_batches],
            keys,
        ),
    }
    compile_s = {name: round(contenders[name].compile(), 3) for name in contenders}
    contenders["sklearn"], contenders["sklearn_fit_inner_float32"] = sklearn_contenders(
        batches, num_hidden, config.learning_rate
    )

    xla_threads = harness.machine_facts()["cores"]
    payload = {}
    torch = harness.import_torch()
    if torch is None:
        payload["torch_missing"] = harness.torch_missing()
    else:
        checks["manual_update_torch_vs_optax_params_max_rel_diff"] = check_manual_update(
            torch.sigmoid, torch.from_numpy, task, params0, batches
        )
        platform = harness.TorchPlatform(torch, xla_threads)
        payload["torch_platform"] = platform.facts()
        contenders["torch"] = torch_contender(torch, task, params0, batches, platform)

    log(f"timing {len(contenders)} contenders, {args.repeats} rounds of {args.steps} steps ...")
    times = harness.interleave(contenders, args.repeats, args.steps, args.warmup)
    results = harness.summarize(times)
    for name in results:
        results[name]["s_per_step_median"] = round(results[name]["ms_per_step_median"] / 1e3, 6)
        ratio = harness.speed_ratio(times, name, "jaxgen")
        results[name]["speed_vs_jaxgen_median"] = ratio["median_per_round"]
        results[name]["speed_vs_jaxgen_best_rounds"] = ratio["of_best_rounds"]
        results[name]["time_vs_jaxgen_median"] = round(1.0 / ratio["median_per_round"], 3)
    o = config.objective
    config_name = str(EXPERIMENT.relative_to(EXPERIMENT.parent.parent))
    row = dict(
        family="rbm",
        experiment=config_name,
        preset="smoke" if args.quick else "default",
        overrides=[
            "objective.kind=cd",
            "objective.gibbs_steps=1",
            "binarize=static",
            "lr_schedule=constant",
            f"model.num_hidden={num_hidden}",
            f"batch_size={batch_size}",
        ],
    )
    update = (
        f"batch {batch_size} x {num_visible} binary ({config.dataset}); Bernoulli RBM "
        f"{num_visible} x {num_hidden}; one Gibbs round v0 -> h0 -> v1 and the hidden "
        f"probabilities of v0 and v1; SGD {config.learning_rate:g}"
    )
    table = []
    if "torch" in times:
        step_words = f"{update} with momentum {o.momentum:g} and weight decay {o.weight_decay:g}"
        table.append(
            harness.table_row(
                times,
                **row,
                step=f"{step_words} (CD-1, float32); 1 update",
                reference=platform.name,
                reference_device=platform.device_name,
            )
        )
    table.append(
        harness.table_row(
            times,
            **row,
            step=(
                f"{update}; jaxgen: CD-1 with momentum {o.momentum:g} and weight decay "
                f"{o.weight_decay:g} in float32; scikit-learn: PCD-1 (persistent chains, the "
                "same cost per update), plain SGD, float64; 1 update"
            ),
            contender="sklearn",
            reference="scikit-learn BernoulliRBM (partial_fit)",
            reference_device=f"{harness.cpu_name()}, NumPy's BLAS",
        )
    )
    bench.emit(
        protocol_note=(
            "speed_vs_jaxgen_median = median over rounds of (jaxgen's time / this one's time), "
            "above 1 when faster than jaxgen; time_vs_jaxgen_median is its inverse"
        ),
        model=f"Bernoulli RBM {num_visible} visible x {num_hidden} hidden",
        update=(
            f"CD-1 (sklearn: PCD-1), batch {batch_size}, learning rate {config.learning_rate}; "
            f"jaxgen and torch: momentum {o.momentum}, weight decay {o.weight_decay} on the "
            "weights; sklearn: plain SGD, no decay"
        ),
        config=(
            f"{EXPERIMENT.relative_to(EXPERIMENT.parent.parent)}"
            + (":smoke" if args.quick else "")
            + f" with objective.kind=cd, gibbs_steps=1, binarize=static, "
            f"model.num_hidden={num_hidden}, batch_size={batch_size}"
        ),
        data=(
            f"{config.dataset} training split binarized once with jaxgen's static key: "
            f"{NUM_BATCHES} batches of {batch_size} x {num_visible}, cycled"
        ),
        num_visible=num_visible,
        num_hidden=num_hidden,
        batch_size=batch_size,
        dtypes={
            "jaxgen": "float32",
            "sklearn": "float64 (partial_fit casts its input)",
            "sklearn_fit_inner_float32": "float32",
            "torch": "float32",
        },
        notes=[
            "scikit-learn's BernoulliRBM trains by persistent CD (PCD-1): each update samples "
            "its negatives one Gibbs round from its own persistent chains instead of from the "
            "batch; per update it is the same cost as CD-1: one Gibbs round and the gradient.",
            "sklearn_fit_inner_float32 calls BernoulliRBM._fit, a private method, on float32 "
            "batches and a model fitted on float32 data (what fit does per batch).",
            "jaxgen_task_step is RBMTask.train_step: the same update plus the loss value, the "
            "gradient norm and the reconstruction error the training loop watches.",
        ],
        cores_xla_uses=xla_threads,
        torch_threads=platform.threads if torch is not None else None,
        sklearn_blas=blas_threads(),
        compile_s=compile_s,
        checks=checks,
        results=results,
        table=table,
        **payload,
    )


if __name__ == "__main__":
    main()
