"""Latent-space tools for the VAE family: grids, interpolations, traversals, attribute vectors.

Plain NumPy on codes; no model inside. The caller encodes images to codes and decodes the codes
returned here. Codes keep the floating dtype they come in (at least float32), so that what is
handed to a jitted decoder is float32 when the encoder's codes were.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.stats


def _codes(x: np.ndarray) -> np.ndarray:
    """`x` as a floating array, float32 unless it already has a wider floating dtype."""
    x = np.asarray(x)
    return x.astype(np.result_type(x.dtype, np.float32), copy=False)


def normal_quantile_grid(n: int, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """An n x n grid of 2-D codes over N(0, I), shape (n*n, 2), float32.

    Each coordinate takes the n values `norm.ppf(linspace(low, high, n))`: evenly spaced in
    probability rather than in z, so every cell covers the same prior mass and the grid does not
    waste rows on the unlikely tails (p in (0, 1) only; ppf(0) is -inf).

    Order: row-major, code k = r * n + c holds (q[c], q[n - 1 - r]) for the increasing quantiles
    q. The first coordinate increases along a row (an x axis) and the second decreases down the
    rows (a y axis), so `tile(decode(grid), columns=n)` reads as a plot of the latent plane.
    """
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"need 0 < low < high < 1 for normal quantiles; got {low=}, {high=}")
    q = scipy.stats.norm.ppf(np.linspace(low, high, n))
    x, y = np.meshgrid(q, q[::-1])  # each (n, n), indexed [row, column]
    return np.stack([x.ravel(), y.ravel()], axis=1).astype(np.float32)


def lerp(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """`steps` codes evenly spaced on the segment from z0 to z1 (both included), (steps, Z)."""
    z0, z1 = _codes(z0), _codes(z1)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    out = (1.0 - t) * z0 + t * z1
    # Pin the endpoints: (1 - t) * z0 + t * z1 need not round back to z1 at t = 1.
    out[0], out[-1] = z0, z1
    return out.astype(np.result_type(z0, z1), copy=False)


def slerp(z0: np.ndarray, z1: np.ndarray, steps: int, eps: float = 1e-6) -> np.ndarray:
    """`steps` codes along the spherical interpolation from z0 to z1 (both included), (steps, Z).

    With w the angle between z0 and z1 (radians), point t in [0, 1] is
    (sin((1 - t) w) z0 + sin(t w) z1) / sin(w): consecutive points are w / (steps - 1) apart
    in angle, and the norm stays |z0| when |z0| = |z1|. Under a Gaussian prior the codes lie
    near a sphere, which a straight line cuts through; this path stays near it.

    When sin(w) < eps the great circle is not defined by the two vectors (they are parallel,
    antiparallel or one is zero) and the result is `lerp(z0, z1, steps)`.
    """
    z0, z1 = _codes(z0), _codes(z1)
    a, b = z0.astype(np.float64), z1.astype(np.float64)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms == 0.0:
        return lerp(z0, z1, steps)
    omega = np.arccos(np.clip(np.dot(a, b) / norms, -1.0, 1.0))
    if np.sin(omega) < eps:
        return lerp(z0, z1, steps)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    out = (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    out = out.astype(np.result_type(z0, z1))
    out[0], out[-1] = z0, z1
    return out


def traversal_codes(
    z_Z: np.ndarray, units: Sequence[int], values: np.ndarray, relative: bool = False
) -> np.ndarray:
    """Codes that vary one unit at a time around z_Z, shape (len(units), len(values), Z).

    Entry [i, j] is z_Z with unit `units[i]` set to `values[j]` (or, with `relative`, to
    z_Z[units[i]] + values[j]); all other units keep their value in z_Z. Absolute values suit a
    N(0, I) prior, e.g. values = linspace(-3, 3, 9) in prior standard deviations.
    """
    z_Z, values = _codes(z_Z), np.asarray(values)
    out = np.repeat(np.repeat(z_Z[None, None, :], len(units), axis=0), len(values), axis=1)
    for i, unit in enumerate(units):
        out[i, :, unit] = values + z_Z[unit] if relative else values
    return out


def attribute_vector(codes_NxZ: np.ndarray, has_attribute_N: np.ndarray) -> np.ndarray:
    """Mean code of the examples with the attribute minus mean code of those without, (Z,)."""
    codes_NxZ = _codes(codes_NxZ)
    has = np.asarray(has_attribute_N, bool)
    if has.shape != codes_NxZ.shape[:1]:
        raise ValueError(
            f"has_attribute_N has shape {has.shape}; expected ({codes_NxZ.shape[0]},), "
            "one flag per code"
        )
    n_with, n_without = int(has.sum()), int((~has).sum())
    if n_with == 0 or n_without == 0:
        raise ValueError(
            "attribute_vector needs examples both with and without the attribute; got "
            f"{n_with} with and {n_without} without"
        )
    return codes_NxZ[has].mean(axis=0) - codes_NxZ[~has].mean(axis=0)


def apply_attribute(codes_NxZ: np.ndarray, vector_Z: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Codes moved along an attribute vector: [n, k] = codes[n] + scales[k] * vector, (N, K, Z)."""
    codes_NxZ, vector_Z = _codes(codes_NxZ), _codes(vector_Z)
    scales_K = np.asarray(scales, vector_Z.dtype)
    out = codes_NxZ[:, None, :] + scales_K[None, :, None] * vector_Z[None, None, :]
    return out.astype(np.result_type(codes_NxZ, vector_Z), copy=False)


def top_units_by_kl(kl_per_unit_Z: np.ndarray, count: int) -> np.ndarray:
    """Indices of the min(count, Z) units with the largest KL to the prior, largest first.

    Takes the KL (nats) per latent unit, shape (Z,), or per example and unit, shape (N, Z),
    which is averaged over examples. Units with near-zero KL are inactive (the posterior is the
    prior, the decoder ignores them), so traversing them shows nothing. Ties keep index order.
    """
    kl = np.asarray(kl_per_unit_Z, np.float64)
    kl_Z = kl.reshape(-1, kl.shape[-1]).mean(axis=0)
    if count < 0:
        raise ValueError(f"count must be >= 0; got {count}")
    return np.argsort(-kl_Z, kind="stable")[:count]
