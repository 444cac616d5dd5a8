"""The LSTM over a whole sequence in the form cuDNN and oneDNN use: `nn.LSTMCell`'s numbers and
parameters, computed as one input projection for every step, a scan of the recurrent part alone,
and a backward pass (a `custom_vjp`) that forms the weight gradients as single matmuls over all
steps.

Why: differentiating a scan of `nn.LSTMCell` (what `nn.RNN` does) runs eight small matmuls per
step forward and, backward, adds every step's outer products into the weight gradients inside
the scan, a read and write of all the weights per step. Here the forward scan runs one
(B, H) x (H, 4H) matmul per step, the backward scan one more, and everything that does not feed
the recurrence (x W_i, dW_i, dW_h, db, dx) is one matmul over the T * B rows, outside the loops.

On the CPU, when jaxgen's oneDNN library is built (`make native`), the layer runs as two FFI calls
(`onednn_lstm_sequence`: `jaxgen.nn.onednn.lstm_forward`/`lstm_backward`, native/onednn/lstm.cc):
each step's product [x_t, h_{t-1}] [W_i; W_h] + b on oneDNN's inner product and the cell's
arithmetic in one pass, forward; each step's gate gradients through one product with the weights
giving dx_t and the step before's dh, backward; the rows of the batch split among the cores for
the whole sequence; db summed there too. Only dW = [x, h_prev]^T dz, one matmul over the T * B
rows, is left to XLA. The calls take and give the sequences batch-major, as the model around them
reads them (`lstm_sequence`'s own layout), and keep xh and dz in one row order, so the only
array XLA copies around them is xh, transposed for dW's matmul.
On the char LM's layer that is 2.5x the scans' speed forward and 1.5x forward + backward, and
faster than PyTorch's LSTM both ways (AVX2, benchmarks/lstm_layer.py). Computations lowered for
other platforms, and CPUs without the library (or with JAXGEN_ONEDNN=0), run the XLA form, whose
forward numbers are `nn.LSTMCell`'s to the bit (the same dot products, added in the same order:
`x W_i + (h W_h + b)`); its gradients, and the library's forward and gradients, differ from
Flax's by float rounding (sums taken in another order, glibc's vector exp and tanh).
tests/nn/test_lstm.py checks both paths against `nn.RNN(nn.LSTMCell)`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxgen.nn import onednn

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
def _xla_time_major(w_i, w_h, b, carry: Carry, x_TxBxE: jax.Array) -> tuple[Carry, jax.Array]:
    carry, h_TxBxH, _ = _scan_forward(w_i, w_h, b, carry, x_TxBxE)
    return carry, h_TxBxH


def _lstm_sequence_fwd(w_i, w_h, b, carry, x_TxBxE):
    _, h0 = carry
    final, h_TxBxH, saved = _scan_forward(w_i, w_h, b, carry, x_TxBxE)
    # Each step's incoming h is h0 or the previous step's output: kept as the outputs.
    return (final, h_TxBxH), (w_i, w_h, x_TxBxE, h0, h_TxBxH, saved)


def _lstm_sequence_bwd(residuals, cotangents):
    w_i, w_h, x_TxBxE, h0, h_TxBxH, (i, f, g, o, c_prev, tanh_c) = residuals
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
    h_prev = jnp.concatenate([h0[None], h_TxBxH[:-1]], axis=0)
    dw_i = jnp.einsum("tbe,tbg->eg", x_TxBxE, dz_TxBxG)
    dw_h = jnp.einsum("tbh,tbg->hg", h_prev, dz_TxBxG)
    db = dz_TxBxG.sum((0, 1))
    dx_TxBxE = jnp.einsum("tbg,eg->tbe", dz_TxBxG, w_i)
    return dw_i, dw_h, db, (dc0, dh0), dx_TxBxE


_xla_time_major.defvjp(_lstm_sequence_fwd, _lstm_sequence_bwd)


def xla_lstm_sequence(w_i, w_h, b, carry: Carry, x_BxTxE: jax.Array) -> tuple[Carry, jax.Array]:
    """`lstm_sequence` in XLA's operations, on any platform: the scans run over time-major
    sequences."""
    carry, h_TxBxH = _xla_time_major(w_i, w_h, b, carry, jnp.swapaxes(x_BxTxE, 0, 1))
    return carry, jnp.swapaxes(h_TxBxH, 0, 1)


@jax.custom_vjp
def onednn_lstm_sequence(w_i, w_h, b, carry: Carry, x_BxTxE: jax.Array) -> tuple[Carry, jax.Array]:
    """`lstm_sequence` in jaxgen's oneDNN library (CPU only: the FFI calls themselves)."""
    outputs, _ = _onednn_fwd(w_i, w_h, b, carry, x_BxTxE)
    return outputs


