"""The learning-curve section every report shares: the train records of chosen metrics over
steps, with the validation evaluations of the same metrics and of the metric that ranks the
checkpoints, as one figure."""

from __future__ import annotations

import pathlib

from jaxgen.train.protocol import History
from jaxgen.viz import figures


def selection(history: History) -> figures.Selection | None:
    """What ranked the run's checkpoints (None when its task ranks none)."""
    if history.best_metric is None:
        return None
    return figures.Selection(history.best_metric, history.best_mode, history.best_step)


def _has(records: list[dict], names: list[str]) -> bool:
    return any(name in r for r in records for name in names)


def learning_curve_figure(
    history: History, names: list[str], title: str = "learning curves", logy: bool = True
):
    """The learning-curve figure (a matplotlib Figure): the train records of `names`, each with
    its validation evaluations on the same axes, and the validation curve of the selection
    metric with the selected checkpoint starred."""
    return figures.learning_curves_figure(
        history.train,
        names,
        title,
        logy=logy,
        validation=history.validation,
        selection=selection(history),
    )


def learning_curve_section(
    history: History,
    names: list[str],
    workdir: pathlib.Path,
    title: str = "learning curves",
    logy: bool = True,
) -> list[tuple[str, str]]:
    """The learning curves of `names` from the run history (`learning_curve_figure`), as a
    report section ([] if there is nothing to draw); on a log scale unless `logy` is False (a
    quantity that may be negative)."""
    chosen = selection(history)
    ranked = chosen is not None and _has(history.validation, [chosen.metric])
    if not _has(history.train, names) and not ranked:
        return []
    fig = learning_curve_figure(history, names, title, logy)
    figures.save(fig, workdir / "learning_curve.png")
    text = ""
    if _has(history.train, names):
        text += (
            "Solid: train metrics on training batches, logged every `log_every` steps (and at "
            "the last step)."
        )
        if _has(history.validation, names):
            text += " Dashed: the same metrics on the validation split, at every evaluation."
    if ranked:
        better = "lower" if chosen.mode == "min" else "higher"
        text += (
            f" Checkpoints are ranked by validation `{chosen.metric}` ({better} is better); "
            "the star marks the selected checkpoint"
            + (f" (step {chosen.step})." if chosen.step is not None else ".")
        )
    return [("Learning curve", f"![learning curve](learning_curve.png)\n\n{text.strip()}")]


def fid_over_training(
    history: History,
    names: list[str],
    workdir: pathlib.Path,
    samples: int,
    floor: float | None = None,
) -> list[pathlib.Path]:
    """The validation FID (`names`: its metric names) at every evaluation, with the real-data
    floor as a dotted line when given (`eval.sample_quality.periodic_fid_floor`: the same
    sample counts and split as the curve), and a star at the selected checkpoint when FID ranks
    them; [] if no evaluation recorded one."""
    if not any(name in r for r in history.validation for name in names):
        return []
    path = figures.learning_curves(
        history.validation,
        names,
        workdir / "fid_over_training.png",
        f"validation FID over training ({samples} samples)",
        logy=False,
        reference=None if floor is None else (floor, f"floor ({samples} real train images)"),
        selection=selection(history),
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
