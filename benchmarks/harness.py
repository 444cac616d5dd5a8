"""What every benchmark shares: its flags, interleaved timing of named contenders, the machine's
facts and the one JSON object it prints.

A benchmark script is

    bench = harness.Benchmark("name", __doc__, repeats=(7, 2), steps=(4, 1))
    bench.parser.add_argument(...)  # its own flags, beside the shared ones
    args = bench.parse()  # records the load average before anything runs
    times = harness.interleave(contenders, args.repeats, args.steps, args.warmup)
    bench.emit(results=harness.summarize(times), ...)  # machine facts + load after; prints

Shared flags: `--quick` (the small form: the second value of each `(full, quick)` default),
`--repeats N` (timed rounds; `--rounds` is the same flag), `--steps N` (steps per contender per
round) and `--warmup N` (untimed rounds first: compile, allocate, spin up thread pools).

Protocol (`interleave`): every round runs each contender for its number of steps, the starting
contender rotating by one each round, so a change of load between rounds hits every contender
alike; times are seconds per step, and ratios are taken per round before their median.

A benchmark that times jaxgen against a reference (PyTorch eager, scikit-learn) also gives one
`table_row` per reference in `emit(table=[...])`: the uniform rows benchmarks/table.py collects
into the README's table. `TorchPlatform` puts the PyTorch side on CUDA when there is one (and
synchronizes before the clock is read), else on the CPU with as many threads as XLA's cores.

Progress goes to stderr; stdout holds only the JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import runtime

Times = dict[str, list[float]]  # contender -> seconds per step, one value per timed round
TORCH_INSTALL = ".venv/bin/pip install torch==2.13.0"
REPLIES_FD = "JAXGEN_BENCHMARK_REPLIES_FD"  # a Worker's pipe for its replies, in its environment
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
PROCESSES_HELP = (
    "contender: jaxgen and PyTorch each in a worker process of its own (default); one: both in "
    "this process"
)
# A protocol's words for `--processes contender`.
IN_WORKERS = (
    "jaxgen's and PyTorch's contenders each in a worker process of their own (jaxgen's without "
    "torch imported, PyTorch's with jaxgen's native library off)"
)


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# ---- timing ----------------------------------------------------------------------------------


def rotation(names: Sequence[str], round_index: int) -> list[str]:
    """The order of round `round_index`: `names` started at position round_index mod len."""
    start = round_index % len(names)
    return list(names[start:]) + list(names[:start])


def interleave(
    contenders: Mapping[str, Callable[[int], object]],
    repeats: int,
    steps: int | Mapping[str, int],
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> Times:
    """Seconds per step of each contender in each of `repeats` rounds.

    A contender is `run(n)`: n steps, finished (blocked on) when it returns; timed by `clock`
    unless it returns the seconds it `Measured` itself (a `Worker`'s, in another process).
    `steps` is the number of steps per round, for all or per contender. `warmup` untimed rounds
    come first.
    """
    names = list(contenders)
    per_round = dict(steps) if isinstance(steps, Mapping) else dict.fromkeys(names, steps)

    def seconds(name: str) -> float:
        t0 = clock()
        result = contenders[name](per_round[name])
        return result if isinstance(result, Measured) else clock() - t0

    for w in range(warmup):
        for name in names:
            elapsed = seconds(name)
            if w == 0:
                log(f"warm-up {name}: {elapsed:.2f}s for {per_round[name]} steps")
    times: Times = {name: [] for name in names}
    for r in range(repeats):
        for name in rotation(names, r):
            times[name].append(seconds(name) / per_round[name])
        log(
            f"round {r + 1}/{repeats}: "
            + ", ".join(f"{n} {1e3 * times[n][-1]:.2f}ms/step" for n in names)
        )
    return times


class Measured(float):
    """Seconds that a contender measured itself, returned from `run(n)`; `interleave` takes
    them instead of reading its clock around the call (a `Worker`'s contender, whose clock is
    in its own process, leaves the pipe's round trip out)."""


# ---- contenders in processes of their own --------------------------------------------------------


class Worker:
    """Contenders timed in a process of their own: `command` (a benchmark script with the flags
    that make it `serve` them) is started with `env` added to this environment; `facts` is the
    JSON object it sent when it was ready (what it built: counts, compile times, its process
    id), and `contender(name)` runs its contender `name` there, for `interleave`.

    Each framework can then run in a process that the other's libraries never touched (GNU
    OpenMP's throttling, the allocators' state), while the rounds still alternate between them:
    a worker that is not running steps waits on its pipe, idle. Its requests go to its stdin,
    its replies come back on a pipe of their own (`REPLIES_FD`), and its stdout joins this
    process's stderr, so that nothing it prints can be mistaken for a reply or reach this
    process's JSON.
    """

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None):
        self.command = list(command)
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=2,
                text=True,
                env={**os.environ, **(env or {}), REPLIES_FD: str(write_end)},
                pass_fds=(write_end,),
            )
        finally:
            os.close(write_end)  # the worker holds it now: its exit ends our reads
        self.replies = os.fdopen(read_end, "r")
        self.facts = json.loads(self._reply("starting"))

    def _reply(self, doing: str) -> str:
        line = self.replies.readline()
        if not line:
            code = self.process.wait()
            raise RuntimeError(f"worker {self.command} exited ({code}) while {doing}")
        return line

    def contender(self, name: str) -> Callable[[int], Measured]:
        def run(n: int) -> Measured:
            self.process.stdin.write(f"{name} {n}\n")
            self.process.stdin.flush()
            return Measured(self._reply(f"running {n} steps of {name}"))

        return run

    def close(self) -> None:
        """Ends the worker (it exits when its input closes); RuntimeError if it failed."""
        if self.process.poll() is None:
            self.process.stdin.close()
        code = self.process.wait()
        self.replies.close()
        if code != 0:
            raise RuntimeError(f"worker {self.command} failed (exit code {code})")

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:  # already failing: do not let a second error hide the first
            self.process.kill()
            self.process.wait()
            self.replies.close()


