"""Likelihood of anything that has one: a family gives `log_likelihood(params, split,
num_samples) -> (log p(x) per example, ELBO per example)` in nats (the VAE's importance-sampled
estimate) and this evaluator reports it as NLL in nats per example and in bits per dimension."""

from __future__ import annotations

import math

import numpy as np

from jaxgen.metrics.likelihood import bits_per_dim


def likelihood_numbers(log_px_N: np.ndarray, image_shape: tuple[int, ...]) -> dict[str, float]:
    """{"nll_nats": -mean log p(x), "nll_bits_per_dim": the same in bits per dimension}."""
    nll = float(-np.mean(log_px_N))
    return {"nll_nats": nll, "nll_bits_per_dim": bits_per_dim(nll, math.prod(image_shape))}


def uniform_numbers(levels: int, image_shape: tuple[int, ...]) -> dict[str, float]:
    """The `likelihood_numbers` of the uniform model of discrete data with `levels` values per
    dimension, p(x) = levels^-D: the baseline of a likelihood in bits per dimension (8 for
    8-bit pixels, 1 for binary ones)."""
    num_dims = math.prod(image_shape)
    log_px = -num_dims * math.log(levels)
    return likelihood_numbers(np.array([log_px]), image_shape)


def split_likelihood(task, params, split: str, num_samples: int) -> dict[str, float]:
    """`likelihood_numbers` of the task's `split`, from `num_samples` importance samples."""
    log_px, _ = task.log_likelihood(params, split, num_samples)
    return likelihood_numbers(log_px, task.image_shape)
