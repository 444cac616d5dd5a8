"""Reconstruction error of anything that reconstructs: a family gives
`reconstruct(params, images) -> images` (pixels in [0, 1] in and out) and this evaluator scores it
over a split, a chunk at a time (the autoencoders, the VAE, VAE-GAN, BiGAN, vae_vs_gan)."""

from __future__ import annotations

import numpy as np

from jaxgen.eval.chunked import batched

ERRORS = {"mse": np.square, "l1": np.abs}


def reconstruction_error(reconstruct, params, pixels, kind: str = "mse") -> float:
    """The mean per-pixel error (`kind`: "mse", squared; "l1", absolute) of
    `reconstruct(params, images)` against `pixels` (an array or a split's pixel view), in [0, 1]
    pixel units. Each chunk's errors are summed in float32 and the sums added in float64."""
    error = ERRORS[kind]

    def chunk_sum(p, x):
        x = np.asarray(x)
        return np.sum(error(np.asarray(reconstruct(p, x)) - x))[None]

    total = sum(float(v) for v in batched(chunk_sum, params, pixels))
    return total / (len(pixels) * int(np.prod(pixels.shape[1:])))
