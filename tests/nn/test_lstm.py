"""jaxgen.nn.lstm against its reference, Flax's `nn.RNN(nn.LSTMCell)` differentiated by JAX:
the same parameter tree, the same forward numbers (the scan's to the bit, the oneDNN library's
to float rounding), the same gradients with respect to the parameters, the initial carry and the
inputs (to float rounding), under jit and vmap, on both paths; and the character LM built on it.

The tests of the library's own path are skipped (with the reason) only when it is not built
(`make native`) or is turned off by JAXGEN_ONEDNN=0, as tests/nn/test_onednn_conv.py's are;
without it, `use_onednn=True` runs the scan and the parametrised tests check that twice."""

from __future__ import annotations

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn import onednn
from jaxgen.nn.cells import recurrent_layer
from jaxgen.nn.lstm import LSTMLayer, fused_weights, lstm_sequence
from tests.nn.test_onednn_conv import requires_onednn

TARGETS = ("jaxgen_onednn_lstm_fwd", "jaxgen_onednn_lstm_bwd")
# The library against the scan or Flax, relative to the largest magnitude (its dot products add
# in another order, its exp and tanh are glibc's vector ones): a few 1e-7 at the char LM's
# width after 100 steps, forward and gradients.
ONEDNN_RTOL = 1e-5
PATHS = pytest.mark.parametrize("use_onednn", [False, True], ids=["scan", "onednn"])


def setup_case(
    batch: int, steps: int, inputs: int, hidden: int, seed: int = 0, use_onednn: bool = True
):
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
    return reference, LSTMLayer(hidden, use_onednn=use_onednn), params, carry, x


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
@PATHS
def test_forward_and_gradients_match_flax(batch, steps, inputs, hidden, use_onednn):
    reference, layer, params, carry, x = setup_case(
        batch, steps, inputs, hidden, use_onednn=use_onednn
    )
    ours = jax.jit(layer.apply)({"params": params}, x, initial_carry=carry)
    theirs = jax.jit(reference.apply)({"params": params}, x, initial_carry=carry)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        if use_onednn:
            assert relative_error(a, b) < ONEDNN_RTOL
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    grads = jax.jit(jax.grad(loss_of(layer), argnums=(0, 1, 2)))(params, carry, x)
    expected = jax.jit(jax.grad(loss_of(reference), argnums=(0, 1, 2)))(params, carry, x)
    for (path, a), b in zip(
        jax.tree_util.tree_leaves_with_path(grads), jax.tree.leaves(expected), strict=True
    ):
        assert a.shape == b.shape
        tolerance = ONEDNN_RTOL if use_onednn else 2e-6
        assert relative_error(a, b) < tolerance, jax.tree_util.keystr(path)


@PATHS
def test_gradients_under_vmap_match_flax(use_onednn):
    """Several models in one program (the language-model task vmaps over seeds and cells)."""
    reference, layer, params, carry, x = setup_case(4, 6, 3, 5, use_onednn=use_onednn)
    stacked = jax.tree.map(lambda p: jnp.stack([p, 1.5 * p, -p]), params)

    def grads(model):
        per_model = jax.grad(loss_of(model))
        return jax.jit(jax.vmap(per_model, in_axes=(0, None, None)))(stacked, carry, x)

    for a, b in zip(jax.tree.leaves(grads(layer)), jax.tree.leaves(grads(reference)), strict=True):
        assert relative_error(a, b) < (ONEDNN_RTOL if use_onednn else 2e-6)


def test_forward_bit_identical_to_flax_at_char_lm_width():
    """The char LM's width: the scan adds the same dot products in the same order, so its
    outputs are Flax's to the bit (what keeps a family's numbers unchanged off the CPU)."""
    reference, layer, params, carry, x = setup_case(4, 5, 32, 256, use_onednn=False)
    ours = jax.jit(layer.apply)({"params": params}, x, initial_carry=carry)
    theirs = jax.jit(reference.apply)({"params": params}, x, initial_carry=carry)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_array_equal(a, b)


@PATHS
def test_step_by_step_cell_equals_the_layer(use_onednn):
    """`layer.cell(carry, x)` one step at a time (sampling) gives the layer's outputs."""
    _, layer, params, carry, x = setup_case(2, 5, 3, 4, use_onednn=use_onednn)
    final, outputs = layer.apply({"params": params}, x, initial_carry=carry)
    cell = nn.LSTMCell(4, parent=None)
    state = carry
    for t in range(x.shape[1]):
        state, y = cell.apply({"params": params["cell"]}, state, x[:, t])
        np.testing.assert_allclose(y, outputs[:, t], rtol=1e-5, atol=1e-6)
    for a, b in zip(state, final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_recurrent_layer_picks_the_fused_lstm_only():
    assert isinstance(recurrent_layer("lstm", 8), LSTMLayer)
    for name in ("rnn", "gru", "peephole_lstm", "coupled_lstm"):
        assert isinstance(recurrent_layer(name, 8), nn.RNN)


def char_lm_case(batch: int = 5, steps: int = 12):
    """The char LM layer's sizes (32 -> 256; an odd batch, so that the library's blocks of rows
    differ in size), fewer steps; batch-major, fused weights."""
    _, _, params, carry, x = setup_case(batch, steps, 32, 256)
    w_i, w_h, b = fused_weights(params["cell"])
    return w_i, w_h, b, carry, x


def sequence_loss(use_onednn: bool):
    def loss(w_i, w_h, b, carry, x):
        (c, h), outputs = lstm_sequence(w_i, w_h, b, carry, x, use_onednn=use_onednn)
        return jnp.sum(jnp.sin(outputs)) + jnp.sum(c * h)

    return loss


def compiled_text(fn, *args) -> str:
    return jax.jit(fn).lower(*args).compile().as_text()


@requires_onednn
def test_the_cpu_runs_the_library_forward_and_backward():
    """On the CPU the forward pass and the gradient's backward pass are the library's custom
    calls, and their numbers are the scan's to float rounding; `use_onednn=False` has none."""
    args = char_lm_case()
    forward = {flag: lambda *a, f=flag: lstm_sequence(*a, use_onednn=f) for flag in (True, False)}
    grad = {flag: jax.grad(sequence_loss(flag), argnums=(0, 1, 2, 3, 4)) for flag in (True, False)}
    assert TARGETS[0] in compiled_text(forward[True], *args)
    assert all(t in compiled_text(grad[True], *args) for t in TARGETS)
    assert not any(t in compiled_text(grad[False], *args) for t in TARGETS)
    for results in (forward, grad):
        ours, scan = (jax.jit(results[flag])(*args) for flag in (True, False))
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(scan), strict=True):
            assert a.shape == b.shape
            assert relative_error(a, b) < ONEDNN_RTOL


