"""Shared test helpers: running the CLI in a subprocess and loading experiment configs."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
CACHE_OWNER = "JAXGEN_TEST_XLA_CACHE_OWNER"


def pytest_configure(config):
    """One persistent XLA compilation cache for the whole session: the controller makes it and
    names it in the environment, which the xdist workers and every CLI subprocess inherit. The
    same smoke programs are compiled by many tests (a reference run, its SIGKILLed twin and the
    resume); each is now compiled once. A compiled program is the same program, so no number
    changes; a cache named by the caller's own JAX_COMPILATION_CACHE_DIR is used as it is."""
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxgen-xla-cache-")
        os.environ[CACHE_OWNER] = str(os.getpid())
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs",
        float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
    )


def pytest_unconfigure(config):
    if os.environ.get(CACHE_OWNER) == str(os.getpid()):
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)


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


def kill_after_checkpoints(args: list[str], workdir: pathlib.Path, count: int) -> None:
    """Starts `python -m jaxgen ARGS`, waits until `workdir` holds `count` committed checkpoints,
    then SIGKILLs it and every process it started (its data workers) mid-training."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "jaxgen", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # one process group: the kill reaches the workers too
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        # Committed checkpoints only: one being written is a folder NAME.orbax-checkpoint-tmp.
        saved = [p for p in (workdir / "checkpoints").glob("[0-9]*") if p.name.isdigit()]
        if len(saved) >= count:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def summary(workdir: pathlib.Path) -> dict:
    return json.loads((pathlib.Path(workdir) / "summary.json").read_text())


def smoke_config(name: str, **overrides):
    """The smoke preset of experiments/NAME.py with `KEY=VALUE` overrides applied."""
    from jaxgen.config import load_config

    items = [f"{k}={v}" for k, v in overrides.items()]
    return load_config(f"{REPO / 'experiments' / name}.py:smoke", items)


def numpy_init(model, *args):
    """Parameters of `model` with Flax's structure, drawn in NumPy (kernels ~ N(0, 1/fan_in),
    the rest ~ N(0, 0.1^2)): skips compiling Flax's truncated-normal initialiser for every
    layer shape, which dominates these tests' time on a CPU."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), *args)
    rng = np.random.default_rng(0)

    def draw(path, leaf):
        is_kernel = jax.tree_util.keystr(path).endswith("['kernel']")
        scale = 1 / np.sqrt(np.prod(leaf.shape[:-1])) if is_kernel else 0.1
        return jnp.asarray(rng.normal(scale=scale, size=leaf.shape), leaf.dtype)

    return jax.tree_util.tree_map_with_path(draw, shapes)


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    return REPO


def randomize_params(params, key, scale=0.5):
    """Every parameter random (biases and peepholes start at zero, which would hide errors)."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    new = [scale * jax.random.normal(k, a.shape) for k, a in zip(keys, leaves, strict=True)]
    return jax.tree.unflatten(treedef, new)
