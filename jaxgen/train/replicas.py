"""Seeds and keys: a run's keys from its seed, and the same for R replicas (many seeds in one
program, jaxgen/train/replicated.py), with the helpers that index and summarize them."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np

from jaxgen.errors import UserError


def parse_seeds(text: str, seed: int) -> tuple[int, ...]:
    """`--config.seeds`: "" (one run, no replica axis), a count "4" (seed, seed+1, ...,
    seed+3) or a list "0,1,2,3"."""
    text = str(text).strip().strip("()[]")
    if not text:
        return ()
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise UserError(f"bad --config.seeds={text!r}: give a count or a list like 0,1,2") from None
    if len(values) == 1 and "," not in text:
        if values[0] < 1:
            raise UserError(f"--config.seeds={text}: the count must be at least 1")
        return tuple(seed + i for i in range(values[0]))
    if len(set(values)) != len(values):
        raise UserError(f"--config.seeds={text}: the seeds must be distinct")
    return tuple(values)


def run_keys(seed) -> tuple[jax.Array, jax.Array]:
    """(init key, train key) of the run with this seed; the per-step key is
    `fold_in(train_key, step)`."""
    init_key, train_key = jax.random.split(jax.random.key(seed))
    return init_key, train_key


def replica_keys(seeds: Sequence[int]) -> tuple[jax.Array, jax.Array]:
    """`run_keys` of every seed, stacked: two (R,) key arrays."""
    return jax.vmap(run_keys)(np.asarray(seeds, np.uint32))


def replica(tree, r: int):
    """Replica r of a stacked pytree."""
    return jax.tree.map(lambda x: x[r], tree)


def step_keys(train_keys: jax.Array, step) -> jax.Array:
    """Each replica's key for `step`: `fold_in(train_key_r, step)`."""
    return jax.vmap(jax.random.fold_in, in_axes=(0, None))(train_keys, step)


def mean_over_replicas(metrics: dict) -> dict[str, float]:
    """Per-replica scalars (R,) -> their mean, and `NAME_std` (the sample standard deviation)."""
    out = {}
    for name, values in metrics.items():
        values = np.asarray(values, np.float64)
        out[name] = float(values.mean())
        if len(values) > 1:
            out[f"{name}_std"] = float(values.std(ddof=1))
    return out
