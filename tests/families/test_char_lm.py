"""CharLM (scan vs. steps, carried state) and its parameter budgeting."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.language_model.model import CharLM, hidden_size_for_budget, lm_param_count
from jaxgen.nn.cells import CELLS
from jaxgen.nn.common import count_params

from ..conftest import randomize_params

B = 3


def _lm(name, num_layers=2):
    model = CharLM(vocab_size=11, cell=name, hidden_size=6, num_layers=num_layers, embed_dim=5)
    tokens = jax.random.randint(jax.random.key(7), (B, 8), 0, 11)
    variables = model.init(jax.random.key(0), model.initial_carries(B), tokens)
    return model, randomize_params(variables, jax.random.key(1), scale=0.3), tokens


@pytest.mark.parametrize("name", sorted(CELLS))
def test_char_lm_scan_equals_steps_and_halves(name):
    model, params, tokens = _lm(name)
    run, step = jax.jit(model.apply), jax.jit(partial(model.apply, method=model.step))
    carries0 = model.initial_carries(B)
    assert len(carries0) == 2
    final, logits = run(params, carries0, tokens)
    assert logits.shape == (B, 8, 11)
    assert jax.tree.map(jnp.shape, final) == jax.tree.map(jnp.shape, carries0)

    carries, step_logits = carries0, []
    for t in range(tokens.shape[1]):
        carries, logits_BxV = step(params, carries, tokens[:, t])
        step_logits.append(logits_BxV)
    np.testing.assert_allclose(np.stack(step_logits, axis=1), logits, atol=1e-5)
    for a, b in zip(jax.tree.leaves(carries), jax.tree.leaves(final), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)

    mid, first = run(params, carries0, tokens[:, :3])
    end, second = run(params, jax.lax.stop_gradient(mid), tokens[:, 3:])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), logits, atol=1e-5)
    for a, b in zip(jax.tree.leaves(end), jax.tree.leaves(final), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_param_count_matches_the_formula():
    V, E, L, HH = 30, 7, 3, 9
    dense = lambda i, o: i * o + o  # noqa: E731
    # Flax's LSTM: four gates, input kernels without bias, hidden kernels with bias.
    lstm_layer = lambda i: 4 * (i * HH + dense(HH, HH))  # noqa: E731
    want = V * E + lstm_layer(E) + (L - 1) * lstm_layer(HH) + dense(HH, V)
    assert lm_param_count("lstm", V, E, L, HH) == want
    model, params, _ = _lm("rnn", num_layers=1)
    assert count_params(params) == 11 * 5 + dense(5, 6) + 6 * 6 + dense(6, 11)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_hidden_size_for_budget_is_the_largest_that_fits(name):
    V, E, L, budget = 40, 8, 2, 25_000
    hidden = hidden_size_for_budget(name, V, E, L, budget)
    assert lm_param_count(name, V, E, L, hidden) <= budget
    assert lm_param_count(name, V, E, L, hidden + 1) > budget
    with pytest.raises(ValueError, match="budget"):
        hidden_size_for_budget(name, V, E, L, 100)
