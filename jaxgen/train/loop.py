"""The one training loop: every experiment runs through `train(config, workdir)`.

The loop knows one shape, the task protocol of jaxgen/tasks/base.py, and calls nothing else of a
task. A run is a pure function of its config: the per-step key is `fold_in(train_key, step)`,
the data position is part of every checkpoint, and re-running the same command on the same
workdir resumes from the newest checkpoint and ends with exactly the parameters of an
uninterrupted run. Periodic evaluation is on the validation split and ranks the checkpoints; the
test split is evaluated once, at the end, for the final and the best checkpoint.
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
from jaxgen.data import pipeline
from jaxgen.errors import NonFiniteLossError, UserError
from jaxgen.reports.markdown import markdown_table, summary_record, write_report
from jaxgen.tasks.base import History, Task
from jaxgen.train import sharding
from jaxgen.train.checkpoint import Checkpoints
from jaxgen.train.logging import MetricWriter, read_history
from jaxgen.train.replicas import run_keys


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
    """The pieces of one run that `train` and `evaluate` share: the task, its fresh state (on
    the mesh), the checkpoints."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: pathlib.Path):
        from jaxgen.tasks import build_task

        self.config, self.workdir = config, workdir
        self.task: Task = build_task(config)
        mesh = sharding.data_mesh()
        self.replicated = sharding.replicated(mesh)
        self.batch_sharding = sharding.batch_sharding(mesh, self.task.batch_axis)
        init_key, self.train_key = run_keys(config.seed)
        self.state = jax.jit(self.task.init_state, out_shardings=self.replicated)(init_key)
        self.checkpoints = Checkpoints(
            workdir / "checkpoints",
            keep=config.keep_checkpoints,
            best_metric=self.task.best_metric,
            best_mode=self.task.best_mode,
        )

    def evaluate(self, step: int, state, writer: MetricWriter, history: History) -> dict:
        """The periodic evaluation on the validation split, logged, with the task's snapshot."""
        params = self.task.eval_params(state)
        numbers = self.task.evaluate(params, "validation")
        history.eval.append(writer.write(step, "eval", numbers))
        arrays = jax.device_get(self.task.snapshot(params))
        if arrays:
            history.snapshots.append((step, arrays))
            writer.images(step, "eval", arrays)
            if _is_main_process():
                directory = self.workdir / "snapshots"
                directory.mkdir(parents=True, exist_ok=True)
                np.savez(directory / f"{step}.npz", **arrays)
        return numbers


