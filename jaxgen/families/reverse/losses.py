"""The losses of style transfer and texture synthesis, as the TensorFlow style-transfer tutorial
defines them (Gatys, Ecker & Bethge 2016), unweighted:

- a layer's Gram matrix is einsum('bijc,bijd->bcd', F, F) divided by the number of positions
  (i, j), so it is the mean outer product of the feature vectors and does not grow with the
  image's size;
- the style loss is the mean over style layers of the mean squared difference of Gram matrices;
- the content loss is the mean over content layers of the mean squared difference of features.

The experiments weight them (`style_weight`, `content_weight`, `tv_weight`); every number a
report gives is of these unweighted definitions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp


def gram(features_NxHxWxC: jax.Array) -> jax.Array:
    """N x C x C: each image's mean outer product of its feature vectors over positions."""
    _, height, width, _ = features_NxHxWxC.shape
    return _sum_of_outer_products(features_NxHxWxC) / (height * width)


@jax.custom_vjp
def _sum_of_outer_products(features_NxHxWxC: jax.Array) -> jax.Array:
    """N x C x C: sum over positions of F F^T, with a VJP of one matrix product.

    Autodiff of the product of F with itself makes two products, F dG and F dG^T, each written
    out as C x (H W) and transposed back (on the CPU, a third of texture synthesis's step); the
    VJP F (dG + dG^T) is the same gradient in one product, written in F's own layout. Only the
    summation order changes, so the gradient moves by float rounding (tests/families/
    test_reverse.py checks it against autodiff and NumPy)."""
    return jnp.einsum("bijc,bijd->bcd", features_NxHxWxC, features_NxHxWxC)


def _outer_products_fwd(features):
    return _sum_of_outer_products(features), features


def _outer_products_bwd(features, cotangent_NxCxC):
    symmetric = cotangent_NxCxC + jnp.swapaxes(cotangent_NxCxC, 1, 2)
    return (jnp.einsum("bijc,bcd->bijd", features, symmetric),)


_sum_of_outer_products.defvjp(_outer_products_fwd, _outer_products_bwd)


def grams(features: Mapping[str, jax.Array], layers: Sequence[str]) -> dict[str, jax.Array]:
    """{layer: gram(features[layer])} of the style layers."""
    return {name: gram(features[name]) for name in layers}


def style_loss(
    features: Mapping[str, jax.Array], target_grams: Mapping[str, jax.Array]
) -> jax.Array:
    """N: the mean over the target's layers of the mean squared difference between each image's
    Gram matrix and the target's (a target of batch 1 is broadcast over the images)."""
    per_layer = [
        jnp.mean((gram(features[name]) - target) ** 2, axis=(1, 2))
        for name, target in target_grams.items()
    ]
    return jnp.mean(jnp.stack(per_layer), axis=0)


def content_loss(
    features: Mapping[str, jax.Array], target_features: Mapping[str, jax.Array]
) -> jax.Array:
    """N: the mean over the target's layers of the mean squared difference of features."""
    per_layer = [
        jnp.mean((features[name] - target) ** 2, axis=(1, 2, 3))
        for name, target in target_features.items()
    ]
    return jnp.mean(jnp.stack(per_layer), axis=0)
