"""Attributes measured on the images themselves, used as attribute labels for digits.

Images are N x H x W x C arrays of intensities (ink is bright, as in MNIST); channels are
averaged into one intensity per pixel.
"""

from __future__ import annotations

import numpy as np


def ink_mass(images_NxHxWxC: np.ndarray) -> np.ndarray:
    """Mean pixel intensity of each image, (N,), in the images' intensity units.

    A proxy for stroke thickness: at a fixed image size a thicker stroke lights more pixels.
    """
    images = np.asarray(images_NxHxWxC, np.float64)
    return images.reshape(images.shape[0], -1).mean(axis=1)


def slant(images_NxHxWxC: np.ndarray) -> np.ndarray:
    """Slant of each image from its intensity moments, (N,), in pixels across per pixel up.

    With x the column index (to the right), y the row index (down the rows) and the centred
    moments mu11 = sum I (x - x_c)(y - y_c), mu02 = sum I (y - y_c)^2 about the intensity
    centroid (x_c, y_c), slant = -mu11 / mu02: the least-squares slope of x against height,
    where height = -y grows up the image. The minus makes a stroke whose top leans to the right
    positive (an upright stroke gives 0, a left lean is negative); a shear x' = x + s (y_c - y)
    of an image changes its slant by exactly s. Images without vertical extent (blank, or one
    row of ink) get 0.
    """
    images = np.asarray(images_NxHxWxC, np.float64).mean(axis=-1)  # (N, H, W)
    _, h, w = images.shape
    y_H, x_W = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    mass = images.sum(axis=(1, 2))
    safe_mass = np.where(mass > 0, mass, 1.0)
    x_c = np.einsum("nhw,w->n", images, x_W) / safe_mass
    y_c = np.einsum("nhw,h->n", images, y_H) / safe_mass
    dx_NxW = x_W[None, :] - x_c[:, None]
    dy_NxH = y_H[None, :] - y_c[:, None]
    mu11 = np.einsum("nhw,nh,nw->n", images, dy_NxH, dx_NxW)
    mu02 = np.einsum("nhw,nh->n", images, dy_NxH**2)
    # Relative threshold: the sum of intensities scales mu02, a spread under 1e-12 px^2 is none.
    flat = mu02 <= 1e-12 * np.maximum(mass, 1e-300)
    return np.where(flat, 0.0, -mu11 / np.where(flat, 1.0, mu02))


def split_by_median(values_N: np.ndarray) -> np.ndarray:
    """Boolean (N,): True where a value is strictly above the median of values_N.

    Values equal to the median go to the False group, so with many ties the groups are
    unbalanced (attribute_vector still needs both groups non-empty).
    """
    values_N = np.asarray(values_N)
    return values_N > np.median(values_N)
