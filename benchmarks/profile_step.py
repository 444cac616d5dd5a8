"""Where a train step's time goes on the CPU, operation by operation.

    python benchmarks/profile_step.py [--quick] [--batch-size 256] [--steps 5] [--top 25]
    python benchmarks/profile_step.py --family texture_synthesis   # any of family_steps.py's
    python benchmarks/profile_step.py --family style_transfer      # style_transfer_step.py's
    JAXGEN_ONEDNN=0 python benchmarks/profile_step.py      # with XLA's convolutions
    JAXGEN_XLA_DEFAULTS=1 ...                              # without jaxgen's XLA flags

The step of benchmarks/dcgan_step.py (classic widths, batch 256; `--batch-size` applies to it
only), or with `--family` the step that benchmarks/family_steps.py times for that family (its
experiment's default preset, the family's phase) or style_transfer_step.py's (256 pixels),
compiled and warmed, then run `--steps` times under `jax.profiler.trace`. XLA:CPU records one
event per executed operation (thunk) of the compiled program: a fusion, a convolution, a custom
call (oneDNN's convolutions are `custom-call`s), a copy. The script sums each operation's time
over the traced steps and prints one JSON object: per operation (by its name in the optimised
HLO, with its kind: what the HLO says it is), ms per step and share of the step's wall time,
largest first, and the totals by kind. Events of the runtime rather than of the program (a
thread pool's `SlinkyThreadPool::Await`, XLA's "Handle inputs") are listed with the kind
`other`: they need not happen on every step (on a loaded machine a wait for the thread pool
ranked among the autoencoder's top five at 0.35 calls a step). Operations run one after
another on this machine's program (one XLA stream plus its intra-op threads), so the shares add
up to about the step's time.
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import re
import tempfile
import time

import dcgan_step
import family_steps
import harness
import jax
import style_transfer_step

# Events that are not operations of the program: the executor's bookkeeping, Python frames.
NOT_OPERATIONS = re.compile(r"^(\$|ThunkExecutor|PjitFunction|CommonPjRt|TfrtCpu|PjRt)")


def operation_kinds(hlo_text: str) -> dict[str, str]:
    """Name -> kind of every instruction of the optimised HLO: the opcode, with a fusion's kind
    (`fusion:kLoop`), a custom call's target, and a YNNPACK fusion as `ynn_fusion`."""
    kinds = {}
    for line in hlo_text.splitlines():
        # The shape may be a tuple with spaces in it (a custom call of several results).
        match = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = .*? ([a-z][\w\-]*)\(", line)
        if not match:
            continue
        name, opcode = match.groups()
        if opcode == "fusion":
            kind = re.search(r"kind=(\w+)", line)
            opcode = "ynn_fusion" if "__ynn_fusion" in line else f"fusion:{kind.group(1)}"
        elif opcode == "custom-call":
            target = re.search(r'custom_call_target="([^"]+)"', line)
            opcode = f"custom-call:{target.group(1)}" if target else opcode
        kinds[name] = opcode
    return kinds


def dcgan_stepper(batch: int) -> tuple[harness.Stepper, str]:
    batches, keys = dcgan_step.step_inputs(batch)
    task = dcgan_step.build_gan_task(batch, "jaxgen")
    stepper, _ = dcgan_step.jaxgen_contender(task, batches, keys)
    return stepper, "DCGAN train step, classic widths (benchmarks/dcgan_step.py)"


def family_stepper(name: str) -> tuple[harness.Stepper, str]:
    """The jitted, donated step that family_steps.py (or style_transfer_step.py) times."""
    if name == "style_transfer":
        stepper = style_transfer_step.jaxgen_stepper(style_transfer_step.style_task(256))
        what = "style transfer's step at 256 pixels (benchmarks/style_transfer_step.py)"
    else:
        task = family_steps.build(name, "default")
        stepper, _ = family_steps.jaxgen_stepper(task, name)
        what = family_steps.FAMILIES[name].describe(task)
    stepper.compile()
    return stepper, what


def main(argv: list[str] | None = None) -> None:
    bench = harness.Benchmark("profile_step", __doc__, repeats=(1, 1), steps=(5, 2))
    bench.parser.add_argument("--batch-size", type=int, default=None, help="256, quick 32")
    bench.parser.add_argument("--top", type=int, default=25, help="operations listed")
    families = [*family_steps.FAMILIES, "style_transfer"]
    bench.parser.add_argument(
        "--family", choices=families, default=None, help="a family's step instead of the DCGAN's"
    )
    args = bench.parse(argv)
    batch = args.batch_size or (32 if args.quick else 256)

    if args.family is None:
        stepper, what = dcgan_stepper(batch)
    else:
        stepper, what = family_stepper(args.family)
    kinds = operation_kinds(stepper.fn.as_text())
    stepper(2)  # warm: thread pools, oneDNN's primitive cache

    trace_dir = tempfile.mkdtemp(prefix="jaxgen_profile_")
    with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
        # The clock stops inside the trace: leaving it writes the trace out, which is not a step.
        t0 = time.perf_counter()
        stepper(args.steps)
        wall_ms = 1e3 * (time.perf_counter() - t0) / args.steps
    (trace,) = glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True)
    with gzip.open(trace) as handle:
        events = json.load(handle)["traceEvents"]

    total = collections.defaultdict(float)
    count = collections.Counter()
    for event in events:
        name = event.get("name", "")
        if event.get("ph") != "X" or NOT_OPERATIONS.match(name):
            continue
        total[name] += event.get("dur", 0.0) / 1e3 / args.steps  # microseconds -> ms per step
        count[name] += 1
    by_kind = collections.defaultdict(float)
    for name, ms in total.items():
        by_kind[kinds.get(name, "other")] += ms
    ranked = sorted(total.items(), key=lambda item: -item[1])
    from jaxgen.nn import conv

    bench.emit(
        protocol_note=f"{args.steps} traced steps after 2 warm ones; times per step",
        step=what,
        family=args.family or "dcgan",
        batch_size=batch if args.family is None else None,
        convolutions=conv.backend(),
        wall_ms_per_step=round(wall_ms, 2),
        traced_ms_per_step=round(sum(total.values()), 2),
        by_kind={
            k: {"ms_per_step": round(v, 2), "share": round(v / wall_ms, 3)}
            for k, v in sorted(by_kind.items(), key=lambda item: -item[1])
        },
        operations=[
            {
                "name": name,
                "kind": kinds.get(name, "other"),
                "ms_per_step": round(ms, 3),
                "share": round(ms / wall_ms, 3),
                "calls_per_step": count[name] / args.steps,
            }
            for name, ms in ranked[: args.top]
        ],
    )


if __name__ == "__main__":
    main()
