"""Many seeds in one program: a wrapper that turns a task into an R-replica task.

`ReplicatedTask(task, seeds)` has the same protocol as `task` (jaxgen/train/protocol.py), so the
loop does not know it trains replicas. Replica r is the run with seed `seeds[r]`: its keys are split
from `key(seeds[r])` exactly as a single run splits them (train/replicas.py), its batches come
from the task's pipeline seeded with `seeds[r]`, and the train step is the single-run step mapped
by `vmap` over a leading replica axis of the state, the batch and the key. So replica r ends with
the parameters of `--config.seed=seeds[r]` (to float rounding: a batched matmul may sum in
another order), and its report is computed from its own parameters and its own history.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.train.protocol import FrozenInputs, History, Phase, Task, call_step
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


class ReplicatedTask(Task):
    """`task` trained as len(seeds) vmapped replicas; the same protocol as `task`.

    The loop's own seed and keys are not used: every replica's come from its seed.
    """

    def __init__(self, task: Task, seeds: tuple[int, ...], config: ml_collections.ConfigDict):
        self.task, self.seeds, self.config = task, tuple(seeds), config
        self.batch_axis = task.batch_axis + 1
        self.best_metric, self.best_mode = task.best_metric, task.best_mode
        self._init_keys, self._train_keys = replica_keys(self.seeds)
        self.monitor = task.monitor
        self.ynnpack_fusions_off = task.ynnpack_fusions_off
        self._frozen = task.frozen_inputs()

    def init_state(self, key: jax.Array):
        del key  # each replica starts from its own seed's init key
        return jax.vmap(self.task.init_state)(self._init_keys)

    def phases(self) -> list[Phase]:
        """The task's phases, each step and transition mapped over the replicas."""
        return [
            Phase(p.name, p.steps, self._replicated_step(p.train_step), self._entering(p, i))
            for i, p in enumerate(self.task.phases())
        ]

    def frozen_inputs(self) -> FrozenInputs | None:
        return self._frozen  # one copy, read by every replica

    def _replicated_step(self, step):
        def replicated(state, *args):
            # args: ([batch,] key[, frozen]), as the loop calls the task's own step.
            frozen = args[-1] if self._frozen is not None else None
            batch = args[0] if len(args) - (frozen is not None) == 2 else None
            # Replica r's step key is fold_in(train key of seed r, step), as in its own run.
            keys = step_keys(self._train_keys, state.step[0])

            def one(s, b, k):
                return call_step(step, s, b, k, frozen)

            state, metrics = jax.vmap(one, in_axes=(0, None if batch is None else 0, 0))(
                state, batch, keys
            )
            over = {name: jnp.mean(v) for name, v in metrics.items()}
            if len(self.seeds) > 1:
                over.update({f"{name}_std": jnp.std(v, ddof=1) for name, v in metrics.items()})
            return state, _with_seeds(self.seeds, metrics, over)

        return replicated

    def _entering(self, phase: Phase, index: int):
        if phase.enter is None:
            return None

        def enter(state, key):
            del key  # replica r enters with fold_in(init key of seed r, index), as its own run
            keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(self._init_keys, index)
            return jax.vmap(phase.enter)(state, keys)

        return enter

    def train_dataset(self, seed: int):
        del seed
        from jaxgen.data.pipeline import zip_datasets

        datasets = [self.task.train_dataset(s) for s in self.seeds]
        return None if datasets[0] is None else zip_datasets(datasets)

    def prepare_evaluation(self) -> None:
        self.task.prepare_evaluation()  # the replicas share one evaluation

    def eval_params(self, state):
        return jax.vmap(self.task.eval_params)(state)

    def evaluate(self, params, split: str) -> dict[str, float]:
        per_replica = [
            self.task.evaluate(replica(params, r), split) for r in range(len(self.seeds))
        ]
        values = {name: [m[name] for m in per_replica] for name in per_replica[0]}
        return _with_seeds(self.seeds, values, mean_over_replicas(values))

    def evaluation_protocol(self, split: str) -> dict[str, str]:
        """The task's protocol for each seed's own numbers, and for their mean and std."""
        own, n = self.task.evaluation_protocol(split), len(self.seeds)
        out = {}
        for name, text in own.items():
            out[name] = f"{text}; the mean over {n} seeds"
            out[f"{name}_std"] = f"{text}; the standard deviation over {n} seeds"
            out.update({seed_prefix(seed) + name: text for seed in self.seeds})
        return out

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {
            seed_prefix(seed) + name: array
            for r, seed in enumerate(self.seeds)
            for name, array in self.task.snapshot(replica(params, r)).items()
        }


def seed_history(history: History, seed: int) -> History:
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
        validation=[own(r) for r in history.validation],
        snapshots=snapshots,
        step=history.step,
        seed=seed,
        test=own(history.test),
        best_metric=history.best_metric,  # ranked by the mean over the seeds
        best_mode=history.best_mode,
        best_step=history.best_step,
    )