@contextlib.contextmanager
def framework_workers(command: Sequence[str], sides: Sequence[str]):
    """{side: Worker} for each of `sides` ("jaxgen", "torch"), each running `command --serve
    SIDE`, all closed (or killed, on an error) on leaving the context. PyTorch's runs with
    jaxgen's native library off (JAXGEN_ONEDNN=0), so that no OpenMP team of jaxgen's lives in
    its process; jaxgen's is checked never to have imported torch."""
    with contextlib.ExitStack() as stack:
        workers = {}
        for side in sides:
            log(f"starting the {side} worker ...")
            env = {"JAXGEN_ONEDNN": "0"} if side == "torch" else {}
            workers[side] = stack.enter_context(Worker([*command, "--serve", side], env=env))
            if side == "jaxgen" and workers[side].facts["torch_imported"]:
                raise AssertionError("torch was imported in jaxgen's worker")
        yield workers


def side_contenders(
    stack: contextlib.ExitStack,
    processes: str,
    sides: Mapping[str, Callable[[], tuple[dict, dict]]],
    script: str,
    argv: Sequence[str],
) -> tuple[dict[str, Callable[[int], object]], dict[str, dict], dict[str, int]]:
    """(every contender by name, each side's facts, each side's process id). `sides` maps
    "jaxgen" and "torch" to a builder of (contenders, facts): with `processes` "one" they run
    here, else each in a worker of its own (`script` again with `argv` and `--serve SIDE`, whose
    builder `serve` answers with), closed with `stack`."""
    if processes == "one":
        built = {side: build() for side, build in sides.items()}
        contenders = {
            name: c for side_contenders, _ in built.values() for name, c in side_contenders.items()
        }
        facts = {side: facts for side, (_, facts) in built.items()}
        return contenders, facts, dict.fromkeys(sides, os.getpid())
    command = [sys.executable, str(Path(script).resolve()), *argv]
    workers = stack.enter_context(framework_workers(command, list(sides)))
    facts = {side: w.facts for side, w in workers.items()}
    return worker_contenders(workers), facts, {s: f["process_id"] for s, f in facts.items()}


def worker_contenders(workers: Mapping[str, Worker]) -> dict[str, Callable[[int], Measured]]:
    """Every contender the workers serve, by name."""
    return {c: w.contender(c) for w in workers.values() for c in w.facts["contenders"]}


