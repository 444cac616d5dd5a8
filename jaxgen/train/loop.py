"""The one training loop: every experiment runs through `train(config, workdir)`.

The loop knows one shape, the task protocol of jaxgen/train/protocol.py, and calls nothing else
of a task; it has no branch on which family runs. A run is a pure function of its config: the
per-step key is `fold_in(train_key, step)`, the data position is part of every checkpoint, and
re-running the same command on the same workdir resumes from the newest checkpoint and ends with
exactly the parameters of an uninterrupted run, across phase boundaries too. Periodic evaluation
is on the validation split and ranks the checkpoints; the test split is evaluated once, at the
end, for the final and the best checkpoint.

Faults end a run with one line and lose nothing a checkpoint holds (docs/contract.md, "Faults"):
the workdir is checked for writability before anything is built; a full disk met by any write
(a checkpoint, metrics.jsonl, the event file, figures, the report, summary.json) is a
DiskFullError that names the file and the last committed checkpoint, which the same command
resumes from; SIGINT and SIGTERM stop the loop after the step in flight, once a checkpoint of
that step is committed (`Interrupted`, exit status 128 + the signal's number; `_StopSignals`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import pathlib
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from typing import ClassVar

import jax
import ml_collections
import numpy as np
import tqdm

from jaxgen import runtime
from jaxgen.data import pipeline
from jaxgen.data.datasets import preparation_progress
from jaxgen.errors import (
    DiskFullError,
    Interrupted,
    NonFiniteLossError,
    UserError,
    signal_name,
    writing,
)
from jaxgen.reports.markdown import markdown_table, summary_record, write_report
from jaxgen.train import saved_config, sharding
from jaxgen.train.checkpoint import Checkpoints, committed_steps
from jaxgen.train.logging import MetricWriter, read_history, write_text_atomic
from jaxgen.train.protocol import History, Phase, Task, call_step
from jaxgen.train.replicas import run_keys


def _is_main_process() -> bool:
    return jax.process_index() == 0


FROZEN_KEY = "frozen_inputs"  # config.json's record of the frozen inputs' identity


def _config_record(config: ml_collections.ConfigDict, frozen_identity: str | None) -> dict:
    record = saved_config.to_json_dict(config)
    if frozen_identity is not None:
        record[FROZEN_KEY] = frozen_identity
    return record


def check_workdir(
    config: ml_collections.ConfigDict, workdir: pathlib.Path, frozen_identity: str | None = None
) -> None:
    """Refuses a workdir whose saved config differs from this one beyond the schedule, or whose
    frozen inputs were others. Before the task is built (`frozen_identity` None), the frozen
    inputs are not compared: that check follows once they are loaded."""
    path = workdir / "config.json"
    if path.exists():
        saved = saved_config.read_json(path)
        new = _config_record(config, frozen_identity)
        if frozen_identity is None and FROZEN_KEY in saved:
            new[FROZEN_KEY] = saved[FROZEN_KEY]
        saved_config.check_resumable(saved, new)


def write_config(
    config: ml_collections.ConfigDict, workdir: pathlib.Path, frozen_identity: str | None
) -> None:
    """Writes config.json (whole or not at all: it is what a resume is checked against); an
    unchanged one is left alone, so resuming on a full disk fails at the first new write."""
    if _is_main_process():
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "config.json"
        text = json.dumps(_config_record(config, frozen_identity), indent=2, sort_keys=True) + "\n"
        if not path.exists() or path.read_text() != text:
            write_text_atomic(path, text)


PROBE_NAME = ".jaxgen-write-probe"


def _write_probe(path: pathlib.Path) -> None:
    """Writes and deletes a small file at `path`: the one sure test that a folder is writable
    (`os.access` says yes to root on a read-only mount's folder and to files ACLs refuse)."""
    path.write_bytes(b"jaxgen")
    path.unlink()


def check_writable(workdir: pathlib.Path) -> None:
    """Refuses, with a UserError, a workdir that cannot be written: a path that is a file or
    runs through one, or a folder that refuses a file (read-only, no permission). Creates the
    missing folders to write a probe file in (named by host and process: the processes of a
    multi-process run probe the same folder at once), then removes the probe and, in a
    single-process run, the folders it made: a refused run leaves nothing behind. DiskFullError
    if there is no space."""
    workdir = pathlib.Path(workdir).absolute()
    for path in [workdir, *workdir.parents]:
        if path.exists() and not path.is_dir():
            what = "is a file" if path == workdir else f"runs through the file {path}"
            raise UserError(f"the workdir {workdir} {what}; choose a folder for --workdir")
    missing = [path for path in [workdir, *workdir.parents] if not path.exists()]
    probe = workdir / f"{PROBE_NAME}-{socket.gethostname()}-{os.getpid()}"
    made = []
    try:
        with writing(probe):
            for path in reversed(missing):
                path.mkdir(exist_ok=True)  # another process of the run may have made it
                made.append(path)
            _write_probe(probe)
    except OSError as err:
        if err.errno in (errno.ENOTDIR, errno.EEXIST):  # a file appeared meanwhile
            raise UserError(f"the workdir {workdir} runs through a file ({err})") from None
        reason = err.strerror or type(err).__name__
        raise UserError(
            f"cannot write to the workdir {workdir} ({reason.lower()}); choose another "
            "--workdir or make it writable"
        ) from None
    finally:
        # Other processes of a run may be probing in them: those keep what was made.
        for path in reversed(made) if not jax.distributed.is_initialized() else []:
            try:
                path.rmdir()  # innermost first
            except OSError:
                break  # no longer empty, so not ours to remove, nor are its parents


def resume_hint(directory: pathlib.Path, when: str = "") -> str:
    """What survives in the checkpoint folder `directory` and what the same command will do
    (`when`: " once there is space", ...), read from the disk now."""
    steps = committed_steps(directory)
    if not steps:
        return f"no checkpoint was complete yet: the same command starts the run afresh{when}"
    return (
        f"the last complete checkpoint (step {steps[-1]}) is intact and the same command "
        f"resumes from it{when}"
    )


class _StopSignals:
    """SIGINT and SIGTERM while a run trains (handled in the main thread of a single-process run
    only, and not where the signal was ignored when the run began, as under `nohup`; a run of
    several processes keeps Python's defaults, as its processes would have to agree on the step
    to stop at).

    The first signal only sets `signum`: the loop finishes the step in flight, commits a
    checkpoint of it and raises Interrupted; one that comes while the task is built stops the run
    once that is done (nothing is trained, nothing is lost), and one during the final evaluation
    lets the run finish. The handler never raises into whatever code it interrupts (a GC callback
    would swallow the exception, Orbax's threads would be left mid-write). A second signal ends
    the process at once (os._exit, which skips Orbax's clean-up as `kill -9` does: a half-written
    checkpoint is a tmp folder, ignored on resume).

    A run trained inside another's (a feature classifier's, while the outer run is set up or
    writes its report) shares the outer run's handlers and its `signum`: a signal stops the
    nested run as it stops any run, with its own checkpoint, and its Interrupted ends the outer
    one; the same command then resumes the nested training first.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)
    _outermost: ClassVar[_StopSignals | None] = None  # the run whose handlers are installed

    def __init__(self, directory: pathlib.Path):
        self.directory = directory  # the checkpoint folder, for the messages
        self._signum: int | None = None
        self._previous: dict[int, object] = {}
        self._outer: _StopSignals | None = None  # set for a nested run
        # The outermost's: the run whose checkpoints are being written, for the second signal's
        # message; a nested run's: the one to hand that back to when it ends.
        self._innermost: _StopSignals = self

    @property
    def signum(self) -> int | None:
        return self._outer.signum if self._outer is not None else self._signum

    def __enter__(self) -> _StopSignals:
        if _StopSignals._outermost is not None:
            self._outer = _StopSignals._outermost
            self._innermost, self._outer._innermost = self._outer._innermost, self
            return self
        # One process unless jax.distributed is; asking jax.process_count() would start the
        # backend before a bad config is refused.
        single = not jax.distributed.is_initialized()
        if threading.current_thread() is threading.main_thread() and single:
            for signum in self.SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
            _StopSignals._outermost = self
        return self

    def __exit__(self, *exc) -> None:
        if self._outer is not None:  # the run this one was nested in writes the checkpoints again
            self._outer._innermost = self._innermost
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if _StopSignals._outermost is self:
            _StopSignals._outermost = None

    def _handle(self, signum: int, frame) -> None:
        if self._signum is None:
            self._signum = signum
            return
        print(
            f"jaxgen: second signal ({signal_name(signum)}): stopped at once; "
            f"{resume_hint(self._innermost.directory)}",
            file=sys.stderr,
            flush=True,
        )
        os._exit(128 + signum)

    def raise_if_stopped(self) -> None:
        """Interrupted if a signal came while the run was being set up."""
        if self.signum is not None:
            raise Interrupted(
                f"{signal_name(self.signum)}: stopped before training; "
                f"{resume_hint(self.directory)}",
                self.signum,
            )

    @contextlib.contextmanager
    def workers_deaf_to_sigint(self, starting: bool) -> Iterator[None]:
        """While the block runs, if `starting`, SIGINT is ignored: the data worker processes
        started in it (spawned by grain on the first batch, from its own threads) inherit that,
        so that Ctrl-C, which the terminal sends to every process of the job, reaches the loop
        alone, which stops its workers itself, instead of killing each with a traceback. A
        Ctrl-C in that moment (the first batch) is ignored; the next one is honoured."""
        if self._outer is not None:  # the handlers are the outer run's
            with self._outer.workers_deaf_to_sigint(starting):
                yield
            return
        if not (starting and signal.SIGINT in self._previous):
            yield
            return
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, self._handle)


class Schedule:
    """The run's phases laid on its steps: phase i runs steps [start_i, end_i), the last one to
    `config.steps`; a phase whose budget lies past `steps` is empty."""

    def __init__(self, phases: list[Phase], steps: int):
        self.phases, self.starts, start = phases, [], 0
        for phase in phases[:-1]:
            if phase.steps is None or phase.steps < 1:
                raise UserError(
                    f"bad config: phase {phase.name!r} needs a budget of at least one step"
                )
            self.starts.append(start)
            start += phase.steps
        self.starts.append(start)
        self.ends = [*self.starts[1:], max(steps, start)]
        self.ends = [min(end, steps) for end in self.ends]

    def phase_of_checkpoint(self, step: int) -> int:
        """The index of the phase whose state a checkpoint at `step` holds: the phase of the
        step that produced it (step - 1); 0 for step 0."""
        return max(i for i, start in enumerate(self.starts) if start <= max(step - 1, 0))


class _Run:
    """The pieces of one run that `train` and `evaluate` share: the task, its fresh state (on
    the mesh), the checkpoints."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: pathlib.Path):
        from jaxgen import families

        self.config, self.workdir = config, workdir
        self.task, self.report = families.build(config)
        task: Task = self.task
        mesh = sharding.data_mesh()
        self.replicated = sharding.replicated(mesh)
        self.batch_sharding = sharding.batch_sharding(mesh, task.batch_axis)
        self.init_key, self.train_key = run_keys(config.seed)
        self.frozen = task.frozen_inputs()
        # Passed to every step as an argument (never baked into the compiled step as constants).
        self.frozen_arrays = (
            None if self.frozen is None else jax.device_put(self.frozen.arrays, self.replicated)
        )
        self.schedule = Schedule(task.phases(), config.steps)
        self.state = jax.jit(task.init_state, out_shardings=self.replicated)(self.init_key)
        self.checkpoints = Checkpoints(
            workdir / "checkpoints",
            keep=config.keep_checkpoints,
            best_metric=self.task.best_metric,
            best_mode=self.task.best_mode,
        )

    @property
    def frozen_identity(self) -> str | None:
        return None if self.frozen is None else self.frozen.identity

    def enter(self, index: int, state):
        """The state at the start of phase `index`, made from the previous phase's last state
        with the key fold_in(init key, index)."""
        phase = self.schedule.phases[index]
        if phase.enter is None:
            return state
        enter = jax.jit(phase.enter, out_shardings=self.replicated)
        return enter(state, jax.random.fold_in(self.init_key, index))

    def template(self, step: int):
        """A state shaped and sharded as the checkpoint at `step` holds it (the fresh state
        carried through the transitions of the phases before that checkpoint's)."""
        state = self.state
        for index in range(1, self.schedule.phase_of_checkpoint(step) + 1):
            state = self.enter(index, state)
        return state

    def restore(self, step: int, data_iterator=None):
        return self.checkpoints.restore(step, self.template(step), data_iterator)

    def step_fn(self, phase: Phase):
        """`phase.train_step` jitted with the state donated, as step(state, batch, key, frozen)
        (batch and frozen None where the task has none)."""

        def step(state, batch, key, frozen):
            return call_step(phase.train_step, state, batch, key, frozen)

        return jax.jit(
            step,
            in_shardings=(self.replicated, self.batch_sharding, self.replicated, self.replicated),
            out_shardings=(self.replicated, self.replicated),
            donate_argnums=0,
            compiler_options=self.step_compiler_options,
        )

    @property
    def step_compiler_options(self) -> dict[str, str]:
        """XLA options of the train steps' programs alone (runtime.step_compiler_options)."""
        platform = self.replicated.mesh.devices.flat[0].platform
        return runtime.step_compiler_options(self.task.ynnpack_fusions_off, platform)

    def evaluate(self, step: int, state, writer: MetricWriter, history: History) -> dict:
        """The periodic evaluation on the validation split, logged, with the task's snapshot."""
        params = self.task.eval_params(state)
        numbers = self.task.evaluate(params, "validation")
        history.validation.append(writer.write(step, "validation", numbers))
        arrays = jax.device_get(self.task.snapshot(params))
        if arrays:
            history.snapshots.append((step, arrays))
            writer.images(step, "validation", arrays)
            if _is_main_process():
                directory = self.workdir / "snapshots"
                directory.mkdir(parents=True, exist_ok=True)
                with writing(directory / f"{step}.npz"):
                    np.savez(directory / f"{step}.npz", **arrays)
        return numbers


def _with_resume_hint(err: DiskFullError, directory: pathlib.Path) -> DiskFullError:
    """`err` with the sentence on the surviving checkpoint and on resuming added (once: a
    training nested in another's set-up, a feature classifier's, has added it already)."""
    if err.hinted:
        return err
    hinted = DiskFullError(f"{err}; {resume_hint(directory, ' once there is space')}", err.path)
    hinted.hinted = True
    return hinted


def train(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> dict:
    """Trains (or resumes) the experiment `config` in `workdir`; returns the summary.

    Raises DiskFullError (a UserError) if a write meets a full disk or quota, and Interrupted
    after SIGINT or SIGTERM; either way the checkpoints committed before are intact."""
    workdir = pathlib.Path(workdir)
    with _StopSignals(workdir / "checkpoints") as stop:
        try:
            # The sites that write name their files; this names the workdir for the rest
            # (Orbax creating its folder, a family's own files).
            with writing(workdir), preparation_progress(config.progress):
                return _train(config, workdir, stop)
        except DiskFullError as err:
            raise _with_resume_hint(err, workdir / "checkpoints") from err


def _train(config: ml_collections.ConfigDict, workdir: pathlib.Path, stop: _StopSignals) -> dict:
    check_workdir(config, workdir)
    check_writable(workdir)
    run = _Run(config, workdir)
    # Building the task (loading its data) and what its evaluation needs (training a feature
    # classifier) can take minutes: a signal meanwhile stops the run before its first step.
    run.task.prepare_evaluation()
    stop.raise_if_stopped()
    check_workdir(config, workdir, run.frozen_identity)
    write_config(config, workdir, run.frozen_identity)  # once the task (and its data) is built
    ckpts, task, schedule = run.checkpoints, run.task, run.schedule
    dataset = task.train_dataset(config.seed)
    data_iterator = None
    if dataset is not None:
        data_iterator = pipeline.iterate(
            dataset,
            workers=config.get("data_workers", 0),
            prefetch=config.get("prefetch_batches", 2),
        )
    writer = MetricWriter(workdir)
    history = History()

    state = run.state
    start = ckpts.latest_step() or 0
    if start:
        state = run.restore(start, data_iterator)
        writer.truncate_after(start)
        history = read_history(workdir, start)

    if config.progress and _is_main_process() and jax.default_backend() == "cpu":
        # Said before the bar, since it explains the speed: one line, with the remedy.
        from jaxgen.nn import onednn

        if not onednn.available():
            print(f"jaxgen: {onednn.unavailable_reason()}", file=sys.stderr)
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
        value = float(metrics[task.monitor])
        if not math.isfinite(value):  # over replicas: the mean is NaN if any replica's is
            kept = ckpts.all_steps()
            raise NonFiniteLossError(
                f"the {task.monitor} became {value} at step {step}; training stopped "
                f"(checkpoints kept in {ckpts.directory}: steps {kept or 'none'})"
            )
        if step % config.log_every == 0 or step == config.steps:
            history.train.append(writer.write(step, "train", metrics))
        bar.update(step - bar.n)
        bar.set_postfix({task.monitor: f"{value:.4g}"}, refresh=False)

    pending, done, saved, failed = None, start, start, True
    try:
        for index, phase in enumerate(schedule.phases):
            if stop.signum is not None:
                break
            first, end = max(schedule.starts[index], start), schedule.ends[index]
            if first >= end:
                continue  # finished before the checkpoint resumed from, or past `steps`
            if first == schedule.starts[index] and index > 0:
                state = run.enter(index, state)  # a resumed phase was entered before its save
            step_fn = run.step_fn(phase)
            if len(schedule.phases) > 1:
                bar.set_description(f"{config.experiment} [{phase.name}]")
            for step in range(first, end):
                if stop.signum is not None:
                    break
                batch = None
                if data_iterator is not None:
                    with stop.workers_deaf_to_sigint(starting=step == start):
                        batch = next(data_iterator)
                    batch = sharding.to_global(batch, run.batch_sharding)
                key = jax.random.fold_in(run.train_key, step)
                state, metrics = step_fn(state, batch, key, run.frozen_arrays)
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
                    saved = done
        if stop.signum is not None:  # a second signal during this save ends the process at once
            if pending is not None:
                record(*pending)
            if saved != done:
                ckpts.save(done, state, data_iterator)  # committed when this returns
            name, where = signal_name(stop.signum), ckpts.directory / str(done)
            what = (
                f"stopped after step {done}, whose checkpoint is saved in {where}; the same "
                "command resumes from it"
                if done
                else "stopped before the first step; the same command starts the run"
            )
            raise Interrupted(f"{name}: {what}", stop.signum)
        failed = False
    finally:
        bar.close()
        writer.close(quietly=failed)  # a failing run's own error is the one to report
        if data_iterator is not None:
            data_iterator.close()  # stops the read-ahead thread or the worker processes
        if failed:
            ckpts.close(quietly=True)
    summary = _finish(run, state, history)
    ckpts.close()
    return summary


def _saved_run(workdir: str | pathlib.Path) -> tuple[pathlib.Path, ml_collections.ConfigDict]:
    workdir = pathlib.Path(workdir)
    if not (workdir / "config.json").exists():
        raise UserError(f"{workdir} holds no run (no config.json)")
    return workdir, ml_collections.ConfigDict(saved_config.read_json(workdir / "config.json"))


def evaluate(workdir: str | pathlib.Path) -> dict:
    """Re-evaluates the newest checkpoint of `workdir`, rewriting summary.json and report.md."""
    workdir, config = _saved_run(workdir)
    check_writable(workdir)
    try:
        with preparation_progress(config.progress):
            return _evaluate(workdir, config)
    except DiskFullError as err:
        raise DiskFullError(
            f"{err}; the checkpoints are intact: run the same command again once there is space",
            err.path,
        ) from err
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
    state = run.restore(step)
    summary = _finish(run, state, read_history(workdir, step))
    run.checkpoints.close()
    return summary


def restore_params(workdir: str | pathlib.Path, step: int | None = None):
    """The `params` field of a run's train state at a checkpoint (the newest by default), for
    analysis in Python; read from the checkpoint alone (no data set, no task).

    With `--config.seeds`, every leaf has a leading replica axis (`replicas.replica(params, r)`
    takes seed r's). A comparison's (families/comparison/task.py) are {member: that member's
    params}."""
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
        chosen = task.evaluate(task.eval_params(run.restore(best)), "test")
    numbers = {f"final_test_{k}": v for k, v in final.items()}
    numbers.update({f"best_test_{k}": v for k, v in chosen.items()})
    # A number a phase does not compute (a DBN's fine-tuned error before fine-tuning) is blank.
    rows = [[name, final[name], chosen.get(name, "")] for name in final]
    header = ["test metric", f"final (step {step})", f"best (step {best})"]
    protocol = task.evaluation_protocol("test")
    if protocol:  # each number's protocol (its sample counts) beside it
        rows = [[name, protocol.get(name, ""), *rest] for name, *rest in rows]
        header.insert(1, "protocol (test split)")
    ranked_by = task.evaluation_protocol("validation").get(task.best_metric)
    ranking = (
        f"Checkpoints are ranked by `{task.best_metric}` ({task.best_mode}) on the validation "
        + (f"split ({ranked_by}), " if ranked_by else "split, ")
        + "which is held out from train"
        if task.best_metric is not None
        else "This task ranks no checkpoints (it has no validation metric)"
    )
    text = (
        f"{ranking}; the test split is used only after training. With the periodic "
        f"evaluation's protocol, its numbers for the final checkpoint (step {step}) and for the "
        f"best one by validation (step {best if best is not None else step}) are:\n\n"
        + markdown_table(header, rows)
    )
    return numbers, ("Model selection", text)


def _finish(run: _Run, state, history: History) -> dict:
    """Final evaluation: figures, summary.json (with params_fingerprint) and report.md."""
    config = run.config
    step = int(np.max(state.step))  # over replicas every entry is the same
    history.step, history.seed = step, config.seed
    history.best_metric, history.best_mode = run.task.best_metric, run.task.best_mode
    history.best_step = run.checkpoints.best_step()
    params = run.task.eval_params(state)
    history.test = run.task.evaluate(params, "test")  # once: the report and the selection share it
    with writing(run.workdir, f"the figures in {run.workdir}"):  # the family's report's
        report = run.report(run.task, params, history, run.workdir)
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
        write_text_atomic(run.workdir / "summary.json", json.dumps(summary, indent=2) + "\n")
        with writing(run.workdir / "report.md"):
            write_report(run.workdir, config, summary, report, run.task.ynnpack_fusions_off)
    return summary
