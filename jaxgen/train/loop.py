"""The one training loop: every experiment runs through `train(config, workdir)`.

A run is a pure function of its config: the per-step key is `fold_in(train_key, step)`, the data
position is part of every checkpoint, and re-running the same command on the same workdir resumes
from the newest checkpoint and ends with exactly the parameters of an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import pathlib

import jax
import ml_collections
import numpy as np
import tqdm

from jaxgen import config as config_lib
from jaxgen.data.pipeline import zip_datasets
from jaxgen.errors import NonFiniteLossError, UserError
from jaxgen.train import replicas, sharding
from jaxgen.train.checkpoint import Checkpoints
from jaxgen.train.fingerprint import params_fingerprint
from jaxgen.train.logging import MetricWriter, to_plain
from jaxgen.train.state import TrainState, init_state, make_optimizer, make_train_step
from jaxgen.viz.report import write_report


def _is_main_process() -> bool:
    return jax.process_index() == 0


def check_workdir(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> None:
    """Refuses a workdir whose saved config differs from this one beyond the schedule."""
    path = workdir / "config.json"
    if path.exists():
        config_lib.check_resumable(config_lib.read_json(path), config_lib.to_json_dict(config))


def write_config(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> None:
    if _is_main_process():
        workdir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(config_lib.to_json_dict(config), indent=2, sort_keys=True)
        (workdir / "config.json").write_text(text + "\n")


class _Run:
    """The pieces of one run that both `train` and `evaluate` need.

    With `--config.seeds`, the run is R replicas (one per seed) stacked on a leading axis of the
    state, the batches and the keys; see jaxgen.train.replicas.
    """

    def __init__(self, config: ml_collections.ConfigDict, workdir: pathlib.Path):
        from jaxgen.tasks import build_task

        self.config = config
        self.workdir = workdir
        self.seeds = replicas.parse_seeds(config.get("seeds", ""), config.seed)
        self.task = build_task(config)
        self.mesh = sharding.data_mesh()
        self.replicated = sharding.replicated(self.mesh)
        batch_axis = self.task.batch_axis + (1 if self.seeds else 0)
        self.batch_sharding = sharding.batch_sharding(self.mesh, batch_axis)
        if hasattr(self.task, "train_step"):  # its own update rule (a GAN's alternating steps)
            step_fn, fresh_state = self.task.train_step, self.task.init_state
        else:
            step_fn, fresh_state = self._loss_step(config)

        if self.seeds:
            init_key, self.train_key = replicas.replica_keys(self.seeds)
            fresh_state = jax.vmap(fresh_state)
            self.step_fn = replicas.replicate_step(step_fn)
        else:
            init_key, self.train_key = replicas.run_keys(config.seed)
            self.step_fn = step_fn
        self.state = jax.jit(fresh_state, out_shardings=self.replicated)(init_key)
        self.checkpoints = Checkpoints(
            workdir / "checkpoints",
            keep=config.keep_checkpoints,
            best_metric=self.task.best_metric,
            best_mode=self.task.best_mode,
        )

    def _loss_step(self, config):
        """The step and fresh state the loop builds from a task's loss."""
        tx = make_optimizer(
            config,
            getattr(self.task, "param_labels", None),
            getattr(self.task, "group_learning_rates", None),
        )
        carries_state = hasattr(self.task, "initial_carry")

        def fresh_state(init_key):
            carry = self.task.initial_carry() if carries_state else ()
            return init_state(self.task.init_params(init_key), tx, carry)

        return make_train_step(self.task.loss, tx, carries_state), fresh_state

    def eval_params(self, state: TrainState):
        """What evaluation uses: the task's view of the state (a GAN's weight-averaged generator
        and its statistics), else the parameters."""
        if hasattr(self.task, "eval_params"):
            return self.task.eval_params(state)
        return state.params

    def snapshot(self, step: int, params) -> None:
        """Saves the task's `snapshot(params)` arrays (samples from fixed noise) for figures of
        training progress: `snapshots/STEP.npz`, per seed in `seedS/snapshots/`."""
        if not hasattr(self.task, "snapshot") or not _is_main_process():
            return
        per_replica = (
            [(self.workdir, params)]
            if not self.seeds
            else [
                (self.workdir / f"seed{s}", replicas.replica(params, r))
                for r, s in enumerate(self.seeds)
            ]
        )
        for directory, replica_params in per_replica:
            directory = directory / "snapshots"
            directory.mkdir(parents=True, exist_ok=True)
            arrays = jax.device_get(self.task.snapshot(replica_params))
            np.savez(directory / f"{step}.npz", **arrays)

    def step_key(self, step: int) -> jax.Array:
        if self.seeds:
            return replicas.step_keys(self.train_key, step)
        return jax.random.fold_in(self.train_key, step)

    def train_dataset(self):
        if self.seeds:
            return zip_datasets([self.task.train_dataset(s) for s in self.seeds])
        return self.task.train_dataset(self.config.seed)

    def evaluate(self, params) -> dict[str, float]:
        """The task's eval numbers; over replicas, their mean and standard deviation."""
        if not self.seeds:
            return self.task.evaluate(params)
        per_replica = [
            self.task.evaluate(replicas.replica(params, r)) for r in range(len(self.seeds))
        ]
        return replicas.mean_over_replicas(
            {name: [m[name] for m in per_replica] for name in per_replica[0]}
        )


