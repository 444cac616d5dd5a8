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
import tqdm

from jaxgen import config as config_lib
from jaxgen.errors import NonFiniteLossError, UserError
from jaxgen.train import sharding
from jaxgen.train.checkpoint import Checkpoints
from jaxgen.train.logging import MetricWriter, to_plain
from jaxgen.train.state import TrainState, init_state, make_optimizer, make_train_step


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
    """The pieces of one run that both `train` and `evaluate` need."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: pathlib.Path):
        from jaxgen.tasks import build_task

        self.config = config
        self.workdir = workdir
        self.task = build_task(config)
        self.mesh = sharding.data_mesh()
        self.replicated = sharding.replicated(self.mesh)
        self.batch_sharding = sharding.batch_sharding(self.mesh, self.task.batch_axis)
        self.tx = make_optimizer(config, getattr(self.task, "param_labels", None))
        init_key, self.train_key = jax.random.split(jax.random.key(config.seed))
        params = jax.jit(self.task.init_params, out_shardings=self.replicated)(init_key)
        self.state = jax.device_put(init_state(params, self.tx), self.replicated)
        self.checkpoints = Checkpoints(
            workdir / "checkpoints",
            keep=config.keep_checkpoints,
            best_metric=self.task.best_metric,
            best_mode=self.task.best_mode,
        )


def train(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> dict:
    """Trains (or resumes) the experiment `config` in `workdir`; returns the summary."""
    workdir = pathlib.Path(workdir)
    check_workdir(config, workdir)
    run = _Run(config, workdir)
    write_config(config, workdir)  # only once the task (and its data) could be built
    task, state, ckpts = run.task, run.state, run.checkpoints
    data_iterator = iter(task.train_dataset())
    writer = MetricWriter(workdir)

    start = ckpts.latest_step() or 0
    if start:
        state = ckpts.restore(start, state, data_iterator)
        writer.truncate_after(start)

    step_fn = jax.jit(
        make_train_step(task.loss, run.tx),
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
        loss = float(metrics["loss"])
        if not math.isfinite(loss):
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
            state, metrics = step_fn(state, batch, jax.random.fold_in(run.train_key, step))
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
                    eval_metrics = task.evaluate(state.params)
                    writer.write(done, "eval", eval_metrics)
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


def _finish(run: _Run, state: TrainState) -> dict:
    """Final evaluation: figures, summary.json (with params_fingerprint) and report.md."""
    from jaxgen.train.fingerprint import params_fingerprint
    from jaxgen.viz.report import write_report

    report = run.task.report(state.params, run.workdir)
    summary = {
        "experiment": run.config.experiment,
        "preset": run.config.preset,
        "dataset": run.config.dataset,
        "seed": run.config.seed,
        "step": int(state.step),
        "best_checkpoint_step": run.checkpoints.best_step(),
        **{k: to_plain(v) for k, v in report.summary.items()},
        "params_fingerprint": params_fingerprint(state.params),
    }
    if _is_main_process():
        (run.workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        write_report(run.workdir, run.config, summary, report)
    return summary
