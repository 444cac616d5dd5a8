"""jaxgen's XLA flags (jaxgen/runtime.py): they reach XLA, they do what they were chosen for on
the installed jaxlib, and they never override the user's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jaxgen import runtime

# Compiles (never runs) the DCGAN generator's first convolution in a fresh process and prints
# what XLA made of it.
PROBE = """
import json, os, sys
import jaxgen  # first, as a user's script does
import jax, jax.numpy as jnp
from jax import lax
x, w = jnp.ones((8, 7, 7, 256)), jnp.ones((5, 5, 256, 128))  # YNNPACK takes big ones only
conv = jax.jit(lambda x, w: lax.conv_general_dilated(
    x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
hlo = conv.lower(x, w).compile().as_text()
print(json.dumps({
    "xla_flags": os.environ.get("XLA_FLAGS", ""),
    "ynn_fusion": "__ynn_fusion" in hlo,
    "convolution": " convolution(" in hlo,
}))
"""


def _probe(**env) -> dict:
    unset = ("XLA_FLAGS", runtime.DEFAULTS_VARIABLE)  # this test's process has set XLA_FLAGS
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment.update(env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_installed_jaxlib_is_one_the_flags_were_measured_on():
    # A jaxlib upgrade lands here first: XLA aborts on a flag it does not know, so jaxgen adds
    # none for an unknown release; re-measure (benchmarks/xla_cpu_flags.py) and extend
    # FLAGS_BY_JAXLIB, or drop the flag if XLA no longer needs it.
    assert runtime.jaxlib_release() in runtime.FLAGS_BY_JAXLIB, runtime.jaxlib_release()


def test_convolutions_leave_ynnpack_under_jaxgen_s_flags_and_not_under_xla_s_defaults():
    ours = _probe()
    assert set(runtime.chosen_flags()) <= set(ours["xla_flags"].split())
    assert ours["convolution"] and not ours["ynn_fusion"]  # XLA's own convolution kernel
    # The control: without the flag this jaxlib wraps the convolution in a YNNPACK fusion, so
    # the check above tests the flag, not a change of XLA's defaults.
    defaults = _probe(**{runtime.DEFAULTS_VARIABLE: "1"})
    assert defaults["xla_flags"] == "" and defaults["ynn_fusion"]


def test_the_user_s_own_setting_of_a_flag_wins():
    (flag,) = runtime.chosen_flags()
    name = flag.split("=")[0]
    mine = f"{name}=individual_convolution --xla_cpu_enable_fast_math=false"
    probe = _probe(XLA_FLAGS=mine)
    assert probe["xla_flags"] == mine  # nothing added, nothing reordered
    assert probe["ynn_fusion"]  # the user's value took effect


def test_flags_are_added_only_before_a_backend_starts(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.delenv(runtime.DEFAULTS_VARIABLE, raising=False)
    import jax

    jax.devices()  # this test process's backend has started
    assert runtime.configure_xla() == ()
    assert "XLA_FLAGS" not in os.environ


# Compiles (never runs) a program of each kind YNNPACK fuses (a convolution, a matmul, a sum and
# an average pooling after a ReLU) three ways: under the process's flags; with the list of fusion
# types that jaxgen's flags leave on as the program's own option; and a train step's options
# with REDUCE off. Prints whether the first two compile alike and each one's YNNPACK fusions.
FUSION_PROBE = """
import json, re
import jaxgen
import jax, jax.numpy as jnp
from jax import lax
from jaxgen import runtime
def program(x, w, a, b):
    y = jnp.maximum(lax.conv_general_dilated(
        x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + 1.0, 0.0)
    pooled = lax.reduce_window(y, 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    return jnp.sum(y, axis=(1, 2)), pooled, jnp.tanh(a @ b)
args = (jnp.ones((8, 8, 8, 256)), jnp.ones((5, 5, 256, 128)), jnp.ones((512, 512)),
        jnp.ones((512, 512)))
def hlo(options):
    return jax.jit(program, compiler_options=options).lower(*args).compile().as_text()
def alike(a, b):  # the same program but for its name and source locations
    plain = lambda text: re.sub(r"HloModule \\S+|, metadata=\\{[^}]*\\}", "", text)
    return plain(a) == plain(b)
def ynnpack(text):  # the operation each YNNPACK fusion was made from
    return sorted(re.findall(r'op_name="[^"]*/(\\w+)".*"__ynn_fusion"', text))
enabled = runtime.YNNPACK_FUSIONS_BY_JAXLIB[runtime.jaxlib_release()]
listed = {runtime.YNN_FUSION_OPTION: ",".join("LIBRARY_FUSION_TYPE_" + t for t in enabled)}
flags, without_reduce = hlo({}), hlo(runtime.step_compiler_options(("REDUCE",), "cpu"))
print(json.dumps({"listed_compiles_alike": alike(hlo(listed), flags),
                  "flags": ynnpack(flags), "without_reduce": ynnpack(without_reduce)}))
"""


def test_the_listed_ynnpack_fusions_are_those_jaxgen_s_flags_leave_on():
    # XLA takes a program's list of fusion types whole, so a step's options start from this
    # list; a jaxlib whose defaults differ from the one it was read on fails here.
    out = subprocess.run(
        [sys.executable, "-c", FUSION_PROBE], capture_output=True, text=True, check=True
    )
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["listed_compiles_alike"]
    assert "reduce_sum" in probe["flags"] and "dot_general" in probe["flags"]
    assert probe["without_reduce"] == ["dot_general"]  # the matmul keeps YNNPACK


def test_step_options_change_only_a_cpu_step_under_jaxgen_s_own_flag(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", " ".join(runtime.chosen_flags()))
    assert runtime.step_compiler_options(("REDUCE",), "cpu") == {
        runtime.YNN_FUSION_OPTION: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"
    }
    assert runtime.step_compiler_options(("REDUCE", "INDIVIDUAL_DOT"), "cpu") == {
        runtime.YNN_FUSION_OPTION: ""  # XLA reads the empty list as none
    }
    assert runtime.step_compiler_options((), "cpu") == {}
    assert runtime.step_compiler_options(("REDUCE",), "gpu") == {}
    with pytest.raises(ValueError, match="ELTWISE"):
        runtime.step_compiler_options(("ELTWISE",), "cpu")
    # The user's own setting of the flag, or XLA's defaults asked for: theirs holds everywhere.
    monkeypatch.setenv("XLA_FLAGS", f"--{runtime.YNN_FUSION_OPTION}=individual_convolution")
    assert runtime.step_compiler_options(("REDUCE",), "cpu") == {}
    monkeypatch.setenv("XLA_FLAGS", "")
    assert runtime.step_compiler_options(("REDUCE",), "cpu") == {}


@pytest.mark.parametrize("release, expected", [("0.10", True), ("0.99", False)])
def test_the_flags_follow_the_jaxlib_release(monkeypatch, release, expected):
    monkeypatch.setattr(runtime, "jaxlib_release", lambda: release)
    assert bool(runtime.chosen_flags()) == expected


def test_a_cpu_run_says_which_convolutions_computed_it(tmp_path):
    from jaxgen.nn import onednn

    from .conftest import run_cli

    args = ["train", "--config=minimal:smoke", "--config.steps=2"]
    off = run_cli(*args, f"--workdir={tmp_path / 'off'}", env={"JAXGEN_ONEDNN": "0"})
    assert off.returncode == 0, off.stderr
    # With progress on, the run says it before training; the report says it for good.
    assert "jaxgen: oneDNN convolutions disabled by JAXGEN_ONEDNN=0" in off.stderr
    report = (tmp_path / "off" / "report.md").read_text()
    assert "- convolutions: oneDNN convolutions disabled by JAXGEN_ONEDNN=0" in report
    assert runtime.chosen_flags()[0] in report
    if onednn.available():  # `make test` builds it: the path every CPU run takes
        on = run_cli(*args, "--config.progress=false", f"--workdir={tmp_path / 'on'}")
        assert on.returncode == 0 and on.stderr == "", on.stderr
        report = (tmp_path / "on" / "report.md").read_text()
        assert f"- convolutions: oneDNN {onednn.runtime()}" in report


# Allocates 64 MiB with malloc after `import jaxgen` and says whether glibc served it from the
# heap (brk, reused after free) or from a mapping of its own (mmap, unmapped on free).
MALLOC_PROBE = """
import ctypes, json
import jaxgen
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
address = libc.malloc(64 << 20)
heap = []
with open("/proc/self/maps") as maps:
    for line in maps:
        if line.rstrip().endswith("[heap]"):
            low, high = (int(v, 16) for v in line.split()[0].split("-"))
            heap.append((low, high))
print(json.dumps({"in_heap": any(low <= address < high for low, high in heap)}))
"""


# On a thread of its own (so in an arena of its own, as on XLA's threads), after `import jaxgen`:
# holds 30 MiB, so that a 40 MiB buffer needs a second heap of the arena, writes that buffer,
# frees it and asks for it again, and counts the thread's page faults while writing it the
# second time: none when the heap was kept, one a page when it was unmapped and mapped afresh.
ARENA_PROBE = """
import ctypes, json, resource, threading
import jaxgen
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
faults = []

def run():
    held = libc.malloc(30 << 20)
    buffer = libc.malloc(40 << 20)
    ctypes.memset(buffer, 1, 40 << 20)
    libc.free(buffer)
    buffer = libc.malloc(40 << 20)
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    ctypes.memset(buffer, 1, 40 << 20)
    faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
    libc.free(buffer)
    libc.free(held)

thread = threading.Thread(target=run)
thread.start()
thread.join()
print(json.dumps({"faults": faults[0]}))
"""


def _run_probe(probe: str, **env) -> dict:
    unset = (runtime.MALLOC_DEFAULTS_VARIABLE, "GLIBC_TUNABLES")
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment.update(env)
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _malloc_probe(**env) -> bool:
    return _run_probe(MALLOC_PROBE, **env)["in_heap"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc (Linux)")
def test_large_buffers_come_from_the_reused_heap_not_fresh_mappings():
    assert _malloc_probe()  # jaxgen's thresholds: the 64 MiB buffer is heap memory
    # The controls: glibc's defaults map it on its own, whether asked for or set by the user.
    assert not _malloc_probe(**{runtime.MALLOC_DEFAULTS_VARIABLE: "1"})
    assert not _malloc_probe(GLIBC_TUNABLES="glibc.malloc.mmap_threshold=131072")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc (Linux)")
def test_a_threads_emptied_heap_is_kept_not_mapped_again():
    """jaxgen's top pad: a freed buffer in a thread arena's second heap is reused without page
    faults. The control: jaxgen's two thresholds without the pad (set by the user, so jaxgen
    leaves them) unmap that heap, and writing the buffer again faults on about every one of its
    10,240 pages."""
    pages = (40 << 20) // os.sysconf("SC_PAGE_SIZE")
    assert _run_probe(ARENA_PROBE)["faults"] < pages // 100
    thresholds = (
        f"glibc.malloc.mmap_threshold={runtime.MMAP_THRESHOLD}:"
        f"glibc.malloc.trim_threshold={runtime.TRIM_THRESHOLD}"
    )
    assert _run_probe(ARENA_PROBE, GLIBC_TUNABLES=thresholds)["faults"] > pages // 2
