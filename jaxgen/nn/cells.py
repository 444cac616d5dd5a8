"""Recurrent cells: the five that `make_cell` builds by name, two of them written here.

All share Flax's `nn.RNNCellBase` interface (`__call__(carry, x) -> (carry, y)`,
`initialize_carry`, `num_feature_axes`), so each runs inside `nn.RNN`: the vanilla tanh RNN,
the LSTM and the GRU are Flax's own; the peephole LSTM (Gers & Schmidhuber 2000) and the coupled
input-forget gate LSTM (CIFG; Greff et al. 2017, "LSTM: A Search Space Odyssey") are written
here in the style of `nn.LSTMCell`, on a common base (`_LSTMVariantCell`) that holds what they
share: the initialisers, the gates' Dense layers, and the (c, h) carry. Flax's Dense computes
`x @ kernel`, so below `W x` means `x @ kernel` with a kernel of shape (in, out).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen import initializers
from flax.typing import Initializer

from jaxgen.nn.lstm import LSTMLayer

Carry = Any


class _LSTMVariantCell(nn.RNNCellBase):
    """What the LSTM variants below share with each other and with `nn.LSTMCell`.

    Gate pre-activations `W_i{gate} x + W_h{gate} h + b_{gate}` come from two Dense layers per
    gate: the input Dense `i{gate}` (kernel `kernel_init`, no bias) and the hidden Dense
    `h{gate}` (kernel `recurrent_kernel_init`, bias `bias_init`). The carry is (c, h).
    """

    features: int
    gate_fn: Any = nn.sigmoid
    activation_fn: Any = nn.tanh
    kernel_init: Initializer = nn.linear.default_kernel_init
    recurrent_kernel_init: Initializer = initializers.orthogonal()
    bias_init: Initializer = initializers.zeros_init()
    carry_init: Initializer = initializers.zeros_init()

    @nn.nowrap
    def _pre(self, gate: str, inputs: jax.Array, h: jax.Array) -> jax.Array:
        """`W_i{gate} x + W_h{gate} h + b_{gate}`, creating the Dense layers `i{gate}` and
        `h{gate}` (call it from the cell's compact `__call__`)."""
        dense_i = nn.Dense(
            features=self.features, use_bias=False, kernel_init=self.kernel_init, name=f"i{gate}"
        )
        dense_h = nn.Dense(
            features=self.features,
            use_bias=True,
            kernel_init=self.recurrent_kernel_init,
            bias_init=self.bias_init,
            name=f"h{gate}",
        )
        return dense_i(inputs) + dense_h(h)

    @nn.nowrap
    def initialize_carry(self, rng: jax.Array, input_shape: tuple[int, ...]) -> Carry:
        """Returns (c, h), each of shape `input_shape[:-1] + (features,)` (zeros by default)."""
        shape = (*input_shape[:-1], self.features)
        key_c, key_h = jax.random.split(rng)
        return (
            self.carry_init(key_c, shape, jnp.float32),
            self.carry_init(key_h, shape, jnp.float32),
        )

    @property
    def num_feature_axes(self) -> int:
        return 1


class PeepholeLSTMCell(_LSTMVariantCell):
    r"""LSTM with diagonal peephole connections (Gers & Schmidhuber 2000).

    The input and forget gates look at the previous cell state, the output gate at the new one:

        i  = sigmoid(W_ii x + W_hi h + p_i * c + b_i)
        f  = sigmoid(W_if x + W_hf h + p_f * c + b_f)
        g  = tanh(W_ig x + W_hg h + b_g)
        c' = f * c + i * g
        o  = sigmoid(W_io x + W_ho h + p_o * c' + b_o)
        h' = o * tanh(c')

    `*` is elementwise; p_i, p_f, p_o are vectors of size `features` (parameters `pi`, `pf`,
    `po`). As in `nn.LSTMCell`, the input Dense `i{gate}` has no bias and the hidden Dense
    `h{gate}` carries it. Peepholes start at zero, so at initialisation the cell computes what
    `nn.LSTMCell` computes with the same Dense weights; their gradient (c times the gate's
    slope) is nonzero, so they learn from there. Carry is (c, h), as in `nn.LSTMCell`.
    """

    peephole_init: Initializer = initializers.zeros_init()

    @nn.compact
    def __call__(self, carry: Carry, inputs: jax.Array) -> tuple[Carry, jax.Array]:
        c, h = carry

        def peephole(name: str) -> jax.Array:
            return self.param(name, self.peephole_init, (self.features,))

        i = self.gate_fn(self._pre("i", inputs, h) + peephole("pi") * c)
        f = self.gate_fn(self._pre("f", inputs, h) + peephole("pf") * c)
        g = self.activation_fn(self._pre("g", inputs, h))
        new_c = f * c + i * g
        o = self.gate_fn(self._pre("o", inputs, h) + peephole("po") * new_c)
        new_h = o * self.activation_fn(new_c)
        return (new_c, new_h), new_h


class CoupledLSTMCell(_LSTMVariantCell):
    r"""LSTM with coupled input and forget gates (CIFG; Greff et al. 2017).

    The cell forgets exactly as much as it writes, so there is no input gate of its own:

        f  = sigmoid(W_if x + W_hf h + b_f)
        i  = 1 - f
        g  = tanh(W_ig x + W_hg h + b_g)
        o  = sigmoid(W_io x + W_ho h + b_o)
        c' = f * c + i * g
        h' = o * tanh(c')

    Parameters are `nn.LSTMCell`'s less `ii`/`hi`: Dense `if`, `ig`, `io` (input, no bias) and
    `hf`, `hg`, `ho` (hidden, with bias). Unlike Greff et al.'s variant it has no peepholes, so
    that it differs from `nn.LSTMCell` by the coupling alone. Carry is (c, h).
    """

    @nn.compact
    def __call__(self, carry: Carry, inputs: jax.Array) -> tuple[Carry, jax.Array]:
        c, h = carry
        f = self.gate_fn(self._pre("f", inputs, h))
        g = self.activation_fn(self._pre("g", inputs, h))
        o = self.gate_fn(self._pre("o", inputs, h))
        new_c = f * c + (1.0 - f) * g
        new_h = o * self.activation_fn(new_c)
        return (new_c, new_h), new_h


CELLS: dict[str, type[nn.RNNCellBase]] = {
    "rnn": nn.SimpleCell,
    "lstm": nn.LSTMCell,
    "gru": nn.GRUCell,
    "peephole_lstm": PeepholeLSTMCell,
    "coupled_lstm": CoupledLSTMCell,
}


def make_cell(name: str, hidden_size: int, **kwargs: Any) -> nn.RNNCellBase:
    """The cell called `name` (a key of `CELLS`) with `hidden_size` features; `kwargs` go to
    the cell's constructor (e.g. `parent=None` to build a detached cell)."""
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}; choose one of {sorted(CELLS)}")
    return CELLS[name](features=hidden_size, **kwargs)


def recurrent_layer(name: str, hidden_size: int) -> nn.Module:
    """The cell called `name` scanned over batch-major sequences, returning (final carry,
    outputs): `nn.RNN(cell, return_carry=True)`, except the LSTM, which runs as
    `jaxgen.nn.lstm.LSTMLayer` (the same parameters, the same numbers to float rounding, formed
    as cuDNN's LSTM forms them; on the CPU in jaxgen's oneDNN library where it is built).
    Either is called as `layer(x_BxTxE, initial_carry=carry)` and has the cell as `layer.cell`,
    for one step at a time."""
    if name == "lstm":
        return LSTMLayer(hidden_size)
    return nn.RNN(make_cell(name, hidden_size), return_carry=True)
