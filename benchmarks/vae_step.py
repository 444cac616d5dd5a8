"""Train-step speed of the 784-400-20 MLP VAE: jaxgen (jitted, donated state) vs PyTorch eager.

Model: dense encoder 784-400 (ReLU) -> 2x20 (mean, log-variance), decoder 20-400 (ReLU) -> 784
Bernoulli logits; loss = -ELBO with the analytic KL, one reparametrized sample, dynamic
binarization; Adam 1e-3; batch 128. The same model, loss and optimizer are written in PyTorch
eager with `torch.set_num_threads` equal to the number of cores XLA's CPU client uses.

The per-pixel Bernoulli work (dynamic binarization, the log-likelihood and their gradients)
now runs on (B, 784) operands inside jaxgen's own losses (`jaxgen.families.vae.losses`), so the
benchmark has one jaxgen contender and its scanned form. Contenders, timed interleaved in one
process (benchmarks/harness.py: every round runs each of them for the same number of steps, the
starting contender rotating), medians over rounds:

- `jaxgen_plain`: `make_train_step(make_vae_loss(...))` jitted with the state donated.
- `jaxgen_plain_scanK`: the same step, K per jitted call (`make_multi_step`, `lax.scan`).
- `torch` (threads = XLA's cores) and `torch_1thread`; left out, and said so in the JSON
  (`torch_missing`), when torch is not installed (`pip install torch==2.13.0`). With CUDA
  (`torch.cuda.is_available()`) `torch` runs there (synchronized before the clock is read) and
  there is no `torch_1thread`.

The JSON's `table` holds the rows (benchmarks/table.py) of `jaxgen_plain` against `torch` and
against `torch_1thread`.

Before timing, the script checks that K scanned steps end with the parameters of K single
steps. A second, shorter interleaved phase splits one step's time: dispatch (a jitted no-op
with the same arguments), the loss alone, loss + gradient, and the whole step.

    python benchmarks/vae_step.py [--quick] [--repeats N] [--steps N] [--warmup N]

(`--rounds` is `--repeats`.) The model, objective and optimizer are the VAE family's config
blocks (`jaxgen.families.vae.config.vae_config`) built as the VAE task builds them.

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

from collections.abc import Callable

import harness
import jax
import numpy as np

from jaxgen.families.vae.config import vae_config
from jaxgen.families.vae.losses import make_vae_loss
from jaxgen.families.vae.model import build_vae
from jaxgen.train.state import TrainState, make_optimizer, make_train_step

BATCH = 128
IMAGE_SHAPE = (28, 28, 1)
SCAN_LENGTHS = (4, 16)


def mlp_vae():
    """(model, loss, tx) of the 784-400-20 Bernoulli VAE (ELBO, K=1, analytic KL, dynamic
    binarization) with Adam 1e-3: the VAE family's config, built as `VAETask` builds it."""
    config = vae_config(batch_size=BATCH, learning_rate=1e-3)
    config.model.update(kind="dense", hidden=(400,), latent_size=20)
    model = build_vae(config.model, config.objective, IMAGE_SHAPE)
    return model, make_vae_loss(model, config.objective), make_optimizer(config)


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


def fresh_state(model, tx, seed: int = 0) -> TrainState:
    x = np.zeros((BATCH, *IMAGE_SHAPE), np.float32)
    params = model.init(jax.random.key(seed), x, np.zeros((BATCH,), np.int32))
    return TrainState.create(params, tx)


def check_multi_step(model, step_fn, tx, batches, keys, k: int) -> float:
    """max relative parameter difference between k scanned steps and k single steps."""
    single = jax.jit(step_fn)
    state = fresh_state(model, tx)
    for i in range(k):
        state, _ = single(state, batches[i % len(batches)], keys[i])
    multi = jax.jit(make_multi_step(step_fn))
    scanned, _ = multi(
        fresh_state(model, tx),
        harness.stack([batches[i % len(batches)] for i in range(k)]),
        jax.numpy.stack(keys[:k]),
    )
    return harness.assert_close(scanned.params, state.params, rtol=1e-5, atol=1e-7)


def scanned_contender(model, step_fn, tx, batches, keys, k: int) -> harness.Stepper:
    """n steps as n / k calls of the k-step scan."""
    return harness.Stepper(
        jax.jit(make_multi_step(step_fn), donate_argnums=0),
        fresh_state(model, tx),
        [harness.stack([batches[i % len(batches)] for i in range(k)])],
        [jax.numpy.stack(keys[i : i + k]) for i in range(0, len(keys) - k + 1, k)],
        steps_per_call=k,
    )


