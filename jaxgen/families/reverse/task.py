"""Convnets run in reverse: the optimised thing is an image, the network a frozen input.

`config.method` picks the task:
- `style_transfer` and `texture` (style.py): Gatys et al.'s Gram-matrix losses;
- `deepdream` (dream.py): gradient ascent on a layer's mean activation, octave by octave;
- `activation_maximisation` (visualise.py): one image per unit (a class logit, a channel) under
  the regularisers of feature visualisation.

What they share (the state, the step, the optimizers, the frozen networks) is pixel_task.py's.
"""

from __future__ import annotations

import ml_collections

from jaxgen.errors import UserError
from jaxgen.families.reverse.dream import DreamTask
from jaxgen.families.reverse.style import StyleTask
from jaxgen.families.reverse.visualise import VisualisationTask
from jaxgen.train.protocol import Task

METHODS = ("style_transfer", "texture", "deepdream", "activation_maximisation")


def build_reverse_task(config: ml_collections.ConfigDict) -> Task:
    """The task of `config.method`."""
    if config.method in ("style_transfer", "texture"):
        return StyleTask(config)
    if config.method == "deepdream":
        return DreamTask(config)
    if config.method == "activation_maximisation":
        return VisualisationTask(config)
    raise UserError(f"unknown method {config.method!r}; choose one of {', '.join(METHODS)}")
