"""Image grids as arrays (NumPy only: the TensorBoard writer uses them without matplotlib)."""

from __future__ import annotations

import numpy as np


def tile(images_NxHxWxC: np.ndarray, columns: int) -> np.ndarray:
    """Tiles images into one (rows*H, columns*W) or (..., C) array with 1-pixel gaps."""
    images = np.clip(np.asarray(images_NxHxWxC, np.float32), 0.0, 1.0)
    n, h, w, c = images.shape
    rows = -(-n // columns)
    canvas = np.ones((rows * (h + 1) - 1, columns * (w + 1) - 1, c), np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        canvas[r * (h + 1) : r * (h + 1) + h, col * (w + 1) : col * (w + 1) + w] = image
    return canvas[..., 0] if c == 1 else canvas
