"""Tests of the benchmark scripts (benchmarks/), which are scripts, not a package."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/NAME.py as the module `benchmarks_NAME`, registered in `sys.modules` (its
    dataclasses look their module up there); its neighbours (`harness`, ...) import as they do
    when it runs as a script."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        path = BENCHMARKS / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module
