"""Evaluation in chunks: one jitted function applied over a whole split, EVAL_BATCH examples
at a time, so that evaluation memory does not grow with the split."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

EVAL_BATCH = 500  # examples per jitted evaluation call
EVAL_SPLITS = ("validation", "test")  # the splits a task evaluates (train is for training)


def batched(fn, params, *arrays: np.ndarray, axis: int = 0, chunk: int = EVAL_BATCH):
    """Applies fn(params, *chunks) over the leading axis of `arrays` in chunks of `chunk`;
    returns fn's output (an array or a pytree of arrays) for all of them, in NumPy, joined along
    `axis` of the outputs. An array may be a streamed split's `Pixels`: only one chunk of it is
    decoded at a time."""
    parts = [
        fn(params, *(jnp.asarray(a[i : i + chunk]) for a in arrays))
        for i in range(0, len(arrays[0]), chunk)
    ]
    return jax.tree.map(lambda *xs: np.concatenate([np.asarray(x) for x in xs], axis=axis), *parts)


def drawn(draw, n: int, key_seed: int) -> np.ndarray:
    """n draws in chunks of EVAL_BATCH: `draw(key, start, count)` gives examples
    [start, start + count) from the key fold_in(key(key_seed), start), so the draws are the same
    for every n that covers them."""
    key = jax.random.key(key_seed)
    parts = [
        np.asarray(draw(jax.random.fold_in(key, start), start, min(EVAL_BATCH, n - start)))
        for start in range(0, n, EVAL_BATCH)
    ]
    return np.concatenate(parts)
