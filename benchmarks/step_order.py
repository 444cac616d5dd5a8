"""Each convolutional GAN step with the generator's pass ordered after the discriminator's
update, and without that order: the measurement behind `jaxgen.nn.onednn.run_after` in
families/gan/adversarial.py.

    python benchmarks/step_order.py [--quick] [--families dcgan,cgan] [--repeats 5] [--warmup 1]

(`--rounds` is `--repeats`.) `dcgan` is benchmarks/dcgan_step.py's step (classic widths, batch
256, 3 steps a round); `cgan` is benchmarks/family_steps.py's step of that experiment (its quick
number of steps a round). The MLP GANs (`wgan_gp`, `gan_ring`) are not ordered: they run no
oneDNN primitive, and their steps were 2 to 7% faster with XLA's concurrency (the measurement
with them ordered is in the README). Both programs of a family run in this one process from the
same task, initial state, batches and keys: `ordered` is the step as jaxgen compiles it,
`unordered` the same step traced with `onednn.run_after` as the identity, so that XLA:CPU's
executor may run the generator's pass beside the discriminator's update. The rounds alternate
between them (harness.interleave).

Both programs take the same steps, so their states must end equal to the bit: `states_equal`
says whether they did (run_after changes no number). Both families by default; `--quick`: 2
rounds of the conditional DCGAN alone unless `--families` says otherwise. Prints one JSON object on
stdout: per family, each program's ms per step, the compile seconds, `unordered_over_ordered`
(the median over rounds of the unordered step's time over the ordered one's; above 1: ordering
is faster) and `states_equal`; progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import sys

import dcgan_step
import family_steps
import harness
import jax
import numpy as np

from jaxgen.nn import onednn

DCGAN = "dcgan"  # benchmarks/dcgan_step.py's step
DCGAN_BATCH, DCGAN_STEPS = 256, 3
FAMILIES = (DCGAN, "cgan")  # the steps that call run_after


@contextlib.contextmanager
def run_after_as_identity():
    """Steps traced inside have no run_after: the generator's latents are drawn as before."""
    real = onednn.run_after
    onednn.run_after = lambda x, *deps: x
    try:
        yield
    finally:
        onednn.run_after = real


def compiled_step(name: str) -> tuple[harness.Stepper, float]:
    """Family `name`'s step as its own benchmark builds and compiles it (dcgan_step.py's or
    family_steps.py's contender), and the compile seconds."""
    if name == DCGAN:
        batches, keys = dcgan_step.step_inputs(DCGAN_BATCH)
        task = dcgan_step.build_gan_task(DCGAN_BATCH, "jaxgen")
        stepper, facts = dcgan_step.jaxgen_contender(task, batches, keys)
        return stepper, facts["compile_s"]
    contenders, facts = family_steps.jaxgen_side(family_steps.build(name, "default"), name)
    return contenders["jaxgen"], facts["compile_s"]["jaxgen"]


def family_contenders(name: str) -> tuple[dict, dict]:
    """({"ordered": Stepper, "unordered": Stepper}, compile seconds by program)."""
    contenders, compile_s = {}, {}
    for program, context in (
        ("ordered", contextlib.nullcontext()),
        ("unordered", run_after_as_identity()),
    ):
        with context:  # the step is traced when it is compiled
            contenders[program], compile_s[program] = compiled_step(name)
    return contenders, compile_s


def states_equal(a: harness.Stepper, b: harness.Stepper) -> bool:
    return jax.tree.structure(a.state) == jax.tree.structure(b.state) and all(
        np.array_equal(np.asarray(x), np.asarray(y))
        for x, y in zip(jax.tree.leaves(a.state), jax.tree.leaves(b.state), strict=True)
    )


def main(argv: list[str] | None = None) -> dict:
    bench = harness.Benchmark("step_order", __doc__, repeats=(5, 2))
    bench.parser.add_argument(
        "--families", default=None, help="comma-separated (default: both; quick: cgan)"
    )
    args = bench.parse(argv)
    names = args.families.split(",") if args.families else (["cgan"] if args.quick else FAMILIES)
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        raise SystemExit(f"unknown families {unknown}; choose from {list(FAMILIES)}")
    if jax.default_backend() != "cpu" or not onednn.available():
        raise SystemExit(
            "step_order.py compares the orders on the CPU with jaxgen's native library, where "
            f"run_after is a custom call; it is the identity here ({onednn.unavailable_reason()})"
        )
    families = {}
    for name in names:
        harness.log(f"== {name}: compiling its step ordered and unordered ...")
        contenders, compile_s = family_contenders(name)
        steps = DCGAN_STEPS if name == DCGAN else family_steps.FAMILIES[name].steps[1]
        times, record = harness.time_programs(
            contenders, compile_s, steps, args.repeats, args.warmup
        )
        ratio = harness.speed_ratio(times, "ordered", "unordered")["median_per_round"]
        families[name] = {
            **record,
            "unordered_over_ordered": ratio,
            "states_equal": states_equal(contenders["ordered"], contenders["unordered"]),
        }
        harness.log(f"{name}: {families[name]}")
    return bench.emit(
        protocol_note=(
            "unordered_over_ordered: the median over rounds of the step's time without "
            "run_after over its time with it (above 1: ordering is faster)"
        ),
        families=families,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