def train(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> dict:
    """Trains (or resumes) the experiment `config` in `workdir`; returns the summary."""
    workdir = pathlib.Path(workdir)
    check_workdir(config, workdir)
    run = _Run(config, workdir)
    write_config(config, workdir)  # only once the task (and its data) could be built
    state, ckpts = run.state, run.checkpoints
    data_iterator = iter(run.train_dataset())
    writer = MetricWriter(workdir)

    start = ckpts.latest_step() or 0
    if start:
        state = ckpts.restore(start, state, data_iterator)
        writer.truncate_after(start)

    step_fn = jax.jit(
        run.step_fn,
        in_shardings=(run.replicated, run.batch_sharding, run.replicated),
        out_shardings=(run.replicated, run.replicated),
        donate_argnums=0,
    )
    bar = tqdm.tqdm(
        total=config.steps,
        initial=min(start, config.steps),
        desc=config.experiment,
        disable=not config.progress or not _is_main_process(),
        dynamic_ncols=True,
    )

    def record(step: int, metrics) -> None:
        # Reading the metrics waits for that step; the next one is already dispatched.
        metrics = jax.device_get(metrics)
        if run.seeds:
            metrics = replicas.mean_over_replicas(metrics)
        loss = float(metrics["loss"])
        if not math.isfinite(loss):  # over replicas: the mean is NaN if any replica's is
            kept = ckpts.all_steps()
            raise NonFiniteLossError(
                f"the loss became {loss} at step {step}; training stopped "
                f"(checkpoints kept in {ckpts.directory}: steps {kept or 'none'})"
            )
        if step % config.log_every == 0 or step == config.steps:
            writer.write(step, "train", metrics)
        bar.update(step - bar.n)
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)

    pending = None
    try:
        for step in range(start, config.steps):
            batch = sharding.to_global(next(data_iterator), run.batch_sharding)
            state, metrics = step_fn(state, batch, run.step_key(step))
            if pending is not None:
                record(*pending)
            pending = (step + 1, metrics)
            done = step + 1
            evaluate_now = done % config.eval_every == 0 or done == config.steps
            if evaluate_now or done % config.checkpoint_every == 0:
                record(*pending)
                pending = None
                eval_metrics = None
                if evaluate_now:
                    params = run.eval_params(state)
                    eval_metrics = run.evaluate(params)
                    writer.write(done, "eval", eval_metrics)
                    run.snapshot(done, params)
                ckpts.save(done, state, data_iterator, eval_metrics)
    finally:
        bar.close()
        writer.close()
    summary = _finish(run, state)
    ckpts.close()
    return summary


def evaluate(workdir: str | pathlib.Path) -> dict:
    """Re-evaluates the newest checkpoint of `workdir`, rewriting summary.json and report.md."""
    workdir = pathlib.Path(workdir)
    if not (workdir / "config.json").exists():
        raise UserError(f"{workdir} holds no run (no config.json)")
    config = ml_collections.ConfigDict(config_lib.read_json(workdir / "config.json"))
    run = _Run(config, workdir)
    step = run.checkpoints.latest_step()
    if step is None:
        raise UserError(f"{workdir / 'checkpoints'} holds no checkpoint to evaluate")
    state = run.checkpoints.restore(step, run.state)
    summary = _finish(run, state)
    run.checkpoints.close()
    return summary


def restore_params(workdir: str | pathlib.Path, step: int | None = None):
    """The parameters of a run's checkpoint (the newest by default), for analysis in Python.

    With `--config.seeds`, every leaf has a leading replica axis (`replicas.replica(params, r)`
    takes seed r's)."""
    workdir = pathlib.Path(workdir)
    if not (workdir / "config.json").exists():
        raise UserError(f"{workdir} holds no run (no config.json)")
    config = ml_collections.ConfigDict(config_lib.read_json(workdir / "config.json"))
    run = _Run(config, workdir)
    step = run.checkpoints.latest_step() if step is None else step
    if step is None:
        raise UserError(f"{workdir / 'checkpoints'} holds no checkpoint")
    params = run.eval_params(run.checkpoints.restore(step, run.state))
    run.checkpoints.close()
    return params


def _final_report(run: _Run, params, step: int):
    """The task's report; over replicas, each seed's report in `seedS/` and the statistics."""
    if not run.seeds:
        return run.task.report(params, run.workdir)
    summaries = []
    for r, seed in enumerate(run.seeds):
        seed_dir = run.workdir / f"seed{seed}"
        seed_dir.mkdir(exist_ok=True)
        seed_params = replicas.replica(params, r)
        report = run.task.report(seed_params, seed_dir)
        seed_summary = _summary({"seed": seed, "step": step}, report, seed_params)
        if _is_main_process():
            write_report(seed_dir, run.config, seed_summary, report)
        summaries.append(seed_summary)
    return replicas.summarize_seeds(run.seeds, summaries)


def _summary(head: dict, report, params) -> dict:
    """`head`, then the report's numbers as plain JSON values, then the params_fingerprint."""
    plain = {k: to_plain(v) for k, v in report.summary.items()}
    return {**head, **plain, "params_fingerprint": params_fingerprint(params)}


def _finish(run: _Run, state: TrainState) -> dict:
    """Final evaluation: figures, summary.json (with params_fingerprint) and report.md."""
    step = int(np.max(state.step))  # over replicas every entry is the same
    params = run.eval_params(state)
    report = _final_report(run, params, step)
    head = {
        "experiment": run.config.experiment,
        "preset": run.config.preset,
        "dataset": run.config.dataset,
        "seed": run.config.seed,
        "step": step,
        "best_checkpoint_step": run.checkpoints.best_step(),
    }
    summary = _summary(head, report, params)
    if _is_main_process():
        (run.workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        write_report(run.workdir, run.config, summary, report)
    return summary
