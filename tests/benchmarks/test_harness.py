"""The benchmark harness's pure parts, and the DCGAN generator's `transposed_conv` option."""

from __future__ import annotations

import io
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.gan.config import gan_model_config
from jaxgen.families.gan.model import DCGANGenerator, build_players
from tests.benchmarks import BENCHMARKS, load_benchmark


@pytest.fixture(scope="module")
def harness():
    return load_benchmark("harness")


class FakeClock:
    """A clock that contenders advance by a known time per step."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rotation_starts_one_later_each_round(harness):
    names = ["a", "b", "c"]
    assert [harness.rotation(names, r) for r in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_interleave_order_steps_and_seconds_per_step(harness):
    clock, calls = FakeClock(), []
    cost = {"a": 1.0, "b": 2.0, "c": 4.0}  # seconds per step

    def contender(name):
        def run(n):
            calls.append((name, n))
            clock.now += cost[name] * n

        return run

    contenders = {name: contender(name) for name in cost}
    steps = {"a": 3, "b": 2, "c": 1}
    times = harness.interleave(contenders, repeats=3, steps=steps, warmup=1, clock=clock)
    warmup, timed = calls[:3], calls[3:]
    assert warmup == [("a", 3), ("b", 2), ("c", 1)]
    assert [name for name, _ in timed] == list("abcbcacab")
    assert all(n == steps[name] for name, n in timed)
    assert times == {"a": [1.0] * 3, "b": [2.0] * 3, "c": [4.0] * 3}


WORKER = """
import sys, time
sys.path.insert(0, {benchmarks!r})
import harness
print("stray output, which must not reach the replies")
def sleep(n):
    time.sleep(0.02 * n)
