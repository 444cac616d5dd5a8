"""Metric sinks: `metrics.jsonl` (one object a line: step, split, names) and TensorBoard."""

from __future__ import annotations

import json
import math
import pathlib
import re

import jax
import numpy as np


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

    def write(self, step: int, split: str, metrics: dict) -> None:
        if not self._active:
            return
        record = {"step": int(step), "split": split}
        record.update({name: to_plain(value) for name, value in metrics.items()})
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        for name, value in record.items():
            if name not in ("step", "split") and isinstance(value, float | int):
                if math.isfinite(value):
                    self._tb.add_scalar(f"{split}/{name}", value, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(workdir: pathlib.Path, split: str | None = None) -> list[dict]:
    """The records of `metrics.jsonl`, optionally only one split's. A seed's folder (`seedS/` of
    a many-seed run) has none of its own and reads the run's, whose numbers are the means over
    the seeds."""
    workdir = pathlib.Path(workdir)
    path = workdir / "metrics.jsonl"
    if not path.exists() and re.fullmatch(r"seed\d+", workdir.name):
        path = workdir.parent / "metrics.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if split is None or r.get("split") == split]
