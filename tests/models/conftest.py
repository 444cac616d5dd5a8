"""Shared helpers for the model tests."""

from __future__ import annotations

import jax


def randomize_params(params, key, scale=0.5):
    """Every parameter random (biases and peepholes start at zero, which would hide errors)."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    new = [scale * jax.random.normal(k, a.shape) for k, a in zip(keys, leaves, strict=True)]
    return jax.tree.unflatten(treedef, new)
