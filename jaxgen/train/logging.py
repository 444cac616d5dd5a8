"""Metric sinks: `metrics.jsonl` (one object a line: step, split, names) and TensorBoard.

Both are written in the calling thread, so that a failed write (a full disk) is an exception in
the training loop, named by `jaxgen.errors.writing`: tensorboardX's own SummaryWriter writes from
a background thread, which dies with a traceback on a full disk and then leaves the loop blocked
on its full queue, and flushes again from an atexit hook that prints a second traceback.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import socket
import sys
import time

import jax
import numpy as np

from jaxgen.errors import writing
from jaxgen.train.protocol import History
from jaxgen.viz.grid import tile

FLUSH_SECONDS = 30.0  # how often the event file is flushed (and fsynced) for a live TensorBoard


def to_plain(value) -> float | int | list:
    """A scalar or array (NumPy or JAX) as a plain Python number or nested list, for JSON."""
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()


def write_text_atomic(path: pathlib.Path, text: str) -> None:
    """Writes `text` to `path` through `PATH.tmp` and a rename: a write cut short (a full disk,
    a kill) leaves the old file whole, never a truncated one. DiskFullError if it is full."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with writing(path):
        try:
            tmp.write_text(text)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _torch_kept_out():
    """Within it, `import torch` raises ImportError, unless torch is already imported.
    tensorboardX's package imports torch whenever it is installed (its writer checks values
    against torch.Tensor): 1.1 to 1.5 s where the import takes 0.12 s without it, and PyTorch's
    own OpenMP runtime in a JAX process. jaxgen hands tensorboardX NumPy values only, and
    tensorboardX runs without torch (CI has none), so jaxgen imports it as if torch were absent;
    the benchmarks' jaxgen workers are checked never to have imported torch (benchmarks/
    harness.py)."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # the import system's way to say "not importable"
    try:
        yield
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]


def _parse_lines(text: str) -> list[dict]:
    """The records of a metrics.jsonl text; a line that does not parse (the last one, torn by a
    full disk or a kill mid-write) is dropped."""
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict) and "step" in record:
            records.append(record)
    return records


class _EventFile:
    """One TensorBoard event file (`events.out.tfevents.TIME.HOST`), written synchronously.
    `summary` is tensorboardX's module of Summary builders (`scalar`, `image`)."""

    def __init__(self, workdir: pathlib.Path):
        with _torch_kept_out():  # the one place jaxgen imports tensorboardX
            from tensorboardX import summary
            from tensorboardX.proto import event_pb2
            from tensorboardX.record_writer import RecordWriter

        self.summary = summary
        self._event_pb2 = event_pb2
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}"
        self.path = pathlib.Path(workdir) / name
        with writing(self.path):
            self._file = RecordWriter(str(self.path))
            self._write(self._event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))
        self._flushed = -math.inf  # the first records are flushed at once

    def _write(self, event) -> None:
        self._file.write(event.SerializeToString())

    def add(self, summary, step: int) -> None:
        """Appends one Summary at `step`; flushes if the last flush is FLUSH_SECONDS old."""
        with writing(self.path):
            self._write(
                self._event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary)
            )
            if time.monotonic() - self._flushed > FLUSH_SECONDS:
                self._file.flush()
                self._flushed = time.monotonic()

    def close(self) -> None:
        # A buffered file closes its descriptor even when its final flush fails, so nothing is
        # left for the garbage collector to flush (and complain about) later.
        with writing(self.path):
            self._file.close()


class MetricWriter:
    """Appends metrics to `metrics.jsonl` and a TensorBoard event file (process 0 only). Every
    method raises DiskFullError, naming its file, if the disk or quota is full."""

    def __init__(self, workdir: pathlib.Path):
        self._active = jax.process_index() == 0
        self.path = pathlib.Path(workdir) / "metrics.jsonl"
        self._tb = _EventFile(workdir) if self._active else None

    def truncate_after(self, step: int) -> None:
        """Drops records past `step` (and a torn last line): a resumed run rewrites what followed
        its checkpoint. The file is replaced whole, never left half-written."""
        if not self._active or not self.path.exists():
            return
        text = self.path.read_text()
        kept = [r for r in _parse_lines(text) if r["step"] <= step]
        new = "".join(json.dumps(r) + "\n" for r in kept)
        if new != text:
            write_text_atomic(self.path, new)

    def write(self, step: int, split: str, metrics: dict) -> dict:
        """Appends one record and returns it (plain JSON values), on every process."""
        record = {"step": int(step), "split": split}
        record.update({name: to_plain(value) for name, value in metrics.items()})
        if not self._active:
            return record
        with writing(self.path), self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        for name, value in record.items():
            if name not in ("step", "split") and isinstance(value, float | int):
                if math.isfinite(value):
                    self._tb.add(self._tb.summary.scalar(f"{split}/{name}", value), step)
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
                formats = "HW" if grid.ndim == 2 else "HWC"
                image = self._tb.summary.image(f"{split}/{name}", grid, dataformats=formats)
                self._tb.add(image, step)

    def close(self, quietly: bool = False) -> None:
        """Flushes and closes the event file; `quietly` (on the way out of a failed run, whose
        own error is the one to report) drops a failure to flush."""
        if self._tb is None:
            return
        try:
            self._tb.close()
        except Exception:
            if not quietly:
                raise
        finally:
            self._tb = None


def read_history(workdir: pathlib.Path, step: int) -> History:
    """The History of a run up to `step`, from its own files: the records of `metrics.jsonl`
    and the arrays of `snapshots/STEP.npz` (what a resumed or re-evaluated run hands its report
    for the steps it did not see itself)."""
    workdir = pathlib.Path(workdir)
    history = History(step=step)
    path = workdir / "metrics.jsonl"
    if path.exists():
        for record in _parse_lines(path.read_text()):
            if record["step"] <= step:
                (history.train if record["split"] == "train" else history.validation).append(record)
    directory = workdir / "snapshots"
    steps = sorted(int(p.stem) for p in directory.glob("*.npz")) if directory.exists() else []
    history.snapshots = [(s, dict(np.load(directory / f"{s}.npz"))) for s in steps if s <= step]
    return history