def train(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> dict:
    """Trains (or resumes) the experiment `config` in `workdir`; returns the summary."""
    workdir = pathlib.Path(workdir)
    check_workdir(config, workdir)
    run = _Run(config, workdir)
    write_config(config, workdir)  # only once the task (and its data) could be built
    state, ckpts, task = run.state, run.checkpoints, run.task
    data_iterator = pipeline.iterate(
        task.train_dataset(config.seed),
        workers=config.get("data_workers", 0),
        prefetch=config.get("prefetch_batches", 2),
    )
    writer = MetricWriter(workdir)
    history = History()

    start = ckpts.latest_step() or 0
    if start:
        state = ckpts.restore(start, state, data_iterator)
        writer.truncate_after(start)
        history = read_history(workdir, start)

    step_fn = jax.jit(
        task.train_step,
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
        if not math.isfinite(loss):  # over replicas: the mean is NaN if any replica's is
            kept = ckpts.all_steps()
            raise NonFiniteLossError(
                f"the loss became {loss} at step {step}; training stopped "
                f"(checkpoints kept in {ckpts.directory}: steps {kept or 'none'})"
            )
        if step % config.log_every == 0 or step == config.steps:
            history.train.append(writer.write(step, "train", metrics))
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
                numbers = run.evaluate(done, state, writer, history) if evaluate_now else None
                ckpts.save(done, state, data_iterator, numbers)
    finally:
        bar.close()
        writer.close()
        data_iterator.close()  # stops the read-ahead thread or the worker processes
    summary = _finish(run, state, history)
    ckpts.close()
    return summary


def _saved_run(workdir: str | pathlib.Path) -> tuple[pathlib.Path, ml_collections.ConfigDict]:
    workdir = pathlib.Path(workdir)
    if not (workdir / "config.json").exists():
        raise UserError(f"{workdir} holds no run (no config.json)")
    return workdir, ml_collections.ConfigDict(config_lib.read_json(workdir / "config.json"))


def evaluate(workdir: str | pathlib.Path) -> dict:
    """Re-evaluates the newest checkpoint of `workdir`, rewriting summary.json and report.md."""
    workdir, config = _saved_run(workdir)
    try:
        return _evaluate(workdir, config)
    except AttributeError as err:
        if not isinstance(err.__context__, KeyError):  # not a missing config key: a bug
            raise
        raise UserError(
            f"{workdir / 'config.json'} lacks a key this version of jaxgen reads ({err}); it was "
            "written by an older jaxgen: train again in a new workdir"
        ) from None


def _evaluate(workdir: pathlib.Path, config: ml_collections.ConfigDict) -> dict:
    run = _Run(config, workdir)
    step = run.checkpoints.latest_step()
    if step is None:
        raise UserError(f"{workdir / 'checkpoints'} holds no checkpoint to evaluate")
    state = run.checkpoints.restore(step, run.state)
    summary = _finish(run, state, read_history(workdir, step))
    run.checkpoints.close()
    return summary


def restore_params(workdir: str | pathlib.Path, step: int | None = None):
    """The `params` field of a run's train state at a checkpoint (the newest by default), for
    analysis in Python; read from the checkpoint alone (no data set, no task).

    With `--config.seeds`, every leaf has a leading replica axis (`replicas.replica(params, r)`
    takes seed r's). A comparison's (tasks/comparison.py) are {member: that member's params}."""
    workdir, config = _saved_run(workdir)
    checkpoints = Checkpoints(workdir / "checkpoints", keep=config.keep_checkpoints)
    step = checkpoints.latest_step() if step is None else step
    if step is None:
        raise UserError(f"{workdir / 'checkpoints'} holds no checkpoint")
    state = checkpoints.restore(step)
    checkpoints.close()
    if "params" not in state and "members" in state:  # a comparison: its members' states
        return {name: member["params"] for name, member in state["members"].items()}
    return state["params"]


def _selection(run: _Run, state, final: dict, step: int) -> tuple[dict, tuple[str, str]]:
    """The test numbers of the final checkpoint (`final`, already computed) and of the best one
    by the validation metric: summary entries `final_test_NAME`, `best_test_NAME` and the
    report's section."""
    task, best = run.task, run.checkpoints.best_step()
    if best is None or best == step:
        chosen = final
    else:
        chosen = task.evaluate(task.eval_params(run.checkpoints.restore(best, state)), "test")
    numbers = {f"final_test_{k}": v for k, v in final.items()}
    numbers.update({f"best_test_{k}": v for k, v in chosen.items()})
    rows = [[name, final[name], chosen[name]] for name in final]
    ranking = (
        f"Checkpoints are ranked by `{task.best_metric}` ({task.best_mode}) on the validation "
        "split, which is held out from train"
        if task.best_metric is not None
        else "This task ranks no checkpoints (it has no validation metric)"
    )
    text = (
        f"{ranking}; the test split is used only after training. With the periodic "
        f"evaluation's protocol, its numbers for the final checkpoint (step {step}) and for the "
        f"best one by validation (step {best if best is not None else step}) are:\n\n"
        + markdown_table(["test metric", f"final (step {step})", f"best (step {best})"], rows)
    )
    return numbers, ("Model selection", text)


def _finish(run: _Run, state, history: History) -> dict:
    """Final evaluation: figures, summary.json (with params_fingerprint) and report.md."""
    config = run.config
    step = int(np.max(state.step))  # over replicas every entry is the same
    history.step, history.seed = step, config.seed
    params = run.task.eval_params(state)
    history.test = run.task.evaluate(params, "test")  # once: the report and the selection share it
    report = run.task.report(params, history, run.workdir)
    numbers, section = _selection(run, state, history.test, step)
    report.summary.update(numbers)
    report.sections.append(section)
    head = {
        "experiment": config.experiment,
        "preset": config.preset,
        "dataset": config.dataset,
        "seed": config.seed,
        "step": step,
        "best_checkpoint_step": run.checkpoints.best_step(),
    }
    summary = summary_record(head, report, params)
    if _is_main_process():
        (run.workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        write_report(run.workdir, config, summary, report)
    return summary
