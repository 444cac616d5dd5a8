"""Orbax checkpoints: the newest N plus the best by a validation metric, each holding the train
state, the data iterator's position (for a task with data) and the step.

Orbax writes a checkpoint into `STEP.orbax-checkpoint-tmp` and commits it by renaming that folder
to `STEP` once every file is written (on a local file system; on GCS, by a `commit_success.txt`
file): a save cut short by a full disk, a crash or `kill -9` leaves only the tmp folder, which is
never listed as a step and is deleted when the next run opens the directory
(`cleanup_tmp_directories`).

A failed save is reported once, by the exception `save` raises. Orbax's worker threads, the
asyncio loops it runs them on and TensorStore's callbacks echo the same failure (absl and asyncio
log records with tracebacks, "Event loop is closed" from callbacks into a loop already closed,
for a while after the save has raised); `_Echoes` silences those echoes, and only
those, while a save runs and once one has failed.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import pathlib
import sys
import threading
from typing import Any

import grain
import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as policies

from jaxgen.errors import UserError, disk_full_errno, writing

# What Orbax's threads and asyncio loops say after a save failed, besides the failure itself.
_ECHOES = ("Event loop is closed", "Python is likely shutting down")


def _is_echo(err: BaseException | None, text: str = "") -> bool:
    """Whether an exception (or a log message) is the echo of a failed save: the disk-full
    error itself, or what a worker says when its loop or the interpreter has gone."""
    texts = [t for t in (text, "" if err is None else str(err)) if t]
    if err is not None and disk_full_errno(err) is not None:
        return True
    return any(
        disk_full_errno(Exception(t)) is not None or any(echo in t for echo in _ECHOES)
        for t in texts
    )


class _Echoes:
    """Silences the echoes of a failed save (and nothing else) while a save runs and, once one
    has failed, for the rest of the process (they go on after the save has raised, up to the
    interpreter's exit): log records of absl (Orbax's) and asyncio, uncaught exceptions of
    threads and unraisable ones (TensorStore's callbacks into a closed loop)."""

    saving = 0
    failed = False
    installed = False

    @classmethod
    def active(cls) -> bool:
        return cls.saving > 0 or cls.failed

    @classmethod
    def install(cls) -> None:
        """Puts the filters in place, once; they pass everything on unless `active()`."""
        if cls.installed:
            return
        cls.installed = True

        class EchoFilter(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                err = record.exc_info[1] if record.exc_info else None
                return not (cls.active() and _is_echo(err, record.getMessage()))

        for name in ("absl", "asyncio"):
            logging.getLogger(name).addFilter(EchoFilter())
        thread_hook, unraisable_hook = threading.excepthook, sys.unraisablehook

        def quiet_thread_hook(args) -> None:
            if not (cls.active() and _is_echo(args.exc_value)):
                thread_hook(args)

        def quiet_unraisable_hook(unraisable) -> None:
            if not (cls.active() and _is_echo(unraisable.exc_value)):
                unraisable_hook(unraisable)

        threading.excepthook, sys.unraisablehook = quiet_thread_hook, quiet_unraisable_hook

    @classmethod
    @contextlib.contextmanager
    def silenced(cls):
        """While the block runs, and for good if it raises."""
        cls.install()
        cls.saving += 1
        try:
            yield
        except BaseException:
            cls.failed = True
            raise
        finally:
            cls.saving -= 1


def committed_steps(directory: pathlib.Path) -> list[int]:
    """The steps of the committed checkpoints in `directory`, ascending, read from the disk now
    (not from a manager's cache, which a failed save may have left stale); [] if none."""
    return sorted(ocp.path.step.checkpoint_steps(directory))


class Checkpoints:
    """A thin layer over `ocp.CheckpointManager` with the items every jaxgen run saves."""

    def __init__(
        self,
        directory: pathlib.Path,
        *,
        keep: int,
        best_metric: str | None = None,
        best_mode: str = "min",
    ):
        keepers: list[Any] = [policies.LatestN(keep)]
        if best_metric is not None:
            keepers.append(
                policies.BestN(
                    get_metric_fn=lambda metrics: metrics[best_metric],
                    reverse=best_mode == "min",  # BestN keeps the end of the sorted list
                    n=1,
                    keep_checkpoints_without_metrics=False,
                )
            )
        options = ocp.CheckpointManagerOptions(
            preservation_policy=policies.AnyPreservationPolicy(keepers),
            # best_fn also makes the manager store each checkpoint's metrics next to it.
            best_fn=(lambda metrics: metrics[best_metric]) if best_metric else None,
            best_mode=best_mode,
            enable_async_checkpointing=False,
            cleanup_tmp_directories=True,
            create=True,
        )
        self.directory = pathlib.Path(directory).absolute()
        self.best_metric = best_metric
        self.best_mode = best_mode
        self._manager = ocp.CheckpointManager(
            self.directory, options=options, item_names=("state", "data")
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, state, data_iterator, metrics: dict | None = None) -> None:
        """Saves the state and the iterator position (none for a task without data: iterator
        None); `metrics` ranks it for best-keeping. Returns once the checkpoint is committed;
        DiskFullError (naming the step's folder) if the disk or quota is full."""
        items = {"state": ocp.args.StandardSave(state)}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
        with _Echoes.silenced(), writing(self.directory / str(step)):
            self._manager.save(
                step,
                args=ocp.args.Composite(**items),
                metrics=metrics,
                force=True,
            )
            self._manager.wait_until_finished()

    def committed_steps(self) -> list[int]:
        return committed_steps(self.directory)

    def restore(self, step: int, target_state=None, data_iterator=None):
        """Restores the state (shaped and sharded like `target_state`; without one, as the
        nested dicts of arrays that were saved) and, if given, moves `data_iterator` to the
        saved position. UserError if the checkpoint is unreadable."""
        abstract = None
        if target_state is not None:
            abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target_state)
        items = {"state": ocp.args.StandardRestore(abstract)}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
        try:
            restored = self._manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as err:  # orbax raises many types for a damaged directory
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise UserError(
                f"checkpoint {self.directory / str(step)} cannot be read ({message[:200]}); "
                "move that step's folder away to resume from an earlier one"
            ) from None
        return restored["state"]

    def best_step(self) -> int | None:
        """The saved step with the best `best_metric`, or None if none was ranked."""
        if self.best_metric is None:
            return None
        return self._manager.best_step()

    def close(self, quietly: bool = False) -> None:
        """Waits for Orbax's background work and stops it; `quietly` (on the way out of a failed
        run, whose own error is the one to report) drops any error that this raises."""
        if not quietly:
            self._manager.close()
            return
        with contextlib.suppress(Exception):
            self._manager.close()
        # Failed tasks and coroutines of a failed save are reported when collected: now, while
        # the filters above are in place, rather than at the interpreter's exit.
        gc.collect()