def serve(contenders: Mapping[str, Callable[[int], object]], facts: Mapping[str, Any]) -> None:
    """The worker's side of `Worker`: sends `facts`, with this process's id, the contenders'
    names and whether torch is imported here added, as one JSON line, then for each line
    "NAME N" on stdin runs contender NAME for N steps and answers with the seconds it took,
    until stdin closes."""
    if REPLIES_FD not in os.environ:
        raise RuntimeError(f"serve() answers a harness.Worker; ${REPLIES_FD} is not set")
    facts = {
        **facts,
        "process_id": os.getpid(),
        "contenders": list(contenders),
        "torch_imported": "torch" in sys.modules,
    }
    with os.fdopen(int(os.environ[REPLIES_FD]), "w") as replies:
        print(json.dumps(facts), file=replies, flush=True)
        for line in sys.stdin:
            name, n = line.split()
            t0 = time.perf_counter()
            contenders[name](int(n))
            print(repr(time.perf_counter() - t0), file=replies, flush=True)


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """(first, third) quartile, inclusive method; both the value itself for one value."""
    if len(values) == 1:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def summarize(times: Times) -> dict[str, dict]:
    """Per contender: median and best steps/s, the median ms per step, its interquartile range
    over rounds (the spread) and every round's ms per step."""
    out = {}
    for name, ts in times.items():
        median = statistics.median(ts)
        q1, q3 = quartiles(ts)
        out[name] = {
            "steps_per_s_median": round(1.0 / median, 3),
            "steps_per_s_best": round(1.0 / min(ts), 3),
            "ms_per_step_median": round(1e3 * median, 3),
            "ms_per_step_iqr": [round(1e3 * q1, 3), round(1e3 * q3, 3)],
            "ms_per_step_rounds": [round(1e3 * t, 3) for t in ts],
        }
    return out


def time_programs(
    contenders: Mapping[str, Callable[[int], object]],
    compile_s: Mapping[str, float],
    steps: int,
    repeats: int,
    warmup: int,
) -> tuple[Times, dict]:
    """Times programs of one step in alternating rounds (`interleave`); returns the times and a
    record: steps per round, compile seconds and each program's median ms per step."""
    times = interleave(contenders, repeats, steps, warmup)
    results = summarize(times)
    return times, {
        "steps_per_round": steps,
        "compile_s": dict(compile_s),
        "ms_per_step": {p: results[p]["ms_per_step_median"] for p in results},
    }


def speed_ratio(times: Times, a: str, b: str) -> dict[str, float]:
    """a's speed over b's: of the medians, the median over rounds of the per-round ratio
    (robust to load that changes between rounds), and of the fastest rounds."""
    per_round = [tb / ta for ta, tb in zip(times[a], times[b], strict=True)]
    return {
        "of_medians": round(statistics.median(times[b]) / statistics.median(times[a]), 3),
        "median_per_round": round(statistics.median(per_round), 3),
        "of_best_rounds": round(min(times[b]) / min(times[a]), 3),
    }


def ratios_over(times: Times, baseline: str) -> dict[str, float]:
    """{contender: its speed over `baseline`'s, the median over rounds of the per-round ratio}
    for every other contender (above 1: faster than the baseline)."""
    return {c: speed_ratio(times, c, baseline)["median_per_round"] for c in times if c != baseline}


def on_cpu():
    """A context in which new arrays and jitted work go to the CPU: benchmarks of CPU kernels
    (oneDNN's FFI targets exist only there) run there on a machine with a GPU too."""
    return jax.default_device(jax.devices("cpu")[0])


def medians_ms(times: Times) -> dict[str, float]:
    """Median ms per step (per call) of each contender."""
    return {name: round(1e3 * statistics.median(ts), 3) for name, ts in times.items()}


def calls(fn: Callable[[], object], wait_each: bool = False) -> Callable[[int], None]:
    """A contender that calls the zero-argument `fn` n times, then waits for the last result;
    with `wait_each`, for every result before the next call. Calls that share no data may
    otherwise run two at once, which no train step or evaluation loop of dependent batches does
    (and which makes jaxgen's native library's calls queue on its lock)."""

    def run(n: int) -> None:
        for _ in range(n):
            out = fn()
            if wait_each:
                jax.block_until_ready(out)
        jax.block_until_ready(out)

    return run


