"""The Gaussian family's report: the test NLL with its protocol, samples, the learning curve."""

from __future__ import annotations

import pathlib

from jaxgen.families.minimal.task import SAMPLE_KEY
from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report
from jaxgen.train.protocol import History
from jaxgen.viz import figures


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    test_examples = len(task.images["test"])
    summary = {"test_nll_nats": history.test["nll_nats"], "test_examples": test_examples}
    figures.image_grid(
        task.sample_pixels(params, 16, SAMPLE_KEY), 2, 8, workdir / "samples.png", "x ~ p(x)"
    )
    protocol = (
        f"Mean -log p(x) in nats per image over the {test_examples} `{task.config.dataset}` "
        "test images (pixels in [0, 1] as continuous values: a density, not a probability)."
    )
    sections = [("Likelihood", protocol), ("Samples", "![samples](samples.png)")]
    return Report(summary, sections + learning_curve_section(history, ["loss"], workdir))
