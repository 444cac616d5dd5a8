"""jaxgen.nn.lstm against its reference, Flax's `nn.RNN(nn.LSTMCell)` differentiated by JAX:
the same parameter tree, the same forward numbers (to the bit), the same gradients with respect
to the parameters, the initial carry and the inputs (to float rounding), under jit and vmap;
and the character LM built on it."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn.cells import recurrent_layer
from jaxgen.nn.lstm import LSTMLayer


def setup_case(batch: int, steps: int, inputs: int, hidden: int, seed: int = 0):
    """Random inputs, a random nonzero initial carry, and random parameters of both layers
    (every weight, biases included, drawn: zeros would hide a gate in the wrong place)."""
    keys = jax.random.split(jax.random.key(seed), 5)
    x = jax.random.normal(keys[0], (batch, steps, inputs))
    carry = (
        0.5 * jax.random.normal(keys[1], (batch, hidden)),
        0.5 * jax.random.normal(keys[2], (batch, hidden)),
    )
    reference = nn.RNN(nn.LSTMCell(hidden), return_carry=True)
    params = reference.init(keys[3], x, initial_carry=carry)["params"]
    leaves, tree = jax.tree.flatten(params)
    draws = jax.random.split(keys[4], len(leaves))
    params = tree.unflatten(
        [0.3 * jax.random.normal(k, leaf.shape) for k, leaf in zip(draws, leaves, strict=True)]
    )
    return reference, LSTMLayer(hidden), params, carry, x


def loss_of(layer):
    """A loss that reads every output and both final carries, each with its own weight."""

    def loss(params, carry, x):
        (c, h), outputs = layer.apply({"params": params}, x, initial_carry=carry)
        weights = jnp.linspace(-1.0, 2.0, outputs.shape[-1])
        return jnp.sum(jnp.sin(outputs) * weights) + jnp.sum(c * h) + jnp.sum(c**2)

    return loss


def relative_error(a, b) -> float:
    return float(jnp.max(jnp.abs(a - b)) / (jnp.max(jnp.abs(b)) + 1e-30))


def test_same_parameter_tree_as_flax_rnn():
    reference, layer, _, carry, x = setup_case(3, 4, 5, 6)
    key = jax.random.key(1)
    ours = layer.init(key, x, initial_carry=carry)["params"]
    theirs = reference.init(key, x, initial_carry=carry)["params"]
    assert jax.tree.structure(ours) == jax.tree.structure(theirs)
    assert jax.tree.map(jnp.shape, ours) == jax.tree.map(jnp.shape, theirs)
    # The same initialisers on the same keys: the same initial values.
    jax.tree.map(np.testing.assert_array_equal, ours, theirs)


@pytest.mark.parametrize(
    "batch,steps,inputs,hidden", [(1, 1, 1, 1), (3, 7, 5, 4), (8, 20, 16, 32), (2, 3, 40, 9)]
)
def test_forward_and_gradients_match_flax(batch, steps, inputs, hidden):
    reference, layer, params, carry, x = setup_case(batch, steps, inputs, hidden)
    ours = jax.jit(layer.apply)({"params": params}, x, initial_carry=carry)
    theirs = jax.jit(reference.apply)({"params": params}, x, initial_carry=carry)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    grads = jax.jit(jax.grad(loss_of(layer), argnums=(0, 1, 2)))(params, carry, x)
    expected = jax.jit(jax.grad(loss_of(reference), argnums=(0, 1, 2)))(params, carry, x)
    for (path, a), b in zip(
        jax.tree_util.tree_leaves_with_path(grads), jax.tree.leaves(expected), strict=True
    ):
        assert a.shape == b.shape
        assert relative_error(a, b) < 2e-6, jax.tree_util.keystr(path)


def test_gradients_under_vmap_match_flax():
    """Several models in one program (the language-model task vmaps over seeds and cells)."""
    reference, layer, params, carry, x = setup_case(4, 6, 3, 5)
    stacked = jax.tree.map(lambda p: jnp.stack([p, 1.5 * p, -p]), params)

    def grads(model):
        per_model = jax.grad(loss_of(model))
        return jax.jit(jax.vmap(per_model, in_axes=(0, None, None)))(stacked, carry, x)

    for a, b in zip(jax.tree.leaves(grads(layer)), jax.tree.leaves(grads(reference)), strict=True):
        assert relative_error(a, b) < 2e-6


def test_forward_bit_identical_to_flax_at_char_lm_width():
    """The char LM's width: the same dot products added in the same order, so the outputs and
    the loss are Flax's to the bit (what keeps a family's forward numbers unchanged)."""
    reference, layer, params, carry, x = setup_case(4, 5, 32, 256)
    ours = jax.jit(layer.apply)({"params": params}, x, initial_carry=carry)
    theirs = jax.jit(reference.apply)({"params": params}, x, initial_carry=carry)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_array_equal(a, b)


def test_step_by_step_cell_equals_the_layer():
    """`layer.cell(carry, x)` one step at a time (sampling) gives the layer's outputs."""
    _, layer, params, carry, x = setup_case(2, 5, 3, 4)
    final, outputs = layer.apply({"params": params}, x, initial_carry=carry)
    cell = nn.LSTMCell(4, parent=None)
    state = carry
    for t in range(x.shape[1]):
        state, y = cell.apply({"params": params["cell"]}, state, x[:, t])
        np.testing.assert_allclose(y, outputs[:, t], rtol=1e-6, atol=1e-7)
    for a, b in zip(state, final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_recurrent_layer_picks_the_fused_lstm_only():
    assert isinstance(recurrent_layer("lstm", 8), LSTMLayer)
    for name in ("rnn", "gru", "peephole_lstm", "coupled_lstm"):
        assert isinstance(recurrent_layer(name, 8), nn.RNN)