def max_rel_diff(actual, expected) -> float:
    """The largest absolute difference relative to the largest magnitude of `expected` (in
    float64): how contenders' results are checked against the reference before timing."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def jit_train_step(task, step: Callable) -> Callable:
    """`step` (one of `task`'s train steps) jitted as the training loop jits it: the state
    donated, on the CPU without the YNNPACK fusions the task leaves out
    (runtime.step_compiler_options)."""
    options = runtime.step_compiler_options(task.ynnpack_fusions_off, jax.default_backend())
    return jax.jit(step, donate_argnums=0, compiler_options=options)


class Stepper:
    """A contender of train steps: `fn(state, batch, key) -> (state, metrics)`, already jitted
    (usually with the state donated: `jax.jit(step, donate_argnums=0)`), cycling through
    `batches` and `keys`. With `steps_per_call` k, one call is k steps (a scanned step)."""

    def __init__(self, fn, state, batches: Sequence, keys: Sequence, steps_per_call: int = 1):
        self.fn, self.state, self.batches, self.keys = fn, state, batches, keys
        self.steps_per_call = steps_per_call
        self.calls = 0
        self.metrics = None

    def compile(self) -> float:
        """Compiles the step ahead of time for the first batch and key; returns the seconds."""
        t0 = time.perf_counter()
        self.fn = self.fn.lower(self.state, self.batches[0], self.keys[0]).compile()
        return time.perf_counter() - t0

    def step(self) -> None:
        """One call, not waited for."""
        i = self.calls
        batch, key = self.batches[i % len(self.batches)], self.keys[i % len(self.keys)]
        self.state, self.metrics = self.fn(self.state, batch, key)
        self.calls += 1

    def block(self) -> None:
        jax.block_until_ready((self.state, self.metrics))

    def __call__(self, n: int) -> None:
        if n % self.steps_per_call:
            raise ValueError(f"{n} steps are not a multiple of {self.steps_per_call} per call")
        for _ in range(n // self.steps_per_call):
            self.step()
        self.block()


# ---- data and checks -------------------------------------------------------------------------


def image_batch(seed: int, batch_size: int, shape: tuple[int, ...]) -> dict[str, jax.Array]:
    """A batch of random grey levels in [0, 1] ("image") and class labels 0..9 ("label")."""
    rng = np.random.default_rng(seed)
    return {
        "image": jnp.asarray(rng.random((batch_size, *shape), dtype=np.float32)),
        "label": jnp.asarray(rng.integers(0, 10, batch_size, dtype=np.int32)),
    }


def stack(trees: Sequence) -> Any:
    """Pytrees stacked along a new leading axis."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def assert_close(actual, expected, rtol: float, atol: float) -> float:
    """Asserts allclose leaf by leaf; returns max |actual - expected| / max |expected|."""
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=rtol, atol=atol), actual, expected
    )
    diffs = jax.tree.leaves(
        jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), actual, expected)
    )
    scale = max(float(jnp.max(jnp.abs(b))) for b in jax.tree.leaves(expected))
    return max(diffs) / scale


# ---- the machine -----------------------------------------------------------------------------


