"""2-D Gaussian mixtures for the GAN mode-collapse experiments, drawn from JAX keys.

  ring: `num_modes` equal-weight modes evenly spaced on a circle of radius `radius`;
  grid: a `side` x `side` grid of modes `spacing` apart, centred on the origin (5 x 5, spacing 2:
        modes at -4, -2, 0, 2, 4 on each axis),
each an isotropic Gaussian of standard deviation `std` (the 2-D benchmarks of VEEGAN and PacGAN).

Batch b of a run's endless stream is drawn from `fold_in(key(seed), b)`: a random-access grain
dataset, so resuming replays exactly the same points.
"""

from __future__ import annotations

import functools

import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

MIXTURES = ("ring", "grid")


def mixture_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.mixture` block with every key `mode_centers` reads."""
    block = ml_collections.ConfigDict(
        {"num_modes": 8, "radius": 2.0, "side": 5, "spacing": 2.0, "std": 0.02}
    )
    block.update(overrides)
    return block


def mode_centers(kind: str, mixture: ml_collections.ConfigDict) -> np.ndarray:
    """The (M, 2) mode centres of the mixture `kind` ("ring" or "grid")."""
    if kind == "ring":
        angles = 2 * np.pi * np.arange(mixture.num_modes) / mixture.num_modes
        return mixture.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if kind == "grid":
        axis = (np.arange(mixture.side) - (mixture.side - 1) / 2) * mixture.spacing
        xs, ys = np.meshgrid(axis, axis, indexing="ij")
        return np.stack([xs.ravel(), ys.ravel()], axis=1)
    raise ValueError(f"unknown mixture {kind!r}; choose one of {MIXTURES}")


@functools.partial(jax.jit, static_argnames="n")
def sample_mixture(key: jax.Array, centers: jax.Array, std: float, n: int) -> dict:
    """n points {"x": (n, 2) float32, "label": (n,) the mode each came from}."""
    mode_key, noise_key = jax.random.split(key)
    label = jax.random.randint(mode_key, (n,), 0, centers.shape[0])
    x = centers[label] + std * jax.random.normal(noise_key, (n, 2))
    return {"x": x.astype(jnp.float32), "label": label.astype(jnp.int32)}


def mixture_dataset(centers: np.ndarray, std: float, global_batch_size: int, seed: int):
    """Endless batches: global batch b of `global_batch_size` points is drawn from
    fold_in(key(seed), b), and each JAX process takes its equal slice of it (so a run is the
    same on any number of hosts)."""
    key = jax.random.key(seed)
    centers = jnp.asarray(centers, jnp.float32)
    index, count = jax.process_index(), jax.process_count()
    if global_batch_size % count:
        raise ValueError(f"batch_size {global_batch_size} is not divisible by {count} processes")
    share = global_batch_size // count

    def batch(b: int) -> dict[str, np.ndarray]:
        points = sample_mixture(jax.random.fold_in(key, b), centers, std, global_batch_size)
        return {k: np.asarray(v[index * share : (index + 1) * share]) for k, v in points.items()}

    return grain.MapDataset.range(np.iinfo(np.int32).max).map(batch)
