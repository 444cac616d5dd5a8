"""The Bernoulli-Bernoulli restricted Boltzmann machine: binary visible units v (pixels) and
hidden units h, energy E(v, h) = -v.b - h.c - v W h, p(v, h) = exp(-E(v, h)) / Z.

The parameters are plain arrays, so that a bare Orbax restore reads them: `weights` (visible by
hidden), `visible_bias` b and `hidden_bias` c. Summing out h gives the free energy
F(v) = -v.b - sum_j softplus(c_j + (v W)_j), with p(v) = exp(-F(v)) / Z.

Training follows Hinton's practical guide (2010) and Tieleman (2008): the gradient of
mean F(data) - mean F(negatives) is the contrastive-divergence update <v h>_data - <v h>_model
with hidden probabilities for both terms, the negatives taken k block-Gibbs steps from the data
(CD-k) or from persistent chains that the state carries between steps (PCD).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

PyTree = dict


def init_params(key: jax.Array, num_visible: int, num_hidden: int, visible_rate=None) -> PyTree:
    """Weights from N(0, 0.01^2), hidden biases 0 and visible biases log(p / (1 - p)) of each
    pixel's rate `p` in the training data (Hinton's guide, section 8; 0 without rates)."""
    bias = jnp.zeros(num_visible) if visible_rate is None else logit(visible_rate)
    return {
        "weights": 0.01 * jax.random.normal(key, (num_visible, num_hidden)),
        "visible_bias": jnp.asarray(bias, jnp.float32),
        "hidden_bias": jnp.zeros(num_hidden),
    }


def logit(p) -> jax.Array:
    p = jnp.asarray(p, jnp.float32)
    return jnp.log(p) - jnp.log1p(-p)


def pixel_rates(bits_NxV: np.ndarray, smoothing: float = 0.05) -> np.ndarray:
    """Each pixel's frequency of 1 in binary data, smoothed towards 1/2 by `smoothing` * N
    pseudo-counts (half each way), so that no rate is 0 or 1: the ML fit of the base-rate model
    (a factorised Bernoulli) that AIS starts from, and the visible biases' starting point."""
    n = len(bits_NxV)
    pseudo = smoothing * n / 2
    return (np.asarray(bits_NxV, np.float64).sum(0) + pseudo) / (n + 2 * pseudo)


def hidden_logits(params: PyTree, v: jax.Array) -> jax.Array:
    return v @ params["weights"] + params["hidden_bias"]


def visible_logits(params: PyTree, h: jax.Array) -> jax.Array:
    return h @ params["weights"].T + params["visible_bias"]


def free_energy(params: PyTree, v: jax.Array) -> jax.Array:
    """F(v) of each row of v, in nats: -log sum_h exp(-E(v, h))."""
    return -(v @ params["visible_bias"]) - jnp.sum(
        jax.nn.softplus(hidden_logits(params, v)), axis=-1
    )


def sample_hidden(params: PyTree, v: jax.Array, key: jax.Array) -> jax.Array:
    return jax.random.bernoulli(key, jax.nn.sigmoid(hidden_logits(params, v))).astype(v.dtype)


def sample_visible(params: PyTree, h: jax.Array, key: jax.Array) -> jax.Array:
    return jax.random.bernoulli(key, jax.nn.sigmoid(visible_logits(params, h))).astype(h.dtype)


def gibbs(params: PyTree, v: jax.Array, key: jax.Array, steps, visible_sampler=None) -> jax.Array:
    """`steps` rounds of block Gibbs sampling v -> h -> v from `v` (round i draws from
    `fold_in(key, i)`; `steps` may be traced); the last visible sample. `visible_sampler`
    replaces `sample_visible` where the visible layer holds more than independent bits (a DBN's
    top RBM with its softmax label units)."""
    sampler = sample_visible if visible_sampler is None else visible_sampler

    def one(i, v):
        key_h, key_v = jax.random.split(jax.random.fold_in(key, i))
        return sampler(params, sample_hidden(params, v, key_h), key_v)

    return jax.lax.fori_loop(0, steps, one, v)


def mean_reconstruction(params: PyTree, v: jax.Array) -> jax.Array:
    """p(v' = 1 | h = p(h | v)): the one-step mean-field reconstruction."""
    return jax.nn.sigmoid(visible_logits(params, jax.nn.sigmoid(hidden_logits(params, v))))


def reconstruction_error(params: PyTree, v: jax.Array, units: int | None = None) -> jax.Array:
    """Mean squared error of the mean-field reconstruction, per pixel (the number every RBM
    code prints; Hinton's guide warns it is a poor measure of learning, so it only watches);
    over the first `units` visible units only when given (not a DBN's label units)."""
    return jnp.mean(((v - mean_reconstruction(params, v)) ** 2)[..., :units])


def contrastive_divergence(params: PyTree, data: jax.Array, negatives: jax.Array) -> jax.Array:
    """mean F(data) - mean F(negatives): the surrogate whose gradient in the parameters is minus
    the CD update, the negatives held fixed (no gradient through the sampling)."""
    negatives = jax.lax.stop_gradient(negatives)
    return jnp.mean(free_energy(params, data)) - jnp.mean(free_energy(params, negatives))


def filter_images(weights_VxH, n: int, image_shape) -> np.ndarray:
    """The first `n` hidden units' weights as images of `image_shape`, each scaled to [0, 1]."""
    w = np.asarray(weights_VxH[:, :n]).T
    low, high = w.min(1, keepdims=True), w.max(1, keepdims=True)
    return ((w - low) / np.maximum(high - low, 1e-12)).reshape(len(w), *image_shape)