def load_average(path: str = "/proc/loadavg") -> list[float]:
    """The 1, 5 and 15 minute load averages (from /proc/loadavg, else `os.getloadavg`)."""
    try:
        with open(path) as f:
            return [round(float(x), 2) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return [round(x, 2) for x in os.getloadavg()]


def read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def import_torch():
    """The torch module, or None (logged) when it is not installed: the script then leaves its
    PyTorch contenders out and says so in its JSON (`torch_missing`)."""
    try:
        import torch
    except ImportError:
        log(f"torch is not installed ({TORCH_INSTALL}): leaving out the PyTorch contenders")
        return None
    return torch


def torch_missing() -> str:
    return f"torch is not installed, so the PyTorch contenders did not run: {TORCH_INSTALL}"


def cpu_kernel_contenders(skip_torch: bool = False):
    """(torch or None, facts for the JSON) for the benchmarks of jaxgen's native CPU kernels
    against PyTorch's: PyTorch with 2 threads (the cores), or why it is missing; the oneDNN
    library's runtime, or why it is unavailable (logged)."""
    from jaxgen.nn import onednn

    torch = None if skip_torch else import_torch()
    facts = {}
    if torch is not None:
        torch.set_num_threads(2)
    elif not skip_torch:
        facts["torch_missing"] = torch_missing()
    if onednn.available():
        facts["onednn_runtime"] = onednn.runtime()
    else:
        facts["onednn_unavailable"] = onednn.unavailable_reason()
        log(onednn.unavailable_reason())
    return torch, facts


def cpuinfo_fields(path: str = "/proc/cpuinfo") -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    break  # the end of the first processor's block
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


# The widest vector extension first: it decides how fast XLA's and oneDNN's kernels run, and two
# machines of one "model name" (cloud VMs often say only "AMD EPYC") can differ by it (2-3x on the
# convolutional steps between the AVX-512 and the AVX2 machines this project runs on).
VECTOR_EXTENSIONS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("asimd", "NEON"))


def cpu_name(path: str = "/proc/cpuinfo") -> str:
    """The CPU's model name, its family and model numbers and widest vector extension
    (/proc/cpuinfo: "AMD EPYC (family 25, model 1; AVX2)"), else what `platform` says."""
    fields = cpuinfo_fields(path)
    name = fields.get("model name")
    if not name:
        return platform.processor() or platform.machine()
    details = []
    if "cpu family" in fields and "model" in fields:
        details.append(f"family {fields['cpu family']}, model {fields['model']}")
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    vector = next((label for flag, label in VECTOR_EXTENSIONS if flag in flags), None)
    if vector:
        details.append(vector)
    return f"{name} ({'; '.join(details)})" if details else name


def cores() -> int:
    """The cores this process may run on: what XLA:CPU's thread pool uses."""
    return len(os.sched_getaffinity(0))


def device_description() -> str:
    """jaxgen's device in words: the GPU's kind, or the CPU's model and the cores XLA uses."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        return f"{cpu_name()}, {cores()} cores"
    return f"{device.device_kind} ({device.platform})"


def machine_facts() -> dict[str, Any]:
    """Versions, backend, CPU and thread settings (not the load average: `Benchmark` reads it
    before and after)."""
    threads: dict[str, Any] = {v: os.environ.get(v) for v in THREAD_VARIABLES}
    torch = sys.modules.get("torch")  # only when the benchmark imported it
    if torch is not None:
        threads["torch_threads_now"] = torch.get_num_threads()
        threads["torch_interop_threads"] = torch.get_num_interop_threads()
    return {
        "jax": jax.__version__,
        "jaxlib": package_version("jaxlib"),
        "flax": package_version("flax"),
        "torch": package_version("torch"),
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "device_description": device_description(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cores": cores(),  # what XLA:CPU's thread pool uses
        "l3_cache": read_text("/sys/devices/system/cpu/cpu0/cache/index3/size"),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "threads": threads,
    }


class TorchPlatform:
    """Where the PyTorch side runs: CUDA when `torch.cuda.is_available()`, else the CPU with
    `threads` intra-op threads (default: the cores XLA uses). A contender calls `set_threads()`
    when its round starts (another contender may have changed them) and `sync()` before it
    returns, so that the clock stops after the GPU's work."""

    def __init__(self, torch, threads: int | None = None):
        self.torch = torch
        self.cuda = bool(torch.cuda.is_available())
        self.device = torch.device("cuda" if self.cuda else "cpu")
        self.threads = None if self.cuda else (threads or cores())
        self.set_threads()

    def set_threads(self) -> None:
        if self.threads is not None:
            self.torch.set_num_threads(self.threads)

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    @property
    def name(self) -> str:
        """The reference's name in a table row."""
        if self.cuda:
            return "PyTorch eager, CUDA"
        return f"PyTorch eager, {self.threads} thread{'s' if self.threads != 1 else ''}"

    @property
    def device_name(self) -> str:
        if self.cuda:
            return f"{self.torch.cuda.get_device_name(0)} (cuda)"
        return f"{cpu_name()}, {self.threads} threads"

    def facts(self) -> dict[str, Any]:
        return {
            "device": str(self.device),
            "device_name": self.device_name,
            "threads": self.threads,
            "cuda": self.torch.version.cuda,
        }


