"""The recurrent cells against their equations in NumPy, and the two cells written here."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn.cells import CELLS, make_cell

from ..conftest import randomize_params

B, D, H = 3, 5, 4


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _np(params):
    return jax.tree.map(lambda a: np.asarray(a, np.float64), params)


# The cells' equations in NumPy, written from the papers and Flax's docstrings; a Dense layer
# computes x @ kernel (+ bias).
def rnn_np(p, h, x):
    return np.tanh(x @ p["i"]["kernel"] + p["i"]["bias"] + h @ p["h"]["kernel"])


def _pre(p, gate, x, h):
    return x @ p[f"i{gate}"]["kernel"] + h @ p[f"h{gate}"]["kernel"] + p[f"h{gate}"]["bias"]


def lstm_np(p, carry, x):
    c, h = carry
    i, f = _sigmoid(_pre(p, "i", x, h)), _sigmoid(_pre(p, "f", x, h))
    g, o = np.tanh(_pre(p, "g", x, h)), _sigmoid(_pre(p, "o", x, h))
    new_c = f * c + i * g
    return new_c, o * np.tanh(new_c)


def gru_np(p, h, x):
    # Flax's GRU: the reset gate multiplies W_hn h + b_hn; W_hr, W_hz have no bias.
    def lin(gate, v, source):
        d = p[f"{source}{gate}"]
        return v @ d["kernel"] + d.get("bias", 0.0)

    r = _sigmoid(lin("r", x, "i") + lin("r", h, "h"))
    z = _sigmoid(lin("z", x, "i") + lin("z", h, "h"))
    n = np.tanh(lin("n", x, "i") + r * lin("n", h, "h"))
    return (1 - z) * n + z * h


def peephole_np(p, carry, x):
    c, h = carry
    i = _sigmoid(_pre(p, "i", x, h) + p["pi"] * c)
    f = _sigmoid(_pre(p, "f", x, h) + p["pf"] * c)
    g = np.tanh(_pre(p, "g", x, h))
    new_c = f * c + i * g
    o = _sigmoid(_pre(p, "o", x, h) + p["po"] * new_c)
    return new_c, o * np.tanh(new_c)


def coupled_np(p, carry, x):
    c, h = carry
    f = _sigmoid(_pre(p, "f", x, h))
    i = 1.0 - f
    g, o = np.tanh(_pre(p, "g", x, h)), _sigmoid(_pre(p, "o", x, h))
    new_c = f * c + i * g
    return new_c, o * np.tanh(new_c)


NUMPY_STEPS = {
    "rnn": rnn_np,
    "lstm": lstm_np,
    "gru": gru_np,
    "peephole_lstm": peephole_np,
    "coupled_lstm": coupled_np,
}


def _cell_setup(name, seed=0):
    cell = make_cell(name, H)
    k_param, k_rand, k_x, k_c = jax.random.split(jax.random.key(seed), 4)
    x = jax.random.normal(k_x, (B, D))
    carry = jax.tree.map(
        lambda a: jax.random.normal(k_c, a.shape), cell.initialize_carry(k_c, x.shape)
    )
    params = randomize_params(cell.init(k_param, carry, x), k_rand)
    return cell, params, carry, x


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_shapes_and_rnn_wrapper(name):
    cell = make_cell(name, H)
    x = jnp.ones((B, 7, D))
    carry = cell.initialize_carry(jax.random.key(0), (B, D))
    rnn = nn.RNN(cell, return_carry=True)
    variables = rnn.init(jax.random.key(1), x, initial_carry=carry)
    final, y = rnn.apply(variables, x, initial_carry=carry)
    assert y.shape == (B, 7, H)
    assert jax.tree.map(jnp.shape, final) == jax.tree.map(jnp.shape, carry)
    assert cell.num_feature_axes == 1


@pytest.mark.parametrize("name", sorted(CELLS))
def test_one_step_matches_numpy(name):
    cell, params, carry, x = _cell_setup(name)
    new_carry, y = cell.apply(params, carry, x)
    want = NUMPY_STEPS[name](_np(params["params"]), _np(carry), np.asarray(x, np.float64))
    for got_leaf, want_leaf in zip(jax.tree.leaves(new_carry), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(got_leaf, want_leaf, atol=1e-5)
    h_want = want[1] if isinstance(want, tuple) else want
    np.testing.assert_allclose(y, h_want, atol=1e-5)


def test_make_cell_rejects_unknown_names():
    with pytest.raises(ValueError, match="peephole_lstm"):
        make_cell("transformer", 8)


def test_coupled_input_gate_is_one_minus_forget_gate():
    cell, params, (c, h), x = _cell_setup("coupled_lstm")
    assert set(params["params"]) == {"if", "hf", "ig", "hg", "io", "ho"}
    p = _np(params["params"])
    # c' = f c + i g is affine in c with slope f: read f off two carries, then c'(0) = i g.
    new_c = lambda c: np.asarray(cell.apply(params, (c, h), x)[0][0], np.float64)  # noqa: E731
    c1 = np.ones((B, H))
    f = (new_c(2 * c1) - new_c(c1)) / c1
    np.testing.assert_allclose(f, _sigmoid(_pre(p, "f", np.asarray(x), np.asarray(h))), atol=1e-5)
    i_times_g = new_c(np.zeros((B, H)))
    g = np.tanh(_pre(p, "g", np.asarray(x), np.asarray(h)))
    np.testing.assert_allclose(i_times_g, (1 - f) * g, atol=1e-5)


def test_peephole_gates_see_the_cell_state():
    cell, params, (c, h), x = _cell_setup("peephole_lstm")

    def step(c_in):
        (new_c, new_h), _ = cell.apply(params, (c_in, h), x)
        return np.asarray(new_c, np.float64), np.asarray(new_h, np.float64)

    (c_a, h_a), (c_b, h_b) = step(c), step(c + 1.0)
    # The output gate o = h' / tanh(c') changes with the cell state...
    assert np.abs(h_a / np.tanh(c_a) - h_b / np.tanh(c_b)).max() > 1e-3
    # ...and c' is no longer affine in c, as it would be with c-blind input and forget gates.
    c_0, c_2 = step(np.zeros_like(c))[0], step(2 * c)[0]
    assert np.abs(c_2 - 2 * step(c)[0] + c_0).max() > 1e-3


def test_peephole_with_zero_peepholes_is_a_plain_lstm():
    cell, params, carry, x = _cell_setup("peephole_lstm")
    weights = {k: v for k, v in params["params"].items() if k not in ("pi", "pf", "po")}
    zeros = {k: jnp.zeros(H) for k in ("pi", "pf", "po")}
    got = cell.apply({"params": {**weights, **zeros}}, carry, x)
    want = make_cell("lstm", H).apply({"params": weights}, carry, x)
    for got_leaf, want_leaf in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(got_leaf, want_leaf, atol=1e-6)
    # The default init is such a cell.
    fresh = cell.init(jax.random.key(3), carry, x)["params"]
    assert all(np.all(fresh[k] == 0) for k in ("pi", "pf", "po"))