def torch_contender(torch, batches: list[dict], platform: harness.TorchPlatform):
    """The same VAE, loss and Adam in PyTorch eager on `platform`; returns run(n, threads):
    threads None keeps the platform's."""

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
    model = TorchVAE().to(platform.device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = [
        torch.from_numpy(np.array(b["image"]).reshape(BATCH, -1)).to(platform.device)
        for b in batches
    ]

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

    def run(n: int, threads: int | None = None) -> None:
        if threads is None:
            platform.set_threads()
        else:
            torch.set_num_threads(threads)
        for i in range(n):
            loss = step(images[i % len(images)])
        platform.sync()
        loss.item()

    return run


def breakdown(model, loss, tx, batches, keys, repeats: int, steps: int) -> dict:
    """ms per call, all interleaved: a jitted no-op step (dispatch), and for jaxgen's loss the
    loss alone, loss + gradient, and the whole step; plus XLA's flop count and HLO facts."""
    params = fresh_state(model, tx).params
    batch, key = batches[0], keys[0]

    def noop(s, b, k):
        return s.replace(step=s.step + 1), {"x": b["image"][0, 0, 0, 0]}

    def loss_only(p, b, k):
        return loss(p, b, k, 0)[0]

    step_fn = make_train_step(loss, tx)
    loss_fn, grad_fn = jax.jit(loss_only), jax.jit(jax.grad(loss_only))
    contenders = {
        # What a step costs when it computes nothing: argument handling and dispatch.
        "dispatch_noop_step": harness.Stepper(
            jax.jit(noop, donate_argnums=0), fresh_state(model, tx), batches, keys
        ),
        "plain/loss": harness.calls(lambda: loss_fn(params, batch, key)),
        "plain/loss_and_grad": harness.calls(lambda: grad_fn(params, batch, key)),
        "plain/step": harness.Stepper(
            jax.jit(step_fn, donate_argnums=0), fresh_state(model, tx), batches, keys
        ),
    }
    compiled = jax.jit(step_fn).lower(fresh_state(model, tx), batch, key).compile()
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
    times = harness.interleave(contenders, repeats, steps)
    return {"ms_median": harness.medians_ms(times), "hlo": facts}


def main() -> None:
    bench = harness.Benchmark("vae_step", __doc__, repeats=(15, 3), steps=(32, 16))
    args = bench.parse()
    if any(args.steps % k for k in SCAN_LENGTHS):
        bench.parser.error(f"--steps must be a multiple of {SCAN_LENGTHS}")

    # XLA:CPU runs one intra-op worker per core it may use; PyTorch gets the same number.
    xla_threads = harness.machine_facts()["cores"]
    model, loss, tx = mlp_vae()
    batches = [harness.image_batch(1 + i, BATCH, IMAGE_SHAPE) for i in range(8)]
    keys = list(jax.random.split(jax.random.key(42), 4096))
    plain = make_train_step(loss, tx)

    harness.log("checking the multi-step scan against jaxgen's single step ...")
    checks = {
        "multi_step_params_max_rel_diff_k4": check_multi_step(model, plain, tx, batches, keys, 4)
    }

    contenders: dict[str, Callable[[int], None]] = {
        "jaxgen_plain": harness.Stepper(
            jax.jit(plain, donate_argnums=0), fresh_state(model, tx), batches, keys
        ),
    }
    for k in SCAN_LENGTHS:
        contenders[f"jaxgen_plain_scan{k}"] = scanned_contender(model, plain, tx, batches, keys, k)
    payload = {}
    platform = None  # without torch, no PyTorch rows
    torch = harness.import_torch()
    if torch is None:
        payload["torch_missing"] = harness.torch_missing()
    else:
        platform = harness.TorchPlatform(torch, xla_threads)
        payload["torch_platform"] = platform.facts()
        torch_run = torch_contender(torch, batches, platform)
        contenders["torch"] = torch_run
        if not platform.cuda:
            contenders["torch_1thread"] = lambda n: torch_run(n, threads=1)

    harness.log(f"timing {len(contenders)} contenders, {args.repeats} rounds of {args.steps} ...")
    times = harness.interleave(contenders, args.repeats, args.steps, args.warmup)
    results = harness.summarize(times)
    for name in results:
        for reference in ("torch", "jaxgen_plain", "torch_1thread"):
            if reference in times:
                ratio = harness.speed_ratio(times, name, reference)
                results[name][f"speed_vs_{reference}_median"] = ratio["median_per_round"]
                results[name][f"speed_vs_{reference}_best_rounds"] = ratio["of_best_rounds"]

    table = harness.torch_rows(
        times,
        platform,
        family="vae",
        experiment="jaxgen.families.vae.config.vae_config (benchmarks/vae_step.py)",
        preset="-",
        overrides=["model.kind=dense", "model.hidden=400", "model.latent_size=20"],
        step=(
            f"batch {BATCH} of 28x28x1 (random grey levels); MLP VAE 784-400-20 (ReLU), "
            "dynamic binarization, one reparametrized z, Bernoulli likelihood, analytic "
            "KL; Adam 0.001; 1 update"
        ),
        jaxgen="jaxgen_plain",
    )

    harness.log("splitting one step's time ...")
    split = breakdown(model, loss, tx, batches, keys, max(3, args.repeats // 3), args.steps)
    bench.emit(
        protocol_note=(
            "speed_vs_X_median = median over rounds of (X's time / this one's time); "
            "speed_vs_X_best_rounds = ratio of the fastest rounds"
        ),
        model="MLP VAE 784-400-20, Bernoulli, analytic KL, dynamic binarization",
        batch=BATCH,
        optimizer="adam 1e-3",
        cores_xla_uses=xla_threads,
        torch_threads=platform.threads if torch is not None else None,
        checks=checks,
        results=results,
        ms_per_call_breakdown=split,
        table=table,
        **payload,
    )


if __name__ == "__main__":
    main()
