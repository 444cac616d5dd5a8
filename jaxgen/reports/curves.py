"""The learning-curve section every report shares: the train records of chosen metrics over
steps, as one figure."""

from __future__ import annotations

import pathlib

from jaxgen.train.protocol import History
from jaxgen.viz import figures


def learning_curve_section(
    history: History,
    names: list[str],
    workdir: pathlib.Path,
    title: str = "train",
    logy: bool = True,
) -> list[tuple[str, str]]:
    """The train curves of `names` from the run history, as a report section ([] if none);
    on a log scale unless `logy` is False (a quantity that may be negative)."""
    if not history.train:
        return []
    figures.learning_curves(history.train, names, workdir / "learning_curve.png", title, logy=logy)
    return [("Learning curve", "![learning curve](learning_curve.png)")]


def fid_over_training(
    history: History,
    names: list[str],
    workdir: pathlib.Path,
    samples: int,
    floor: float | None = None,
) -> list[pathlib.Path]:
    """The validation FID (`names`: its metric names) at every evaluation, with the real-data
    floor as a dotted line when given; [] if no evaluation recorded one."""
    if not any(name in r for r in history.validation for name in names):
        return []
    path = figures.learning_curves(
        history.validation,
        names,
        workdir / "fid_over_training.png",
        f"validation FID over training ({samples} samples)",
        logy=False,
        reference=None if floor is None else (floor, "floor (real train)"),
    )
    return [path]


def samples_over_training(history: History, workdir: pathlib.Path) -> list[pathlib.Path]:
    """The snapshots' `samples` (the same noise at every evaluation), one row a step."""
    if not history.snapshots:
        return []
    path = figures.image_rows(
        [a["samples"] for _, a in history.snapshots],
        [f"step {s}" for s, _ in history.snapshots],
        workdir / "samples_over_training.png",
        "the same noise over training",
    )
    return [path]


def discriminator_over_training(
    history: History, names: list[str], workdir: pathlib.Path, title: str
) -> list[pathlib.Path]:
    """A discriminator's mean D(x) = sigmoid(logit) on its training batches (`names`), with the
    equilibrium 0.5 dotted; [] without train records."""
    if not history.train:
        return []
    path = figures.learning_curves(
        history.train,
        names,
        workdir / "d_of_x.png",
        title,
        logy=False,
        reference=(0.5, "equilibrium"),
    )
    return [path]