harness.serve({{"sleep": sleep}}, {{"built": "yes"}})
"""


def test_worker_serves_contenders_timed_by_its_own_clock(harness, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(benchmarks=str(BENCHMARKS)))
    worker = harness.Worker([sys.executable, str(script)], env={"JAXGEN_ONEDNN": "0"})
    assert worker.facts["built"] == "yes"
    assert worker.facts["process_id"] not in (os.getpid(), None)
    # The parent's clock stands still: the times are the worker's own.
    times = harness.interleave(
        {"sleep": worker.contender("sleep")}, repeats=2, steps=3, warmup=0, clock=FakeClock()
    )
    assert all(0.02 <= t < 0.5 for t in times["sleep"])
    with pytest.raises(RuntimeError, match=r"exited \(1\) while running 1 steps of nothing"):
        worker.contender("nothing")(1)  # an unknown contender ends the worker
    with pytest.raises(RuntimeError, match=r"failed \(exit code 1\)"):
        worker.close()


def test_worker_that_fails_to_start_says_so(harness, tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("raise SystemExit(3)")
    with pytest.raises(RuntimeError, match=r"exited \(3\) while starting"):
        harness.Worker([sys.executable, str(script)])


def test_summary_medians_spread_and_ratios(harness):
    times = {"fast": [0.010, 0.030, 0.020], "slow": [0.040, 0.050, 0.100]}
    summary = harness.summarize(times)
    assert summary["fast"]["ms_per_step_median"] == 20.0
    assert summary["fast"]["steps_per_s_median"] == 50.0
    assert summary["fast"]["steps_per_s_best"] == 100.0
    assert summary["fast"]["ms_per_step_iqr"] == [15.0, 25.0]
    assert summary["fast"]["ms_per_step_rounds"] == [10.0, 30.0, 20.0]
    assert harness.summarize({"one": [0.5]})["one"]["ms_per_step_iqr"] == [500.0, 500.0]
    ratio = harness.speed_ratio(times, "fast", "slow")
    assert ratio["of_medians"] == 2.5
    assert ratio["median_per_round"] == 4.0  # per round 4, 5/3, 5
    assert ratio["of_best_rounds"] == 4.0
    assert harness.medians_ms(times) == {"fast": 20.0, "slow": 50.0}


def test_stepper_cycles_batches_and_keys_and_counts_calls(harness):
    seen = []

    def step(state, batch, key):
        seen.append((batch, key))
        return state + 1, {"loss": jnp.float32(state)}

    stepper = harness.Stepper(step, 0, ["b0", "b1"], ["k0", "k1", "k2"], steps_per_call=2)
    stepper(4)
    assert stepper.state == 2 and stepper.calls == 2
    assert seen == [("b0", "k0"), ("b1", "k1")]
    with pytest.raises(ValueError):
        stepper(3)


def test_flags_quick_defaults_and_json_record(harness, monkeypatch):
    bench = harness.Benchmark("demo", "doc", repeats=(7, 2), steps=(4, 1))
    bench.parser.add_argument("--size", type=int, default=3)
    args = bench.parse(["--quick"])
    assert (args.repeats, args.steps, args.warmup, args.size) == (2, 1, 1, 3)
    assert bench.parse(["--rounds", "5", "--steps", "8"]).repeats == 5
    monkeypatch.setattr(harness, "load_average", lambda path="": [1.0, 2.0, 3.0])
    bench.parse([])
    out = io.StringIO()
    record = bench.emit(protocol_note="note", file=out, results={"a": 1})
    printed = json.loads(out.getvalue())
    assert printed == json.loads(json.dumps(record))
    assert printed["benchmark"] == "demo"
    assert printed["results"] == {"a": 1}
    assert printed["flags"]["repeats"] == 7 and printed["flags"]["steps"] == 4
    assert printed["load_average_before"] == printed["load_average_after"] == [1.0, 2.0, 3.0]
    assert printed["protocol"].endswith("; note")
    for key in ("jax", "torch", "backend", "cpu_count", "cores", "xla_flags", "threads"):
        assert key in printed


def test_load_average_reads_proc_format(harness, tmp_path):
    path = tmp_path / "loadavg"
    path.write_text("5.51 2.64 1.65 7/381 13789\n")
    assert harness.load_average(str(path)) == [5.51, 2.64, 1.65]
    assert len(harness.load_average(str(tmp_path / "missing"))) == 3


def test_assert_close_returns_relative_difference(harness):
    expected = {"w": jnp.array([2.0, -4.0])}
    assert harness.assert_close({"w": jnp.array([2.0, -4.0])}, expected, 0, 0) == 0.0
    assert harness.assert_close({"w": jnp.array([2.0, -3.96])}, expected, 0.02, 0) == (
        pytest.approx(0.01, rel=1e-4)
    )
    with pytest.raises(AssertionError):
        harness.assert_close({"w": jnp.array([3.0, -4.0])}, expected, 1e-5, 0)


# ---- the DCGAN generator's transposed convolution ---------------------------------------------


def _generator(transposed_conv: str) -> DCGANGenerator:
    return DCGANGenerator((8, 8, 1), channels=(8, 4, 2), transposed_conv=transposed_conv)


def test_flax_transposed_conv_has_the_same_parameters_and_outputs():
    z = jax.random.normal(jax.random.key(0), (3, 6))
    ours, theirs = _generator("jaxgen"), _generator("flax")

    def shapes(g):
        return jax.eval_shape(lambda: g.init(jax.random.key(1), z, train=False))

    structure = shapes(ours)
    assert shapes(theirs) == structure
    # Random values everywhere (biases start at zero, which would hide a mismatch), drawn in
    # NumPy: compiling flax's initialisers would take most of this test's time.
    rng = np.random.default_rng(0)

    def draw(path, leaf):
        if jax.tree_util.keystr(path).endswith("['var']"):  # batch-norm variances, > 0
            return jnp.asarray(rng.uniform(0.5, 1.5, leaf.shape), leaf.dtype)
        return jnp.asarray(rng.normal(scale=0.5, size=leaf.shape), leaf.dtype)

    variables = jax.tree_util.tree_map_with_path(draw, structure)

    def outputs(g):
        # Batch norm with the batch's statistics (train, and its updated averages) and with the
        # running averages.
        return jax.jit(
            lambda v: (
                g.apply(v, z, train=True, mutable=["batch_stats"]),
                g.apply(v, z, train=False),
            )
        )(variables)

    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
        outputs(ours),
        outputs(theirs),
    )


def test_transposed_conv_config_default_and_unknown_values():
    assert gan_model_config("dcgan").transposed_conv == "jaxgen"
    for name in ("jaxgen", "flax"):
        generator, _ = build_players(gan_model_config("dcgan", transposed_conv=name), (8, 8, 1), 0)
        assert generator.transposed_conv == name
    with pytest.raises(ValueError, match="transposed_conv"):
        build_players(gan_model_config("dcgan", transposed_conv="torch"), (8, 8, 1), 0)
    with pytest.raises(ValueError, match="transposed_conv"):
        _generator("torch").init(jax.random.key(0), jnp.zeros((1, 6)), train=False)