@requires_onednn
def test_library_calls_need_no_copies_of_sequences():
    """The calls take and give batch-major sequences and hand dW's matmul its operands in one row
    order, so the only sequence-sized array XLA moves in the gradient's program is xh, transposed
    for that matmul (time-major sequences had XLA copy x, h and dh around the calls, and xh and
    dz before the matmul)."""
    w_i, w_h, b, carry, x = args = char_lm_case()
    batch, steps, inputs = x.shape
    text = compiled_text(jax.grad(sequence_loss(True), argnums=(0, 1, 2, 3, 4)), *args)
    moved = set()
    for match in re.finditer(r"= f32\[([\d,]+)\]\S* (?:copy|transpose)\(", text):
        shape = tuple(int(d) for d in match.group(1).split(","))
        if np.prod(shape) >= batch * steps * min(inputs, w_h.shape[0]):
            moved.add(shape)
    assert moved == {(w_i.shape[0] + w_h.shape[0], steps, batch)}, moved


@requires_onednn
def test_library_under_vmap_and_its_plans_cached():
    """Several models in one program: the library loops over the vmapped models in one call,
    each equal to its scan; a second call builds no new plan."""
    w_i, w_h, b, carry, x = char_lm_case()
    stacked = jnp.stack([w_h, 0.5 * w_h, -w_h])

    def run(flag):
        grads = jax.grad(sequence_loss(flag), argnums=(1, 3))
        return jax.jit(jax.vmap(lambda w: grads(w_i, w, b, carry, x)))(stacked)

    ours, scan = run(True), run(False)
    for a, b_ in zip(jax.tree.leaves(ours), jax.tree.leaves(scan), strict=True):
        assert a.shape[0] == 3
        assert relative_error(a, b_) < ONEDNN_RTOL
    plans = onednn.num_lstm_plans()
    run(True)
    assert onednn.num_lstm_plans() == plans


@requires_onednn
def test_library_propagates_nan():
    """The cell's loops are built with -ffast-math (for glibc's vector exp and tanh): a NaN in
    one sequence's input still reaches that sequence's outputs and every gradient, and leaves
    the other sequences' outputs finite, as the scan's."""
    w_i, w_h, b, carry, x = char_lm_case(batch=4, steps=6)
    x = x.at[1, 2, 0].set(jnp.nan)  # sequence 1, step 2
    for flag in (True, False):
        (c, h), outputs = jax.jit(lambda *a, f=flag: lstm_sequence(*a, use_onednn=f))(
            w_i, w_h, b, carry, x
        )
        assert bool(jnp.all(jnp.isnan(outputs[1, 2:]))) and bool(jnp.all(jnp.isnan(c[1])))
        assert not bool(jnp.any(jnp.isnan(outputs[jnp.array([0, 2, 3])])))
        assert not bool(jnp.any(jnp.isnan(outputs[:, :2])))
        grads = jax.jit(jax.grad(sequence_loss(flag)))(w_i, w_h, b, carry, x)
        assert bool(jnp.any(jnp.isnan(grads)))


@requires_onednn
def test_library_rejects_tensors_that_disagree():
    w_i, w_h, b, (c, h), x = char_lm_case()
    forward = jax.jit(onednn.lstm_forward)
    with pytest.raises(Exception, match="disagree in shape"):
        jax.block_until_ready(forward(x, w_i, w_h, b, (c[:-1], h[:-1])))
    with pytest.raises(Exception, match="disagree in shape"):
        jax.block_until_ready(forward(x, w_i[:-1], w_h, b, (c, h)))  # E is W_i's, not x's


def test_other_dtypes_and_empty_sequences_keep_the_scan():
    """The library's path is float32 and nonempty only; anything else is the scan, on the CPU
    too."""
    w_i, w_h, b, (c, h), x = char_lm_case()
    low = [a.astype(jnp.bfloat16) for a in (w_i, w_h, b, c, h, x)]
    text = compiled_text(lambda *a: lstm_sequence(a[0], a[1], a[2], (a[3], a[4]), a[5]), *low)
    assert not any(t in text for t in TARGETS)
    (c_T, h_T), outputs = jax.jit(lstm_sequence)(w_i, w_h, b, (c, h), x[:, :0])
    assert outputs.shape == (h.shape[0], 0, h.shape[1])
    np.testing.assert_array_equal(c_T, c)