def torch_reference(threads: int) -> str:
    """The name of a PyTorch contender on `threads` CPU threads, in a table row."""
    return f"PyTorch eager, {threads} thread{'s' if threads != 1 else ''}"


# ---- the table -------------------------------------------------------------------------------

# The keys of a table row, in order (benchmarks/table.py reads them).
ROW_KEYS = (
    "family",
    "experiment",
    "preset",
    "overrides",
    "step",
    "jaxgen_contender",
    "jaxgen_steps_per_s",
    "reference",
    "reference_contender",
    "reference_steps_per_s",
    "ratio",
    "ratio_of_medians",
    "ratio_of_best_rounds",
    "rounds",
    "platform",
    "device",
    "reference_device",
)


def torch_rows(times: Times, platform, **row) -> list[dict[str, Any]]:
    """The table's rows of jaxgen against each PyTorch contender in `times`: "torch" on
    `platform` (a `TorchPlatform`: CUDA, or the CPU with XLA's thread count) and, where it ran,
    "torch_1thread" on one CPU thread. `row`: `table_row`'s other fields."""
    rows = []
    for contender in ("torch", "torch_1thread"):
        if contender not in times:
            continue
        one = contender == "torch_1thread"
        rows.append(
            table_row(
                times,
                contender=contender,
                reference=torch_reference(1) if one else platform.name,
                reference_device=f"{cpu_name()}, 1 thread" if one else platform.device_name,
                **row,
            )
        )
    return rows


def table_row(
    times: Times,
    *,
    family: str,
    experiment: str,
    step: str,
    reference: str,
    jaxgen: str = "jaxgen",
    contender: str = "torch",
    preset: str = "default",
    overrides: Sequence[str] = (),
    reference_device: str | None = None,
    load_average: Mapping[str, list[float]] | None = None,
) -> dict[str, Any]:
    """One row of the benchmark table: jaxgen's contender `jaxgen` against the reference's
    `contender` in the same interleaved `times`.

    family: jaxgen's family (`config.task`); experiment: the experiment file, at `preset` with
    `overrides`; step: what one step contains, in plain words (batch, widths, image size,
    sequence length, optimizer, updates per step), so that a reader can check that both sides
    do the same work; reference: what the reference is ("PyTorch eager, 2 threads",
    "scikit-learn BernoulliRBM"), on `reference_device` (default jaxgen's device). The steps/s
    are medians over rounds; `ratio` is jaxgen's speed over the reference's, the median of the
    per-round ratios (`speed_ratio`), above 1 when jaxgen is faster. `load_average` ({"before",
    "after"}) when the benchmark measured it around this row alone (else table.py takes the
    benchmark's). Platform and device: JAX's default backend and device.
    """
    ratio = speed_ratio(times, jaxgen, contender)
    row = {
        "family": family,
        "experiment": experiment,
        "preset": preset,
        "overrides": list(overrides),
        "step": step,
        "jaxgen_contender": jaxgen,
        "jaxgen_steps_per_s": round(1.0 / statistics.median(times[jaxgen]), 3),
        "reference": reference,
        "reference_contender": contender,
        "reference_steps_per_s": round(1.0 / statistics.median(times[contender]), 3),
        "ratio": ratio["median_per_round"],
        "ratio_of_medians": ratio["of_medians"],
        "ratio_of_best_rounds": ratio["of_best_rounds"],
        "rounds": len(times[jaxgen]),
        "platform": jax.default_backend(),
        "device": device_description(),
        "reference_device": reference_device or device_description(),
    }
    if load_average is not None:
        row["load_average"] = {k: list(v) for k, v in load_average.items()}
    return row


def check_rows(rows: Sequence[Mapping]) -> None:
    """ValueError unless every row has the keys of `table_row`."""
    for row in rows:
        missing = [key for key in ROW_KEYS if key not in row]
        if missing:
            raise ValueError(f"table row of {row.get('family')!r} lacks {missing}")


# ---- flags and output ------------------------------------------------------------------------


