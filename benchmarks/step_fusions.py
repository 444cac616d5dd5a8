"""Each family's train step (benchmarks/family_steps.py's) compiled under the process's XLA flags
and again without some of YNNPACK's fusion types, as the program's own option: the measurement
behind a task's `ynnpack_fusions_off` (jaxgen/runtime.py, jaxgen/train/protocol.py).

    python benchmarks/step_fusions.py [--quick] [--families deepdream,feature_classifier,...]
                                      [--off REDUCE] [--preset default]
                                      [--repeats 5] [--warmup 1]

(`--rounds` is `--repeats`.) Both programs of a family run in this one process from the same
task, initial state, batches and keys, and differ only in the option, so what is compared is
XLA's two programs; the rounds alternate between them (harness.interleave), each running the
family's quick number of steps from family_steps.py (a DeepDream step 8 times a round, the
dense autoencoder's 300); `style_transfer` is benchmarks/style_transfer_step.py's step at 256
pixels, 3 a round. Neither program has the task's own `ynnpack_fusions_off`: `flags` is
the step as the process's flags compile it, `off` the same step with the fusion types `--off`
(comma-separated, as in runtime.YNNPACK_FUSIONS_BY_JAXLIB) taken off.

All families by default; `--quick`: 2 rounds, and the dense autoencoder's step alone unless
`--families` says otherwise. On the CPU only, under jaxgen's own flag for the fusion types (the
comparison is meaningless under another setting of it: the script says so and stops). Prints one
JSON object on stdout: per family, each program's ms per step, the compile seconds, and
`flags_over_off`, the median over rounds of the flags' time over the option's (above 1: the step
is faster without those fusions); progress goes to stderr.
"""

from __future__ import annotations

import sys

import family_steps
import harness
import jax
import style_transfer_step

from jaxgen import runtime

STYLE_TRANSFER = "style_transfer"  # benchmarks/style_transfer_step.py's step, at 256 pixels


def stepper(name: str, preset: str) -> tuple[object, harness.Stepper]:
    """(the task, a fresh contender of its step as the benchmarks build it, not compiled)."""
    if name == STYLE_TRANSFER:
        task = style_transfer_step.style_task(256)
        return task, style_transfer_step.jaxgen_stepper(task)
    task = family_steps.build(name, preset)
    return task, family_steps.jaxgen_stepper(task, name)[0]


def family_contenders(name: str, preset: str, off: tuple[str, ...]) -> tuple[dict, dict]:
    """({"flags": Stepper, "off": Stepper}, compile seconds by program) of family `name`: each
    its own initial state (the steps donate it), the step jitted again with the option alone."""
    options = {"flags": {}, "off": runtime.step_compiler_options(off, "cpu")}
    contenders, compile_s = {}, {}
    for program, compiler_options in options.items():
        task, contender = stepper(name, preset)
        step = contender.fn.__wrapped__  # the step function under the benchmarks' own jit
        contender.fn = jax.jit(step, donate_argnums=0, compiler_options=compiler_options)
        contenders[program] = contender
        compile_s[program] = round(contender.compile(), 2)
    return contenders, compile_s


def main(argv: list[str] | None = None) -> dict:
    bench = harness.Benchmark("step_fusions", __doc__, repeats=(5, 2))
    bench.parser.add_argument(
        "--families", default=None, help="comma-separated (default: all; quick: autoencoder)"
    )
    bench.parser.add_argument("--off", default="REDUCE", help="YNNPACK fusion types to take off")
    bench.parser.add_argument("--preset", default="default", help="the experiments' preset")
    args = bench.parse(argv)
    off = tuple(t.strip() for t in args.off.split(",") if t.strip())
    names = (
        args.families.split(",")
        if args.families
        else (["autoencoder"] if args.quick else [*family_steps.FAMILIES, STYLE_TRANSFER])
    )
    choices = [*family_steps.FAMILIES, STYLE_TRANSFER]
    unknown = sorted(set(names) - set(choices))
    if unknown:
        raise SystemExit(f"unknown families {unknown}; choose from {choices}")
    if jax.default_backend() != "cpu" or not runtime.step_compiler_options(off, "cpu"):
        raise SystemExit(
            "step_fusions.py compares programs on the CPU under jaxgen's own XLA flag for "
            f"YNNPACK's fusions ({' '.join(runtime.chosen_flags()) or 'none for this jaxlib'}); "
            "it is not in force here"
        )
    families = {}
    for name in names:
        harness.log(f"== {name}: compiling its step with and without {', '.join(off)} ...")
        contenders, compile_s = family_contenders(name, args.preset, off)
        steps = 3 if name == STYLE_TRANSFER else family_steps.FAMILIES[name].steps[1]
        times, record = harness.time_programs(
            contenders, compile_s, steps, args.repeats, args.warmup
        )
        ratio = harness.speed_ratio(times, "off", "flags")["median_per_round"]
        families[name] = {**record, "flags_over_off": ratio}
        harness.log(f"{name}: {families[name]}")
    return bench.emit(
        protocol_note=(
            "flags_over_off: the median over rounds of the step's time under the process's "
            "flags over its time with the fusion types off (above 1: faster without them)"
        ),
        off=list(off),
        compiler_options=runtime.step_compiler_options(off, "cpu"),
        preset=args.preset,
        families=families,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
