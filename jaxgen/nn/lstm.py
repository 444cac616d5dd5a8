"""The LSTM over a whole sequence in the form cuDNN and oneDNN use: `nn.LSTMCell`'s numbers and
parameters, computed as one input projection for every step, a scan of the recurrent part alone,
and a backward pass (a `custom_vjp`) that forms the weight gradients as single matmuls over all
steps.

Why: differentiating a scan of `nn.LSTMCell` (what `nn.RNN` does) runs eight small matmuls per
step forward and, backward, adds every step's outer products into the weight gradients inside
the scan, a read and write of all the weights per step. Here the forward scan runs one
(B, H) x (H, 4H) matmul per step, the backward scan one more, and everything that does not feed
the recurrence (x W_i, dW_i, dW_h, db, dx) is one matmul over the T * B rows, outside the loops.

The forward numbers are `nn.LSTMCell`'s to the bit on XLA:CPU (the same dot products, added in
the same order: `x W_i + (h W_h + b)`); the gradients differ from autodiff's by float rounding
(the sums over steps are taken in another order). tests/nn/test_lstm.py checks both against
`nn.RNN(nn.LSTMCell)`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Carry = Any
GATES = ("i", "f", "g", "o")  # nn.LSTMCell's Dense layers: i{gate} (input), h{gate} (hidden)


def fused_weights(cell_params) -> tuple[jax.Array, jax.Array, jax.Array]:
    """`nn.LSTMCell`'s eight Dense layers as W_i (E, 4H), W_h (H, 4H) and b (4H,), the gates in
    the order i, f, g, o."""
    w_i = jnp.concatenate([cell_params[f"i{g}"]["kernel"] for g in GATES], axis=1)
    w_h = jnp.concatenate([cell_params[f"h{g}"]["kernel"] for g in GATES], axis=1)
    b = jnp.concatenate([cell_params[f"h{g}"]["bias"] for g in GATES])
    return w_i, w_h, b


def _scan_forward(w_i, w_h, b, carry, x_TxBxE):
    """(final carry, h_TxBxH, what the backward pass needs)."""
    hidden = w_h.shape[0]
    xw_TxBxG = jnp.einsum("tbe,eg->tbg", x_TxBxE, w_i)

    def step(carry, xw_BxG):
        c, h = carry
        z = xw_BxG + (h @ w_h + b)  # nn.LSTMCell's order: dense_i(x) + dense_h(h)
        i = jax.nn.sigmoid(z[:, :hidden])
        f = jax.nn.sigmoid(z[:, hidden : 2 * hidden])
        g = jnp.tanh(z[:, 2 * hidden : 3 * hidden])
        o = jax.nn.sigmoid(z[:, 3 * hidden :])
        new_c = f * c + i * g
        tanh_c = jnp.tanh(new_c)
        new_h = o * tanh_c
        return (new_c, new_h), (new_h, (i, f, g, o, c, tanh_c))

    carry, (h_TxBxH, saved) = jax.lax.scan(step, carry, xw_TxBxG)
    return carry, h_TxBxH, saved


@jax.custom_vjp
def lstm_sequence(w_i, w_h, b, carry: Carry, x_TxBxE: jax.Array) -> tuple[Carry, jax.Array]:
    """The LSTM (weights from `fused_weights`) over time-major inputs `x_TxBxE` from
    `carry` = (c, h): returns the final (c, h) and every step's h, `h_TxBxH`."""
    carry, h_TxBxH, _ = _scan_forward(w_i, w_h, b, carry, x_TxBxE)
    return carry, h_TxBxH


def _lstm_sequence_fwd(w_i, w_h, b, carry, x_TxBxE):
    _, h0 = carry
    final, h_TxBxH, saved = _scan_forward(w_i, w_h, b, carry, x_TxBxE)
    # Each step's incoming h is h0 or the previous step's output: kept as the outputs.
    return (final, h_TxBxH), (w_i, w_h, x_TxBxE, h0, h_TxBxH, saved)


def _lstm_sequence_bwd(residuals, cotangents):
    w_i, w_h, x_TxBxE, h0, h_TxBxH, (i, f, g, o, c_prev, tanh_c) = residuals
    h_prev = jnp.concatenate([h0[None], h_TxBxH[:-1]], axis=0)
    (dc_last, dh_last), dh_TxBxH = cotangents

    def step(carry, inputs):
        dc, dh = carry  # from step t + 1, through the recurrence
        dh_out, i, f, g, o, c_prev, tanh_c = inputs
        dh = dh + dh_out
        dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
        dz = jnp.concatenate(
            [
                dc * g * i * (1.0 - i),
                dc * c_prev * f * (1.0 - f),
                dc * i * (1.0 - g * g),
                dh * tanh_c * o * (1.0 - o),
            ],
            axis=-1,
        )
        return (dc * f, dz @ w_h.T), dz

    (dc0, dh0), dz_TxBxG = jax.lax.scan(
        step, (dc_last, dh_last), (dh_TxBxH, i, f, g, o, c_prev, tanh_c), reverse=True
    )
    dw_i = jnp.einsum("tbe,tbg->eg", x_TxBxE, dz_TxBxG)
    dw_h = jnp.einsum("tbh,tbg->hg", h_prev, dz_TxBxG)
    db = dz_TxBxG.sum((0, 1))
    dx_TxBxE = jnp.einsum("tbg,eg->tbe", dz_TxBxG, w_i)
    return dw_i, dw_h, db, (dc0, dh0), dx_TxBxE


lstm_sequence.defvjp(_lstm_sequence_fwd, _lstm_sequence_bwd)


class LSTMLayer(nn.Module):
    """`nn.RNN(nn.LSTMCell(features), return_carry=True)` over batch-major inputs, computed by
    `lstm_sequence`: the same parameters under the same names (the cell is the submodule `cell`,
    as in `nn.RNN`, so checkpoints and `layer.cell(carry, x)` for one step work unchanged) and
    the same numbers (forward to the bit, gradients to float rounding)."""

    features: int

    def setup(self):
        self.cell = nn.LSTMCell(self.features)

    def __call__(self, x_BxTxE: jax.Array, *, initial_carry: Carry) -> tuple[Carry, jax.Array]:
        if self.is_initializing():
            self.cell(initial_carry, x_BxTxE[:, 0])  # creates the cell's parameters
        w_i, w_h, b = fused_weights(self.cell.variables["params"])
        carry, h_TxBxH = lstm_sequence(w_i, w_h, b, initial_carry, jnp.swapaxes(x_BxTxE, 0, 1))
        return carry, jnp.swapaxes(h_TxBxH, 0, 1)
