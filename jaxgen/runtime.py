"""The XLA flags and allocator settings jaxgen starts JAX with: speed on the CPU, nothing else.

`import jaxgen` calls `configure_xla()` before any of jaxgen imports JAX, so the CLI, the demo,
the tests and a notebook that imports jaxgen first all compile with the same flags, and a seed
gives the same numbers whichever way a run is started.

- `--xla_cpu_experimental_ynn_fusion_type=-individual_convolution`: jaxlib 0.10 hands every
  convolution on the CPU to YNNPACK, which runs the 5x5 convolutions of the DCGAN and of the
  VAE-GAN 1.2x to 1.3x slower than XLA's own kernels here (benchmarks/xla_cpu_flags.py; jax#37465
  tracks YNNPACK's regressions). Other fusions keep YNNPACK.

A task may compile its train step without more of YNNPACK's fusions (`Task.ynnpack_fusions_off`,
`step_compiler_options`): the option is then the program's own (jax.jit's `compiler_options`),
so other programs keep the process's flags. XLA's option takes the whole list of fusion types to
enable, not a change to the flags' list, so YNNPACK_FUSIONS_BY_JAXLIB records the list that
jaxgen's flags leave enabled, and `tests/test_runtime.py` checks it against the compiled HLO.

XLA aborts the process on a flag it does not know, so the flags are added only for the jaxlib
releases they were measured on (FLAGS_BY_JAXLIB). Under another release jaxgen runs with XLA's
defaults, and `tests/test_runtime.py` fails until the flags are checked against it: the test
compiles a convolution and inspects its optimised HLO. A flag already in `XLA_FLAGS` (the user's
own, either way) is left as the user set it; `JAXGEN_XLA_DEFAULTS=1` adds none (XLA's defaults,
as benchmarks/xla_cpu_flags.py compares).
"""

from __future__ import annotations

import ctypes
import os
import sys
from importlib import metadata

DEFAULTS_VARIABLE = "JAXGEN_XLA_DEFAULTS"  # set (not "0"): add no flag, run XLA's defaults
MALLOC_DEFAULTS_VARIABLE = "JAXGEN_MALLOC_DEFAULTS"  # set (not "0"): keep glibc's malloc settings

# mallopt(3) parameters (malloc.h) and jaxgen's values; mallopt takes an int, so at most 2 GiB.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD = 512 << 20  # above the temporaries of every preset's step measured here
TRIM_THRESHOLD = 1 << 30
# glibc unmaps a thread arena's heap that a free leaves empty unless the heap before it lacks
# `top pad` bytes of room (malloc/arena.c: heap_trim), whatever the trim threshold; its heaps are
# 64 MiB at most (on 64-bit), so a pad of 64 MiB keeps every heap. It is also the slack each
# growth of a heap or of the main arena asks for: address space, not memory, until it is used.
TOP_PAD = 64 << 20

YNN_FUSION_OPTION = "xla_cpu_experimental_ynn_fusion_type"  # a DebugOptions field
# jaxlib release ("major.minor") -> the flags measured on it.
FLAGS_BY_JAXLIB = {
    "0.10": (f"--{YNN_FUSION_OPTION}=-individual_convolution",),
}
# jaxlib release -> the YNNPACK fusion types (DebugOptions.LibraryFusionType, less its
# "LIBRARY_FUSION_TYPE_" prefix) that XLA enables under FLAGS_BY_JAXLIB: 0.10's defaults are
# REDUCE, INDIVIDUAL_DOT and INDIVIDUAL_CONVOLUTION, and the flag takes the last off.
YNNPACK_FUSIONS_BY_JAXLIB = {"0.10": ("REDUCE", "INDIVIDUAL_DOT")}


def jaxlib_release() -> str | None:
    """ "major.minor" of the installed jaxlib, None when it is not installed."""
    try:
        version = metadata.version("jaxlib")
    except metadata.PackageNotFoundError:
        return None
    return ".".join(version.split(".")[:2])


def chosen_flags() -> tuple[str, ...]:
    """The flags jaxgen adds for the installed jaxlib (none for a release it was not measured
    on)."""
    return FLAGS_BY_JAXLIB.get(jaxlib_release() or "", ())


def _flag_name(flag: str) -> str:
    return flag.split("=", 1)[0]


def step_compiler_options(fusions_off: tuple[str, ...], platform: str) -> dict[str, str]:
    """jax.jit's `compiler_options` for a train step compiled without the YNNPACK fusion types
    `fusions_off` (names as in YNNPACK_FUSIONS_BY_JAXLIB): {} where there is nothing to change
    or jaxgen does not choose XLA's CPU flags: another platform, none off, a jaxlib release not
    measured, `JAXGEN_XLA_DEFAULTS`, or a user's own setting of the fusion flag in `XLA_FLAGS`
    (theirs then holds for every program)."""
    enabled = YNNPACK_FUSIONS_BY_JAXLIB.get(jaxlib_release() or "")
    if platform != "cpu" or not fusions_off or enabled is None:
        return {}
    unknown = set(fusions_off) - set(enabled)
    if unknown:
        raise ValueError(f"YNNPACK fusion types {sorted(unknown)} are not among {enabled}")
    flag = next(f for f in chosen_flags() if _flag_name(f) == f"--{YNN_FUSION_OPTION}")
    if flag not in os.environ.get("XLA_FLAGS", "").split():
        return {}  # jaxgen's flag is not the one in force
    kept = [f"LIBRARY_FUSION_TYPE_{t}" for t in enabled if t not in fusions_off]
    return {YNN_FUSION_OPTION: ",".join(kept)}


def _backends_started() -> bool:
    """Whether JAX has started a backend. jax 0.10 has no public probe of this; if its private
    one moves, jaxgen assumes none has started (the flags are then merely late: XLA ignores
    them), rather than failing at import."""
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return False


def configure_xla() -> tuple[str, ...]:
    """Add `chosen_flags()` to `XLA_FLAGS` where the user has not set them; returns the flags
    added. Does nothing once JAX has started a backend (XLA reads its flags once, when the first
    backend starts): the flags could not take effect, and changing the environment then would
    only mislead a child process's reader of it."""
    if "jax" in sys.modules and _backends_started():
        return ()
    if os.environ.get(DEFAULTS_VARIABLE, "") not in ("", "0"):
        return ()
    current = os.environ.get("XLA_FLAGS", "")
    present = {_flag_name(f) for f in current.split()}
    added = tuple(f for f in chosen_flags() if _flag_name(f) not in present)
    if added:
        os.environ["XLA_FLAGS"] = " ".join([*current.split(), *added])
    return added


def configure_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds and its top pad (README, "The allocator"); True
    when they were set.
    Nothing on a C library without `mallopt` (macOS, musl), when `JAXGEN_MALLOC_DEFAULTS` is set,
    or when `GLIBC_TUNABLES` sets a malloc tunable."""
    if os.environ.get(MALLOC_DEFAULTS_VARIABLE, "") not in ("", "0"):
        return False
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        and mallopt(M_TOP_PAD, TOP_PAD)
    )
