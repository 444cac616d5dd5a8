"""Helpers shared by all model families (not specific to one of them)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def count_params(params: Any) -> int:
    """Total number of scalars in a pytree of arrays (or of `jax.ShapeDtypeStruct`s)."""
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(params))
