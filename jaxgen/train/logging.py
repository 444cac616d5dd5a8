"""Metric sinks: `metrics.jsonl` (one object a line: step, split, names) and TensorBoard."""

from __future__ import annotations

import json
import math
import pathlib

import jax
import numpy as np

from jaxgen.train.protocol import History
from jaxgen.viz.grid import tile


def to_plain(value) -> float | int | list:
    """A scalar or array (NumPy or JAX) as a plain Python number or nested list, for JSON."""
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()


class MetricWriter:
    """Appends metrics to `metrics.jsonl` and TensorBoard event files (process 0 only)."""

    def __init__(self, workdir: pathlib.Path):
        self._active = jax.process_index() == 0
        self.path = pathlib.Path(workdir) / "metrics.jsonl"
        self._tb = None
        if self._active:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(workdir), flush_secs=30)

    def truncate_after(self, step: int) -> None:
        """Drops records past `step`: a resumed run rewrites what followed its checkpoint."""
        if not self._active or not self.path.exists():
            return
        kept = [
            line
            for line in self.path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step
        ]
        self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, step: int, split: str, metrics: dict) -> dict:
        """Appends one record and returns it (plain JSON values), on every process."""
        record = {"step": int(step), "split": split}
        record.update({name: to_plain(value) for name, value in metrics.items()})
        if not self._active:
            return record
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        for name, value in record.items():
            if name not in ("step", "split") and isinstance(value, float | int):
                if math.isfinite(value):
                    self._tb.add_scalar(f"{split}/{name}", value, step)
        return record

    def images(self, step: int, split: str, arrays: dict) -> None:
        """Writes every (N, H, W, C) array with 1 or 3 channels and values in [0, 1] to
        TensorBoard as one image grid (10 a row) tagged `split/name`."""
        if not self._active:
            return
        for name, value in arrays.items():
            value = np.asarray(value)
            if value.ndim == 4 and value.shape[-1] in (1, 3):
                grid = tile(value, min(len(value), 10))
                self._tb.add_image(
                    f"{split}/{name}", grid, step, dataformats="HW" if grid.ndim == 2 else "HWC"
                )

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_history(workdir: pathlib.Path, step: int) -> History:
    """The History of a run up to `step`, from its own files: the records of `metrics.jsonl`
    and the arrays of `snapshots/STEP.npz` (what a resumed or re-evaluated run hands its report
    for the steps it did not see itself)."""
    workdir = pathlib.Path(workdir)
    history = History(step=step)
    path = workdir / "metrics.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            record = json.loads(line) if line.strip() else {}
            if record and record["step"] <= step:
                (history.train if record["split"] == "train" else history.validation).append(record)
    directory = workdir / "snapshots"
    steps = sorted(int(p.stem) for p in directory.glob("*.npz")) if directory.exists() else []
    history.snapshots = [(s, dict(np.load(directory / f"{s}.npz"))) for s in steps if s <= step]
    return history
