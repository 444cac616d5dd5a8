"""Many seeds in one program: R independent replicas of a run, trained by one jitted step.

Replica r is the run with seed `seeds[r]`: its keys are split from `key(seeds[r])` exactly as a
single run splits them, its batches come from the task's pipeline seeded with `seeds[r]`, and
the train step is the single-run step mapped over a leading replica axis of the state, the
batch and the key. So replica r ends with the parameters of `--config.seed=seeds[r]` (to float
rounding: a batched matmul may sum in another order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import numpy as np

from jaxgen.errors import UserError
from jaxgen.viz.report import Report, markdown_table


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


def replicate_step(step_fn):
    """The single-run `step(state, batch, key)` mapped over a leading replica axis of all three.

    vmap turns each dense layer's matmul into one batched matmul over the replicas, so the
    replicas share every dispatch and every kernel launch.
    """
    return jax.vmap(step_fn)


def step_keys(train_keys: jax.Array, step: int) -> jax.Array:
    """Each replica's key for `step`: `fold_in(train_key_r, step)`."""
    return jax.vmap(jax.random.fold_in, in_axes=(0, None))(train_keys, step)


def replica(tree, r: int):
    """Replica r of a stacked pytree."""
    return jax.tree.map(lambda x: x[r], tree)


def mean_over_replicas(metrics: dict) -> dict[str, float]:
    """Per-replica scalars (R,) -> their mean, and `NAME_std` (the sample standard deviation)."""
    out = {}
    for name, values in metrics.items():
        values = np.asarray(values, np.float64)
        out[name] = float(values.mean())
        if len(values) > 1:
            out[f"{name}_std"] = float(values.std(ddof=1))
    return out


def summarize_seeds(seeds: Sequence[int], summaries: Sequence[dict]) -> Report:
    """A report whose summary holds the mean and standard deviation over seeds of every number
    the replicas' reports gave and the per-seed summaries under `per_seed`, and whose section
    tabulates them."""
    numeric = [
        k
        for k, v in summaries[0].items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k != "seed"
    ]
    summary, rows = {}, []
    for name in numeric:
        values = [s[name] for s in summaries]
        stats = mean_over_replicas({name: values})
        summary.update(stats)
        std = stats.get(f"{name}_std", math.nan)
        rows.append([name, stats[name], std, ", ".join(f"{v:.6g}" for v in values)])
    summary["seeds"] = list(seeds)
    summary["per_seed"] = {str(s): summaries[r] for r, s in enumerate(seeds)}
    protocol = (
        f"{len(seeds)} independent replicas (seeds {', '.join(map(str, seeds))}) trained in one "
        "program by `vmap` over the replica axis; each number is the mean over seeds with the "
        "sample standard deviation (ddof=1). Every seed's own report, with its figures and "
        "protocol, is linked below."
    )
    table = markdown_table(["metric", "mean", "std", "per seed"], rows)
    links = "\n".join(f"- seed {s}: [seed{s}/report.md](seed{s}/report.md)" for s in seeds)
    return Report(summary, [("Over seeds", protocol + "\n\n" + table), ("Seeds", links)])
