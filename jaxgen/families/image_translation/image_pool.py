"""CycleGAN's history of generated images (Shrivastava et al. 2017; util/image_pool.py of
junyanz/pytorch-CycleGAN-and-pix2pix), as a pure function of a pool held in the train state.

The discriminators see a mix of the newest fakes and older ones, which damps oscillation. For
each image of a batch, in order:
  - while the pool holds fewer than `size` images, the image is stored and returned;
  - then, with probability 1/2, a uniformly chosen stored image is returned and the new image
    takes its place; otherwise the new image itself is returned.
Every draw comes from the step's key, so the pool, and resume after SIGKILL, are exact.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class ImagePool:
    images: jax.Array  # (size, H, W, C); rows >= count are unused
    count: jax.Array  # int32: how many rows are filled

    @classmethod
    def empty(cls, size: int, image_shape) -> ImagePool:
        return cls(jnp.zeros((size, *image_shape), jnp.float32), jnp.zeros((), jnp.int32))

    @property
    def size(self) -> int:
        return self.images.shape[0]


def query(pool: ImagePool, batch: jax.Array, key: jax.Array) -> tuple[ImagePool, jax.Array]:
    """(the updated pool, the images the discriminator sees) for a batch of new fakes."""
    if pool.size == 0:  # pool_size 0: no history, as the reference
        return pool, batch

    def one(carry, inputs):
        images, count = carry
        image, image_key = inputs
        swap_key, index_key = jax.random.split(image_key)
        filling = count < pool.size
        swap = jax.random.uniform(swap_key) > 0.5
        index = jax.random.randint(index_key, (), 0, pool.size)
        stored = images[index]
        # Filling: store at `count`, return the image. Full: swap (return the stored image,
        # store the new one at `index`) or return the new image and keep the pool.
        slot = jnp.where(filling, count, index)
        write = filling | swap
        images = images.at[slot].set(jnp.where(write, image, images[slot]))
        out = jnp.where(~filling & swap, stored, image)
        return (images, count + filling.astype(jnp.int32)), out

    keys = jax.random.split(key, batch.shape[0])
    (images, count), out = jax.lax.scan(one, (pool.images, pool.count), (batch, keys))
    return ImagePool(images, count), out
