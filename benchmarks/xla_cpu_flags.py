"""What jaxgen's XLA flags (jaxgen/runtime.py) buy on the CPU: the same programs under XLA's
defaults and under jaxgen's flags, timed interleaved.

    python benchmarks/xla_cpu_flags.py [--quick] [--repeats 7] [--steps 3] [--warmup 1]

XLA reads its flags once per process, so each setting runs in a worker process of its own
(this script with `--worker`, `JAXGEN_XLA_DEFAULTS=1` for XLA's defaults; both with
`JAXGEN_ONEDNN=0`, so that every convolution is XLA's); both workers compile
every workload first, then the parent asks them in turn for n steps of a workload
(harness.interleave: the order rotates each round, one worker computes at a time) and times
each request. Workloads:

- `conv5x5_256to128_7x7`: a 5x5 SAME convolution from 256 to 128 channels at 7x7, batch 256,
  forward with the input and kernel gradients (the DCGAN generator's first convolution);
- `conv5x5_s2_64to128_14x14`: the discriminator's second convolution, stride 2, same passes;
- `dcgan_step`: the DCGAN train step of benchmarks/dcgan_step.py (classic widths, batch 256).

`--quick`: batch 32, 2 rounds of 1 step. Prints one JSON object (per workload, each setting's
ms per step and the speed ratio flags / defaults); progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import harness

# Both workers keep oneDNN off, so that the DCGAN step's convolutions are XLA's, whose flags
# this compares (with oneDNN built, it would take them all and the flags would change nothing).
SETTINGS = {
    "xla_defaults": {"JAXGEN_XLA_DEFAULTS": "1", "JAXGEN_ONEDNN": "0"},
    "jaxgen_flags": {"JAXGEN_ONEDNN": "0"},
}


def conv_workload(batch: int, size: int, c_in: int, c_out: int, stride: int):
    """A jitted fwd + input and kernel gradients of one 5x5 SAME convolution; returns call()."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    key_x, key_w, key_r = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(key_x, (batch, size, size, c_in))
    w = jax.random.normal(key_w, (5, 5, c_in, c_out)) * 0.05
    out = -(-size // stride)
    r = jax.random.normal(key_r, (batch, out, out, c_out))

    def loss(x, w):
        y = lax.conv_general_dilated(
            x, w, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return jnp.sum(y * r)

    grads = jax.jit(jax.grad(loss, argnums=(0, 1)))
    return harness.calls(lambda: grads(x, w))


def dcgan_workload(batch: int):
    import dcgan_step

    batches, keys = dcgan_step.step_inputs(batch)
    stepper, _ = dcgan_step.jaxgen_contender(
        dcgan_step.build_gan_task(batch, "jaxgen"), batches, keys
    )
    return stepper


def worker(batch: int) -> None:
    """Compile every workload, say which flags XLA got, then serve `{"workload", "steps"}`
    requests on stdin with `{"seconds"}` on stdout until stdin closes."""
    import jaxgen  # noqa: F401  (sets its XLA flags; must precede the first computation)

    workloads = {
        "conv5x5_256to128_7x7": conv_workload(batch, 7, 256, 128, 1),
        "conv5x5_s2_64to128_14x14": conv_workload(batch, 14, 64, 128, 2),
        "dcgan_step": dcgan_workload(batch),
    }
    for run in workloads.values():
        run(1)  # compile and warm
    print(json.dumps({"xla_flags": os.environ.get("XLA_FLAGS", "")}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        t0 = time.perf_counter()
        workloads[request["workload"]](request["steps"])
        print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)


class Worker:
    """A worker process of one setting, and contenders that ask it for steps."""

    def __init__(self, name: str, batch: int):
        env = {**os.environ, **SETTINGS[name]}
        env.pop("XLA_FLAGS", None)  # each setting is jaxgen's choice or XLA's, nothing else
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", f"--batch-size={batch}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.xla_flags = json.loads(self.process.stdout.readline())["xla_flags"]

    def contender(self, workload: str):
        def run(n: int) -> None:
            self.process.stdin.write(json.dumps({"workload": workload, "steps": n}) + "\n")
            self.process.stdin.flush()
            json.loads(self.process.stdout.readline())

        return run

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def main() -> None:
    if "--worker" in sys.argv:
        batch = int(next(a for a in sys.argv if a.startswith("--batch-size=")).split("=")[1])
        worker(batch)
        return
    bench = harness.Benchmark("xla_cpu_flags", __doc__, repeats=(7, 2), steps=(3, 1))
    bench.parser.add_argument("--batch-size", type=int, default=None, help="256, quick 32")
    args = bench.parse()
    batch = args.batch_size or (32 if args.quick else 256)
    harness.log("starting a worker per setting (each compiles every workload) ...")
    workers = {name: Worker(name, batch) for name in SETTINGS}
    results, ratios = {}, {}
    for workload in ("conv5x5_256to128_7x7", "conv5x5_s2_64to128_14x14", "dcgan_step"):
        harness.log(f"== {workload}")
        contenders = {name: w.contender(workload) for name, w in workers.items()}
        times = harness.interleave(contenders, args.repeats, args.steps, args.warmup)
        results[workload] = harness.summarize(times)
        ratios[workload] = harness.speed_ratio(times, "jaxgen_flags", "xla_defaults")
    for w in workers.values():
        w.close()
    bench.emit(
        batch_size=batch,
        xla_flags={name: w.xla_flags for name, w in workers.items()},
        results=results,
        speed_ratio_jaxgen_flags_over_xla_defaults=ratios,
    )


if __name__ == "__main__":
    main()
