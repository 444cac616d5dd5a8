"""The image pool against its specification (CycleGAN's util/image_pool.py), draw for draw."""

from __future__ import annotations

import jax
import numpy as np

from jaxgen.families.image_translation.image_pool import ImagePool, query


def reference_query(pool: list, size: int, images, draws):
    """util/image_pool.py's query, in NumPy, with the uniform and index draws given."""
    out = []
    for image, (u, index) in zip(images, draws, strict=True):
        if len(pool) < size:
            pool.append(image)
            out.append(image)
        elif u > 0.5:
            out.append(pool[index].copy())
            pool[index] = image
        else:
            out.append(image)
    return out


def draws_of(key, n, size):
    """The (uniform, index) draws query makes from `key` for n images."""
    result = []
    for image_key in jax.random.split(key, n):
        swap_key, index_key = jax.random.split(image_key)
        result.append(
            (float(jax.random.uniform(swap_key)), int(jax.random.randint(index_key, (), 0, size)))
        )
    return result


def test_the_pool_follows_the_reference_draw_for_draw():
    size, shape = 5, (2, 2, 1)
    rng = np.random.default_rng(0)
    pool = ImagePool.empty(size, shape)
    reference: list = []
    seen_from_pool = 0
    for step in range(12):  # fills after 5 images, then swaps
        batch = rng.normal(size=(3, *shape)).astype(np.float32)
        key = jax.random.key(step)
        pool, out = query(pool, batch, key)
        expected = reference_query(reference, size, list(batch), draws_of(key, 3, size))
        np.testing.assert_array_equal(np.asarray(out), np.stack(expected))
        np.testing.assert_array_equal(
            np.asarray(pool.images[: len(reference)]), np.stack(reference)
        )
        seen_from_pool += sum(not any((o == b).all() for b in batch) for o in np.asarray(out))
    assert int(pool.count) == size
    assert seen_from_pool > 0  # old images do reach the discriminator


def test_a_full_pool_returns_an_old_image_half_of_the_time():
    size, shape = 50, (1, 1, 1)
    pool = ImagePool.empty(size, shape)
    pool, _ = query(pool, -np.ones((size, *shape), np.float32), jax.random.key(0))  # fill it
    fresh = np.arange(1, 4001, dtype=np.float32).reshape(4000, 1, 1, 1)  # all distinct
    _, out = query(pool, fresh, jax.random.key(1))
    from_pool = np.mean(np.asarray(out) != fresh)  # not the image just passed in
    assert abs(from_pool - 0.5) < 0.04  # 4000 Bernoulli(1/2) draws: std 0.008


def test_a_zero_size_pool_passes_images_through():
    pool = ImagePool.empty(0, (2, 2, 1))
    batch = np.arange(8, dtype=np.float32).reshape(2, 2, 2, 1)
    new_pool, out = query(pool, batch, jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(out), batch)
    assert int(new_pool.count) == 0
