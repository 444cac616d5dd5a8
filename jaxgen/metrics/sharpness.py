"""Image sharpness: the mean squared Laplacian, the blur measure of VAE-GAN comparisons (a
blurry sample has little high-frequency energy, so a small Laplacian)."""

from __future__ import annotations

import numpy as np
import scipy.ndimage


def mean_squared_laplacian(images_NxHxWxC: np.ndarray) -> float:
    """The mean over images, channels and pixels of the squared 5-point Laplacian
    (scipy.ndimage.laplace, per image and channel, borders reflected)."""
    images = np.asarray(images_NxHxWxC, np.float64)
    if images.ndim != 4:
        raise ValueError(f"need N x H x W x C images, got shape {images.shape}")
    total = 0.0
    for image in images:
        for c in range(images.shape[-1]):
            total += float(np.sum(np.square(scipy.ndimage.laplace(image[..., c]))))
    return total / images.size
