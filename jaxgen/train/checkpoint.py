"""Orbax checkpoints: the newest N plus the best by a validation metric, each holding the train
state, the data iterator's position (for a task with data) and the step."""

from __future__ import annotations

import pathlib
from typing import Any

import grain
import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as policies

from jaxgen.errors import UserError


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
        None); `metrics` ranks it for best-keeping."""
        items = {"state": ocp.args.StandardSave(state)}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
        self._manager.save(
            step,
            args=ocp.args.Composite(**items),
            metrics=metrics,
            force=True,
        )
        self._manager.wait_until_finished()

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

    def close(self) -> None:
        self._manager.close()
