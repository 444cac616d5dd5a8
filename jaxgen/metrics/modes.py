"""Mode-collapse statistics on 2-D Gaussian mixtures (the VEEGAN / PacGAN protocol).

The target is a mixture of M equally weighted isotropic Gaussians with centres c_1..c_M and a
common standard deviation `std` (the 2D-ring and 2D-grid benchmarks). For generated samples x_n:

- each sample is assigned to its nearest centre j(n) = argmin_j ||x_n - c_j|| (Euclidean);
- it is *high quality* if ||x_n - c_j(n)|| < threshold * std, with threshold = 3 ("within three
  standard deviations of the nearest mode", Srivastava et al. 2017, VEEGAN; strict `<` as in
  the PacGAN authors' evaluation code);
- a mode is *covered* ("captured") if at least one high-quality sample is assigned to it. Lin et
  al. 2018 (PacGAN) take this count from VEEGAN unchanged: a single sample suffices, there is no
  larger minimum count per mode;
- the *high-quality fraction* is the share of all samples that are high quality;
- PacGAN adds the *reverse KL*: KL(p_hat || uniform) in nats, where p_hat is the histogram over
  the M modes of the high-quality samples only (low-quality ones are dropped, not counted
  against a mode). It is 0 for perfectly balanced coverage and log(M / m) for samples spread
  evenly over m of the M modes.

One number that needs both coverage and quality, used by jaxgen to rank checkpoints:
- *mode_overlap* = sum_j min(n_j / N, 1 / M) = 1 - TV(q, p), the total-variation distance
  between the generated distribution over M + 1 bins (the M modes' high-quality counts n_j and
  one bin for every low-quality sample) and the true one (uniform over the modes, nothing
  off-mode). It is 1 for a perfect generator, 1/M for one collapsed onto a single mode, 0 with
  no high-quality sample.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import rel_entr


def mode_statistics(
    samples_Nx2: np.ndarray, centers_Mx2: np.ndarray, std: float, threshold: float = 3.0
) -> dict[str, int | float | list[int]]:
    """Mode coverage of `samples` on the mixture with `centers` and per-mode `std`.

    Returns modes_covered (modes with >= 1 high-quality sample), high_quality_fraction,
    mode_kl (KL(p_hat || uniform), nats), mode_overlap (1 - total variation), mode_counts
    (high-quality samples per mode, in the order of `centers`) and num_samples.

    With no high-quality sample p_hat is undefined; mode_kl is then log(M), the largest value
    KL(p || uniform) takes (all mass on one mode), so a generator with no sample near any mode
    never scores better on it than one collapsed onto a single mode, and the value stays finite
    for averaging over runs.
    """
    x = np.asarray(samples_Nx2, np.float64)
    c = np.asarray(centers_Mx2, np.float64)
    num_modes = len(c)
    dist_NxM = np.linalg.norm(x[:, None, :] - c[None, :, :], axis=-1)  # M is small (8 or 25)
    nearest_N = np.argmin(dist_NxM, axis=1)
    good_N = dist_NxM[np.arange(len(x)), nearest_N] < threshold * std
    counts_M = np.bincount(nearest_N[good_N], minlength=num_modes)
    num_good = int(counts_M.sum())
    if num_good == 0:
        mode_kl = math.log(num_modes)
    else:
        mode_kl = float(np.sum(rel_entr(counts_M / num_good, 1.0 / num_modes)))
    return {
        "modes_covered": int(np.count_nonzero(counts_M)),
        "high_quality_fraction": num_good / len(x) if len(x) else 0.0,
        "mode_kl": mode_kl,
        "mode_overlap": float(np.sum(np.minimum(counts_M / max(len(x), 1), 1.0 / num_modes))),
        "mode_counts": [int(n) for n in counts_M],
        "num_samples": int(len(x)),
    }