class Benchmark:
    """One benchmark run: its flags (`parser`, with the shared ones), the load average before
    (`parse`) and after (`emit`), and its JSON object.

    repeats, steps: (full, quick) defaults of --repeats and --steps; `steps=None` leaves
    --steps out (a script whose contenders' steps are its own).
    """

    def __init__(
        self,
        name: str,
        doc: str,
        repeats: tuple[int, int],
        steps: tuple[int, int] | None = None,
        warmup: int = 1,
    ):
        self.name, self.repeats, self.steps = name, repeats, steps
        self.parser = argparse.ArgumentParser(
            description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        self.parser.add_argument("--quick", action="store_true", help="the small, short form")
        self.parser.add_argument(
            "--repeats",
            "--rounds",
            type=int,
            default=None,
            help=f"timed rounds (default {repeats[0]}, quick {repeats[1]})",
        )
        if steps is not None:
            self.parser.add_argument(
                "--steps",
                type=int,
                default=None,
                help=f"steps per contender per round (default {steps[0]}, quick {steps[1]})",
            )
        self.parser.add_argument(
            "--warmup", type=int, default=warmup, help="untimed rounds before the timed ones"
        )
        self.args: argparse.Namespace | None = None
        self.load_before: list[float] = []
        # Where the contenders ran, for the protocol (a script with `Worker`s says so).
        self.where = "in one process"

    def add_process_flags(self, help_text: str = PROCESSES_HELP) -> None:
        """`--processes contender|one` (where jaxgen's and PyTorch's contenders run: each in a
        worker of its own, `framework_workers`, or both in this process) and the hidden
        `--serve jaxgen|torch` that a worker is started with."""
        self.parser.add_argument(
            "--processes", choices=("contender", "one"), default="contender", help=help_text
        )
        self.parser.add_argument("--serve", choices=("jaxgen", "torch"), help=argparse.SUPPRESS)

    def parse(self, argv: Sequence[str] | None = None) -> argparse.Namespace:
        """The flags, with --repeats and --steps filled from the (full, quick) defaults."""
        args = self.parser.parse_args(argv)
        pick = 1 if args.quick else 0
        if args.repeats is None:
            args.repeats = self.repeats[pick]
        if self.steps is not None and args.steps is None:
            args.steps = self.steps[pick]
        self.args = args
        self.load_before = load_average()
        return args

    def protocol(self, note: str = "") -> str:
        args = self.args
        steps = f" (--steps {args.steps})" if getattr(args, "steps", None) else ""
        text = (
            f"interleaved {self.where}: {args.warmup} warm-up round(s), then {args.repeats} "
            f"timed rounds, each running every contender for its steps per round{steps}, the "
            "starting contender rotating; times per step, medians over rounds"
        )
        return f"{text}; {note}" if note else text

    def record(
        self, protocol_note: str = "", table: Sequence[Mapping] | None = None, **payload
    ) -> dict[str, Any]:
        """The JSON object: the benchmark's name, flags, machine facts, load averages before
        and after, the protocol, then `payload`, and `table` (its `table_row`s) when given."""
        if table is not None:
            check_rows(table)
            payload["table"] = [dict(row) for row in table]
        return {
            "benchmark": self.name,
            "flags": vars(self.args),
            **machine_facts(),
            "load_average_before": self.load_before,
            "load_average_after": load_average(),
            "protocol": self.protocol(protocol_note),
            **payload,
        }

    def emit(
        self,
        protocol_note: str = "",
        file: TextIO | None = None,
        table: Sequence[Mapping] | None = None,
        **payload,
    ) -> dict:
        """Prints `record(...)` as one JSON object on stdout (or `file`) and returns it;
        `table`: the benchmark's rows of the table (`table_row`), one per reference."""
        record = self.record(protocol_note, table, **payload)
        print(json.dumps(record, indent=1), file=file or sys.stdout, flush=True)
        return record


def import_twins():
    """benchmarks/torch_twins.py, the PyTorch copies of jaxgen's steps, which imports torch at its
    top (call it with torch there); loaded by path, once, as the module `torch_twins`."""
    if "torch_twins" not in sys.modules:
        path = Path(__file__).resolve().parent / "torch_twins.py"
        spec = importlib.util.spec_from_file_location("torch_twins", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["torch_twins"] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules["torch_twins"]
