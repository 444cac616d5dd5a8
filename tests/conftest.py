"""Shared test helpers: running the CLI in a subprocess and loading experiment configs."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m jaxgen ARGS` from the repo root; returns the finished process."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "jaxgen", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def summary(workdir: pathlib.Path) -> dict:
    return json.loads((pathlib.Path(workdir) / "summary.json").read_text())


def smoke_config(name: str, **overrides):
    """The smoke preset of experiments/NAME.py with `KEY=VALUE` overrides applied."""
    from jaxgen.config import load_config

    items = [f"{k}={v}" for k, v in overrides.items()]
    return load_config(f"{REPO / 'experiments' / name}.py:smoke", items)


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    return REPO
