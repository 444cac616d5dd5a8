"""A sha256 over parameter arrays in a canonical order: the identity of a trained model."""

import hashlib

import jax
import numpy as np


def params_fingerprint(params) -> str:
    """sha256 (hex) over (path, dtype, shape, bytes) of every leaf, sorted by key path."""
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    digest = hashlib.sha256()
    for path, leaf in sorted(leaves, key=lambda item: jax.tree_util.keystr(item[0])):
        array = np.ascontiguousarray(np.asarray(jax.device_get(leaf)))
        digest.update(jax.tree_util.keystr(path).encode())
        digest.update(str(array.dtype).encode())
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
