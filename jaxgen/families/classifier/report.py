"""The feature classifier's report: test accuracy with its protocol, the learning curve."""

from __future__ import annotations

import pathlib

from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    config = task.config
    test = task.splits["test"]
    summary = {
        "test_accuracy": history.test["accuracy"],
        "test_examples": len(test),
        "train_examples": len(task.train_split),
        "num_classes": task.num_classes,
        "multi_label": task.multi_label,
        "max_shift": task.shift,
    }
    protocol = (
        f"A {config.architecture} CNN (nn/classifier.py) trained {history.step} steps of "
        f"batch {config.batch_size} on the {len(task.train_split)} `{config.dataset}` train "
        f"images (validation held out), Adam {config.learning_rate:g} with a {config.lr_schedule} "
        f"schedule, each image shifted by up to {task.shift} pixels. Accuracy on the "
        f"{len(test)} test images"
        + (
            f", averaged over the {task.num_classes} binary attributes (a sigmoid each)."
            if task.multi_label
            else "."
        )
    )
    rows = [[k, v] for k, v in summary.items()]
    sections = [("Accuracy", protocol + "\n\n" + markdown_table(["metric", "value"], rows))]
    sections += learning_curve_section(history, ["loss"], workdir)
    return Report(summary, sections)
