"""Many seeds in one program: a wrapper that turns a task into an R-replica task.

`ReplicatedTask(task, seeds)` has the same protocol as `task` (jaxgen/tasks/base.py), so the loop
does not know it trains replicas. Replica r is the run with seed `seeds[r]`: its keys are split
from `key(seeds[r])` exactly as a single run splits them (train/replicas.py), its batches come
from the task's pipeline seeded with `seeds[r]`, and the train step is the single-run step mapped
by `vmap` over a leading replica axis of the state, the batch and the key. So replica r ends with
the parameters of `--config.seed=seeds[r]` (to float rounding: a batched matmul may sum in
another order), and its report is computed from its own parameters and its own history.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.reports.markdown import Report, summary_record, write_report
from jaxgen.reports.seeds import summarize_seeds
from jaxgen.tasks.base import History, Task
from jaxgen.train.replicas import mean_over_replicas, replica, replica_keys, step_keys


def seed_prefix(seed: int) -> str:
    """The prefix of seed `seed`'s own numbers among a many-seed run's metrics."""
    return f"seed{seed}/"


def _with_seeds(seeds, per_replica: dict, over: dict) -> dict:
    """`over` (the numbers over replicas) and each seed's own value under `seedS/NAME`."""
    out = dict(over)
    for name, values in per_replica.items():
        for r, seed in enumerate(seeds):
            out[seed_prefix(seed) + name] = values[r]
    return out


class ReplicatedTask:
    """`task` trained as len(seeds) vmapped replicas; the same protocol as `task`.

    The loop's own seed and keys are not used: every replica's come from its seed.
    """

    def __init__(self, task: Task, seeds: tuple[int, ...], config: ml_collections.ConfigDict):
        self.task, self.seeds, self.config = task, tuple(seeds), config
        self.batch_axis = task.batch_axis + 1
        self.best_metric, self.best_mode = task.best_metric, task.best_mode
        self._init_keys, self._train_keys = replica_keys(self.seeds)

    def init_state(self, key: jax.Array):
        del key  # each replica starts from its own seed's init key
        return jax.vmap(self.task.init_state)(self._init_keys)

    def train_step(self, state, batch: dict, key: jax.Array):
        del key  # replica r's step key is fold_in(train key of seed r, step), as in its own run
        keys = step_keys(self._train_keys, state.step[0])
        state, metrics = jax.vmap(self.task.train_step)(state, batch, keys)
        over = {name: jnp.mean(v) for name, v in metrics.items()}
        if len(self.seeds) > 1:
            over.update({f"{name}_std": jnp.std(v, ddof=1) for name, v in metrics.items()})
        return state, _with_seeds(self.seeds, metrics, over)

    def train_dataset(self, seed: int):
        del seed
        from jaxgen.data.pipeline import zip_datasets

        return zip_datasets([self.task.train_dataset(s) for s in self.seeds])

    def eval_params(self, state):
        return jax.vmap(self.task.eval_params)(state)

    def evaluate(self, params, split: str) -> dict[str, float]:
        per_replica = [
            self.task.evaluate(replica(params, r), split) for r in range(len(self.seeds))
        ]
        values = {name: [m[name] for m in per_replica] for name in per_replica[0]}
        return _with_seeds(self.seeds, values, mean_over_replicas(values))

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {
            seed_prefix(seed) + name: array
            for r, seed in enumerate(self.seeds)
            for name, array in self.task.snapshot(replica(params, r)).items()
        }

    def report(self, params, history: History, workdir: pathlib.Path) -> Report:
        """Each seed's own report in `seedS/` (from its parameters and its history), and the
        mean and standard deviation over seeds of every number."""
        summaries = []
        for r, seed in enumerate(self.seeds):
            seed_dir = pathlib.Path(workdir) / f"seed{seed}"
            seed_dir.mkdir(parents=True, exist_ok=True)
            seed_params = replica(params, r)
            seed_history = _seed_history(history, seed)
            report = self.task.report(seed_params, seed_history, seed_dir)
            head = {"seed": seed, "step": history.step}
            seed_summary = summary_record(head, report, seed_params)
            if jax.process_index() == 0:
                write_report(seed_dir, self.config, seed_summary, report)
            summaries.append(seed_summary)
        return summarize_seeds(self.seeds, summaries)


def _seed_history(history: History, seed: int) -> History:
    """Seed `seed`'s own records and snapshots, under the names the single run gives them."""
    prefix = seed_prefix(seed)

    def own(record: dict) -> dict:
        kept = {k: v for k, v in record.items() if k in ("step", "split")}
        kept.update({k[len(prefix) :]: v for k, v in record.items() if k.startswith(prefix)})
        return kept

    snapshots = [
        (step, {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
        for step, arrays in history.snapshots
    ]
    return History(
        train=[own(r) for r in history.train],
        eval=[own(r) for r in history.eval],
        snapshots=snapshots,
        step=history.step,
        seed=seed,
        test=own(history.test),
    )
