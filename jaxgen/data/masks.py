"""Which pixels an image-completion task removes: boolean (H, W) masks, True where a pixel is
missing (the model must fill it in) and False where it is given.

Regions (`config.completion.missing`):

    given1       the Pyro CVAE tutorial's 1 quadrant given: only the bottom-left quadrant
                 is seen, the other three are missing
    given2       2 quadrants given: the left half is seen, the right half is missing
    given3       3 quadrants given: everything but the bottom-right quadrant is seen (one
                 quadrant missing: "a quadrant removed")
    bottom_half  the top half is seen, the bottom half is missing

These are exactly the Pyro tutorial's `num_quadrant_inputs` 1, 2, 3 (examples/cvae/mnist.py,
MaskImages). For odd sizes the split is at H // 2 and W // 2 (its convention).
"""

from __future__ import annotations

import numpy as np

REGIONS = ("given1", "given2", "given3", "bottom_half")


def missing_mask(height: int, width: int, region: str) -> np.ndarray:
    """Boolean (height, width): True where `region` removes the pixel."""
    if region not in REGIONS:
        raise ValueError(f"unknown completion region {region!r}; choose one of {REGIONS}")
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    top, left = rows < height // 2, cols < width // 2
    given = {
        "given1": ~top & left,
        "given2": left,
        "given3": top | left,
        "bottom_half": top,
    }[region]
    return ~given
