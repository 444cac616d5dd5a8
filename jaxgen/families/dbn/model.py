"""The deep belief network of Hinton, Osindero & Teh (2006): a stack of RBMs
(families/rbm/model.py) trained greedily, one layer at a time, each on the hidden probabilities
that the layers below give the data; the top RBM's visible layer joins the last hidden layer to
one softmax group of label units, so the top RBM models (features, class) jointly.

The parameters are {"rbm1": ..., "rbmL": ...}, each an RBM's plain arrays (`weights` visible by
hidden, `visible_bias`, `hidden_bias`); rbmL's visible layer is hidden layer L-1 followed by the
K label units. As a generative model the DBN is the top RBM (an undirected associative memory)
above a directed sigmoid belief net whose weights are the lower RBMs' (generation: Gibbs
sampling in the top RBM, free or with the label clamped, then one down pass). As a classifier it
is the up pass (each layer's hidden probabilities) then the top RBM's free energy of each label:
p(y | h) is proportional to exp(-F([h, e_y])), exactly.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxgen.families.rbm import model as rbm

PyTree = dict


def layer_name(index: int) -> str:
    """The params key of layer `index` (0-based): rbm1 is the lowest."""
    return f"rbm{index + 1}"


def layer_sizes(num_visible: int, num_hidden, num_labels: int) -> list[tuple[int, int]]:
    """(visible, hidden) units of every RBM of the stack, bottom to top; the top RBM's visible
    layer holds the hidden layer below it and the labels."""
    visible = [num_visible, *num_hidden[:-1]]
    visible[-1] += num_labels
    return list(zip(visible, num_hidden, strict=True))


def init_params(
    key: jax.Array, num_visible: int, num_hidden, num_labels: int, visible_rate=None
) -> PyTree:
    """Every layer initialised as an RBM (rbm.init_params); only the lowest one's visible
    biases start at the data's pixel rates (those of the layers above are hidden activities,
    not known before the layer below is trained)."""
    keys = jax.random.split(key, len(num_hidden))
    sizes = layer_sizes(num_visible, num_hidden, num_labels)
    return {
        layer_name(i): rbm.init_params(k, v, h, visible_rate if i == 0 else None)
        for i, (k, (v, h)) in enumerate(zip(keys, sizes, strict=True))
    }


def random_init(key: jax.Array, like: PyTree) -> PyTree:
    """The same network, initialised as a sigmoid MLP is without pretraining: weights uniform
    with variance 16 / (fan_in + fan_out) (Glorot & Bengio 2010's scale for sigmoid units, as
    the Theano deep-learning tutorial's MLP), biases 0."""
    init = jax.nn.initializers.variance_scaling(16.0, "fan_avg", "uniform")
    keys = jax.random.split(key, len(like))
    return {
        name: {
            "weights": init(k, layer["weights"].shape),
            "visible_bias": jnp.zeros_like(layer["visible_bias"]),
            "hidden_bias": jnp.zeros_like(layer["hidden_bias"]),
        }
        for k, (name, layer) in zip(keys, sorted(like.items()), strict=True)
    }


def up(params: PyTree, v: jax.Array, layers: int) -> jax.Array:
    """The hidden probabilities of layer `layers` given `v`, through the first `layers` layers
    (each layer's probabilities are the next one's input: the greedy recipe's data)."""
    x = v
    for i in range(layers):
        x = jax.nn.sigmoid(rbm.hidden_logits(params[layer_name(i)], x))
    return x


def with_labels(x: jax.Array, labels: jax.Array, num_labels: int) -> jax.Array:
    """The top RBM's visible vector: features then the labels one-hot."""
    return jnp.concatenate([x, jax.nn.one_hot(labels, num_labels, dtype=x.dtype)], axis=-1)


def sample_labelled_visible(
    params: PyTree, h: jax.Array, key: jax.Array, num_labels: int, clamped=None
) -> jax.Array:
    """The top RBM's visible layer given h: independent bits for the features, one draw from the
    softmax of the last `num_labels` units for the label (or the `clamped` one-hot labels)."""
    logits = rbm.visible_logits(params, h)
    key_bits, key_label = jax.random.split(key)
    bits = jax.random.bernoulli(key_bits, jax.nn.sigmoid(logits[..., :-num_labels]))
    if clamped is None:
        drawn = jax.random.categorical(key_label, logits[..., -num_labels:])
        clamped = jax.nn.one_hot(drawn, num_labels, dtype=h.dtype)
    return jnp.concatenate([bits.astype(h.dtype), clamped], axis=-1)


def label_logits(top: PyTree, x: jax.Array, num_labels: int) -> jax.Array:
    """-F([x, e_y]) for every label y, up to a constant in y: the log of p(y | x) in the top RBM
    before normalisation, with its hidden units summed out."""
    w = top["weights"]
    shared = x @ w[:-num_labels] + top["hidden_bias"]  # B x H
    per_label = jax.nn.softplus(shared[:, None, :] + w[-num_labels:][None])  # B x K x H
    return top["visible_bias"][-num_labels:] + jnp.sum(per_label, axis=-1)


def class_logits(params: PyTree, v: jax.Array, num_labels: int) -> jax.Array:
    """The DBN as a classifier: the up pass, then the top RBM's `label_logits`."""
    top = len(params) - 1
    return label_logits(params[layer_name(top)], up(params, v, top), num_labels)


def down(params: PyTree, x: jax.Array, key: jax.Array) -> jax.Array:
    """One down pass from the top RBM's feature units `x` (hidden layer L-1): each lower layer's
    units drawn from p(below | above) with that RBM's weights; the pixels' probabilities
    p(v = 1 | h1) at the bottom."""
    for i in reversed(range(1, len(params) - 1)):
        probabilities = jax.nn.sigmoid(rbm.visible_logits(params[layer_name(i)], x))
        x = jax.random.bernoulli(jax.random.fold_in(key, i), probabilities).astype(x.dtype)
    return jax.nn.sigmoid(rbm.visible_logits(params[layer_name(0)], x))


@functools.partial(jax.jit, static_argnames="num_labels")
def generate(params: PyTree, key: jax.Array, steps, labels: jax.Array, num_labels: int, free):
    """Images, one per entry of `labels`: `steps` rounds of Gibbs sampling in the top RBM from
    random features with the label clamped to `labels`, or drawn with the rest when `free` is
    true (a traced flag: one compilation serves both), then one down pass."""
    top = params[layer_name(len(params) - 1)]
    key_start, key_gibbs, key_down = jax.random.split(key, 3)
    n, features = labels.shape[0], top["weights"].shape[0] - num_labels
    bits = jax.random.bernoulli(key_start, 0.5, (n, features)).astype(jnp.float32)
    clamped = jax.nn.one_hot(labels, num_labels)

    def sampler(params, h, key):
        v = sample_labelled_visible(params, h, key, num_labels)
        return jnp.where(free, v, v.at[:, features:].set(clamped))

    v = jnp.concatenate([bits, clamped], axis=-1)
    v = rbm.gibbs(top, v, key_gibbs, steps, visible_sampler=sampler)
    return down(params, v[:, :features], key_down)


def log_bernoulli(v: jax.Array, logits: jax.Array) -> jax.Array:
    """log p(v) of bits v under independent Bernoullis with these logits, summed over units."""
    return jnp.sum(v * logits - jax.nn.softplus(logits), axis=-1)


def bernoulli_entropy(logits: jax.Array) -> jax.Array:
    """The entropy of independent Bernoullis with these logits, summed over units, in nats."""
    p = jax.nn.sigmoid(logits)
    return jnp.sum(jax.nn.softplus(logits) - p * logits, axis=-1)


def variational_bound_terms(rbm1: PyTree, rbm2: PyTree, v: jax.Array, keys, samples: int):
    """The two-layer DBN's variational lower bound on log p(v) (Hinton et al. 2006; estimated as
    Salakhutdinov & Murray 2008 do), all but the top RBM's log Z, for each row of v:

        log p(v) >= E_Q[log p(v | h1) - F2(h1)] + H(Q) - log Z2,

    Q(h1 | v) the first RBM's factorised posterior, p(v | h1) its generative conditional, F2 the
    second RBM's free energy (its unnormalised marginal over h1 is the DBN's prior on h1). The
    expectation is a mean over `samples` draws of h1 from Q with each row's own key (unbiased)."""

    def one(v, key):
        logits = rbm.hidden_logits(rbm1, v)
        shape = (samples, logits.shape[-1])
        h1 = jax.random.bernoulli(key, jax.nn.sigmoid(logits), shape).astype(v.dtype)
        terms = log_bernoulli(v, rbm.visible_logits(rbm1, h1)) - rbm.free_energy(rbm2, h1)
        return jnp.mean(terms) + bernoulli_entropy(logits)

    return jax.vmap(one)(v, keys)