def _onednn_fwd(w_i, w_h, b, carry, x_BxTxE):
    h_BxTxH, c_TxBxH, tanh_c_TxBxH, gates_TxBxG, xh_TxBxK = onednn.lstm_forward(
        x_BxTxE, w_i, w_h, b, carry
    )
    outputs = ((c_TxBxH[-1], h_BxTxH[:, -1]), h_BxTxH)
    return outputs, (w_i, w_h, carry[0], xh_TxBxK, c_TxBxH, tanh_c_TxBxH, gates_TxBxG)


def _onednn_bwd(residuals, cotangents):
    w_i, w_h, c0, xh_TxBxK, c_TxBxH, tanh_c_TxBxH, gates_TxBxG = residuals
    dcarry, dh_BxTxH = cotangents
    dz_TxBxG, dx_BxTxE, db, dc0, dh0 = onednn.lstm_backward(
        gates_TxBxG, c_TxBxH, tanh_c_TxBxH, c0, w_i, w_h, dh_BxTxH, dcarry
    )
    # [dW_i; dW_h] = xh^T dz, one matmul over the T * B rows. Contracted as (t, b) pairs, the
    # order both are stored in, XLA:CPU transposes xh (the smaller) for its GEMM and nothing
    # else; written as an einsum, it copied both into (b, t) order first.
    dw = lax.dot_general(xh_TxBxK, dz_TxBxG, (((0, 1), (0, 1)), ((), ())))
    inputs = dx_BxTxE.shape[-1]
    return dw[:inputs], dw[inputs:], db, (dc0, dh0), dx_BxTxE


onednn_lstm_sequence.defvjp(_onednn_fwd, _onednn_bwd)


def _onednn_eligible(w_i, w_h, b, carry, x_BxTxE) -> bool:
    arrays = (w_i, w_h, b, *carry, x_BxTxE)
    return (
        all(a.dtype == jnp.float32 for a in arrays)
        and all(a.size > 0 for a in arrays)
        and onednn.available()
    )


def lstm_sequence(
    w_i, w_h, b, carry: Carry, x_BxTxE: jax.Array, *, use_onednn: bool = True
) -> tuple[Carry, jax.Array]:
    """The LSTM (weights from `fused_weights`) over batch-major inputs `x_BxTxE` from
    `carry` = (c, h): returns the final (c, h) and every step's h, `h_BxTxH`. With `use_onednn`
    (and float32 inputs, the library built), computations lowered for the CPU run
    `onednn_lstm_sequence`; everything else runs `xla_lstm_sequence`."""
    if not (use_onednn and _onednn_eligible(w_i, w_h, b, carry, x_BxTxE)):
        return xla_lstm_sequence(w_i, w_h, b, carry, x_BxTxE)
    return lax.platform_dependent(
        w_i, w_h, b, carry, x_BxTxE, cpu=onednn_lstm_sequence, default=xla_lstm_sequence
    )


class LSTMLayer(nn.Module):
    """`nn.RNN(nn.LSTMCell(features), return_carry=True)` over batch-major inputs, computed by
    `lstm_sequence`: the same parameters under the same names (the cell is the submodule `cell`,
    as in `nn.RNN`, so checkpoints and `layer.cell(carry, x)` for one step work unchanged) and
    the same numbers (to float rounding; the XLA form's forward to the bit). `use_onednn`: run
    the recurrence in jaxgen's oneDNN library on the CPU where it is built (`lstm_sequence`)."""

    features: int
    use_onednn: bool = True

    def setup(self):
        self.cell = nn.LSTMCell(self.features)

    def __call__(self, x_BxTxE: jax.Array, *, initial_carry: Carry) -> tuple[Carry, jax.Array]:
        if self.is_initializing():
            self.cell(initial_carry, x_BxTxE[:, 0])  # creates the cell's parameters
        w_i, w_h, b = fused_weights(self.cell.variables["params"])
        return lstm_sequence(w_i, w_h, b, initial_carry, x_BxTxE, use_onednn=self.use_onednn)
