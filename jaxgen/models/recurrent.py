"""Recurrent cells, a character-level language model, and the hidden-state Jacobian.

Five cells share Flax's `nn.RNNCellBase` interface (`__call__(carry, x) -> (carry, y)`,
`initialize_carry`, `num_feature_axes`), so each runs inside `nn.RNN`: the vanilla tanh RNN,
the LSTM and the GRU are Flax's own; the peephole LSTM (Gers & Schmidhuber 2000) and the coupled
input-forget gate LSTM (CIFG; Greff et al. 2017, "LSTM: A Search Space Odyssey") are written
here in the style of `nn.LSTMCell`. Flax's Dense computes `x @ kernel`, so below `W x` means
`x @ kernel` with a kernel of shape (in, out).
"""

from __future__ import annotations

import functools
from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.linen import initializers
from flax.typing import Initializer

Carry = Any


class PeepholeLSTMCell(nn.RNNCellBase):
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

    features: int
    gate_fn: Any = nn.sigmoid
    activation_fn: Any = nn.tanh
    kernel_init: Initializer = nn.linear.default_kernel_init
    recurrent_kernel_init: Initializer = initializers.orthogonal()
    bias_init: Initializer = initializers.zeros_init()
    peephole_init: Initializer = initializers.zeros_init()
    carry_init: Initializer = initializers.zeros_init()

    @nn.compact
    def __call__(self, carry: Carry, inputs: jax.Array) -> tuple[Carry, jax.Array]:
        c, h = carry
        dense_h = partial(
            nn.Dense,
            features=self.features,
            use_bias=True,
            kernel_init=self.recurrent_kernel_init,
            bias_init=self.bias_init,
        )
        dense_i = partial(
            nn.Dense, features=self.features, use_bias=False, kernel_init=self.kernel_init
        )

        def peephole(name: str) -> jax.Array:
            return self.param(name, self.peephole_init, (self.features,))

        i = self.gate_fn(dense_i(name="ii")(inputs) + dense_h(name="hi")(h) + peephole("pi") * c)
        f = self.gate_fn(dense_i(name="if")(inputs) + dense_h(name="hf")(h) + peephole("pf") * c)
        g = self.activation_fn(dense_i(name="ig")(inputs) + dense_h(name="hg")(h))
        new_c = f * c + i * g
        o = self.gate_fn(
            dense_i(name="io")(inputs) + dense_h(name="ho")(h) + peephole("po") * new_c
        )
        new_h = o * self.activation_fn(new_c)
        return (new_c, new_h), new_h

    @nn.nowrap
    def initialize_carry(self, rng: jax.Array, input_shape: tuple[int, ...]) -> Carry:
        """Returns (c, h), each of shape `input_shape[:-1] + (features,)` (zeros by default)."""
        return _lstm_carry(self.carry_init, self.features, rng, input_shape)

    @property
    def num_feature_axes(self) -> int:
        return 1


class CoupledLSTMCell(nn.RNNCellBase):
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

    features: int
    gate_fn: Any = nn.sigmoid
    activation_fn: Any = nn.tanh
    kernel_init: Initializer = nn.linear.default_kernel_init
    recurrent_kernel_init: Initializer = initializers.orthogonal()
    bias_init: Initializer = initializers.zeros_init()
    carry_init: Initializer = initializers.zeros_init()

    @nn.compact
    def __call__(self, carry: Carry, inputs: jax.Array) -> tuple[Carry, jax.Array]:
        c, h = carry
        dense_h = partial(
            nn.Dense,
            features=self.features,
            use_bias=True,
            kernel_init=self.recurrent_kernel_init,
            bias_init=self.bias_init,
        )
        dense_i = partial(
            nn.Dense, features=self.features, use_bias=False, kernel_init=self.kernel_init
        )
        f = self.gate_fn(dense_i(name="if")(inputs) + dense_h(name="hf")(h))
        g = self.activation_fn(dense_i(name="ig")(inputs) + dense_h(name="hg")(h))
        o = self.gate_fn(dense_i(name="io")(inputs) + dense_h(name="ho")(h))
        new_c = f * c + (1.0 - f) * g
        new_h = o * self.activation_fn(new_c)
        return (new_c, new_h), new_h

    @nn.nowrap
    def initialize_carry(self, rng: jax.Array, input_shape: tuple[int, ...]) -> Carry:
        """Returns (c, h), each of shape `input_shape[:-1] + (features,)` (zeros by default)."""
        return _lstm_carry(self.carry_init, self.features, rng, input_shape)

    @property
    def num_feature_axes(self) -> int:
        return 1


def _lstm_carry(
    carry_init: Initializer, features: int, rng: jax.Array, input_shape: tuple[int, ...]
) -> tuple[jax.Array, jax.Array]:
    shape = (*input_shape[:-1], features)
    key_c, key_h = jax.random.split(rng)
    return carry_init(key_c, shape, jnp.float32), carry_init(key_h, shape, jnp.float32)


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


class CharLM(nn.Module):
    """Recurrent language model over a vocabulary of `vocab_size` tokens.

    tokens -> embedding (`embed_dim`) -> `num_layers` recurrent layers of `cell` with
    `hidden_size` units, each scanned over time by `nn.RNN` -> Dense to next-token logits.
    The carries (one per layer) go in and come out, so that a caller can carry the state from
    one batch to the next (truncated BPTT: pass `jax.lax.stop_gradient` of the last ones).
    """

    vocab_size: int
    cell: str = "lstm"
    hidden_size: int = 256
    num_layers: int = 1
    embed_dim: int = 64

    def setup(self):
        self.embed = nn.Embed(self.vocab_size, self.embed_dim)
        self.layers = [
            nn.RNN(make_cell(self.cell, self.hidden_size), return_carry=True)
            for _ in range(self.num_layers)
        ]
        self.readout = nn.Dense(self.vocab_size)

    @nn.nowrap
    def initial_carries(self, batch_size: int) -> tuple[Carry, ...]:
        """Zero carries, one per layer, for a batch of `batch_size` sequences. Needs no params:
        call it on the unbound module."""
        # A detached cell: building one under this module would register a submodule.
        cell = make_cell(self.cell, self.hidden_size, parent=None)
        carry = cell.initialize_carry(jax.random.key(0), (batch_size, self.embed_dim))
        return tuple(carry for _ in range(self.num_layers))

    def __call__(
        self, carries: tuple[Carry, ...], tokens_BxT: jax.Array
    ) -> tuple[tuple[Carry, ...], jax.Array]:
        """Runs the model over `tokens_BxT` (int) from `carries`; returns the final carries and
        logits_BxTxV, where logits[:, t] predict token t + 1."""
        x_BxTxE = self.embed(tokens_BxT)
        new_carries = []
        for layer, carry in zip(self.layers, carries, strict=True):
            carry, x_BxTxE = layer(x_BxTxE, initial_carry=carry)
            new_carries.append(carry)
        return tuple(new_carries), self.readout(x_BxTxE)

    def step(
        self, carries: tuple[Carry, ...], token_B: jax.Array
    ) -> tuple[tuple[Carry, ...], jax.Array]:
        """One time step for sampling: feeds `token_B` and returns the carries and logits_BxV;
        T calls equal one `__call__` over T tokens."""
        x_BxE = self.embed(token_B)
        new_carries = []
        for layer, carry in zip(self.layers, carries, strict=True):
            # The scanned cell's params are shared with this direct call.
            carry, x_BxE = layer.cell(carry, x_BxE)
            new_carries.append(carry)
        return tuple(new_carries), self.readout(x_BxE)


def count_params(params: Any) -> int:
    """Total number of scalars in a pytree of arrays (or of `jax.ShapeDtypeStruct`s)."""
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(params))


@functools.cache
def lm_param_count(
    cell_name: str, vocab_size: int, embed_dim: int, num_layers: int, hidden_size: int
) -> int:
    """Exact number of parameters of `CharLM` with this configuration (shapes only, no FLOPs)."""
    model = CharLM(vocab_size, cell_name, hidden_size, num_layers, embed_dim)
    shapes = jax.eval_shape(
        model.init,
        jax.random.key(0),
        model.initial_carries(1),
        jnp.zeros((1, 1), jnp.int32),
    )
    return count_params(shapes["params"])


def hidden_size_for_budget(
    cell_name: str, vocab_size: int, embed_dim: int, num_layers: int, param_budget: int
) -> int:
    """The largest hidden size H whose `CharLM(vocab_size, cell_name, H, num_layers,
    embed_dim)` has at most `param_budget` parameters, so that cells can be compared at an equal
    parameter count. Bisection on the exact count, which grows with H."""

    def count(hidden_size: int) -> int:
        return lm_param_count(cell_name, vocab_size, embed_dim, num_layers, hidden_size)

    if count(1) > param_budget:
        raise ValueError(f"even hidden_size=1 exceeds the budget of {param_budget} parameters")
    lo, hi = 1, 2  # invariant: count(lo) <= budget; count(hi) > budget once found
    while count(hi) <= param_budget:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count(mid) <= param_budget:
            lo = mid
        else:
            hi = mid
    return lo


def hidden_state_jacobian_norms(
    cell_name: str,
    hidden_size: int,
    inputs_TxD: jax.Array,
    key: jax.Array,
    *,
    params: Any = None,
    norm: str = "fro",
) -> np.ndarray:
    """How strongly the last hidden state depends on earlier states: for k = 1..T,
    `norms[k - 1] = || d h_T / d s_{T-k} ||`, where s_t is the whole carry after t inputs (s_0
    the zero initial carry).

    The cell (`params`, or a default Flax init from `key`) runs over `inputs_TxD` as a batch of
    one (no batch axis). For the LSTMs s_t = (c_t, h_t): the Jacobian is taken w.r.t. the
    concatenated [c_t, h_t], an H x 2H matrix, since h_T depends on the past through both; for
    the RNN and GRU s_t = h_t. `norm="fro"` gives the Frobenius norm, `"spectral"` the largest
    singular value. Computed by reverse-mode autodiff: H cotangents (the rows of the identity)
    are pulled back through the steps with `jax.vjp`, so all T Jacobians cost one backward scan.
    """
    if norm not in ("fro", "spectral"):
        raise ValueError(f"unknown norm {norm!r}; choose 'fro' or 'spectral'")
    cell = make_cell(cell_name, hidden_size, parent=None)
    carry0 = cell.initialize_carry(key, inputs_TxD.shape[1:])
    if params is None:
        params = cell.init(key, carry0, inputs_TxD[0])

    def step(carry: Carry, x_D: jax.Array) -> Carry:
        return cell.apply(params, carry, x_D)[0]

    def forward(carry, x_D):
        return step(carry, x_D), carry

    carry_T, carries_before = jax.lax.scan(forward, carry0, inputs_TxD)

    def matrix_norm(jac: Carry) -> jax.Array:
        jac_HxS = jnp.concatenate(jax.tree.leaves(jac), axis=-1)
        if norm == "fro":
            return jnp.linalg.norm(jac_HxS)
        return jnp.linalg.svd(jac_HxS, compute_uv=False)[0]

    def backward(jac: Carry, carry_and_x: tuple[Carry, jax.Array]):
        carry, x_D = carry_and_x
        _, pullback = jax.vjp(lambda s: step(s, x_D), carry)
        jac = jax.vmap(lambda row: pullback(row)[0])(jac)
        return jac, matrix_norm(jac)

    # d h_T / d s_T: the identity on h, zero on c.
    eye_HxH = jnp.eye(hidden_size)
    jac_T = (jnp.zeros_like(eye_HxH), eye_HxH) if isinstance(carry_T, tuple) else eye_HxH
    _, norms_T = jax.lax.scan(backward, jac_T, (carries_before, inputs_TxD), reverse=True)
    # norms_T[t] is w.r.t. s_t (t = 0..T-1); reverse so that the index is T - t - 1.
    return np.asarray(norms_T[::-1])


def sample(
    model: CharLM,
    params: Any,
    prompt_ids: np.ndarray,
    key: jax.Array,
    *,
    length: int,
    num_samples: int = 1,
    temperature: float = 1.0,
    top_k: int = 0,
) -> np.ndarray:
    """`num_samples` continuations of `prompt_ids`, each `length` tokens: (num_samples, length).

    The prompt runs through the model once (all samples share it); then token t is drawn from
    softmax(logits / temperature) restricted to the `top_k` most likely tokens (all when 0),
    with the key `fold_in(key, t)`. Temperature 0 is not allowed: use a small value for greedy.
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    prompt = jnp.broadcast_to(jnp.asarray(prompt_ids, jnp.int32), (num_samples, len(prompt_ids)))
    return np.asarray(_sample(model, params, prompt, key, length, temperature, top_k))


@functools.partial(jax.jit, static_argnums=(0, 4, 6))
def _sample(model, params, prompt_BxP, key, length, temperature, top_k):
    carries, logits_BxPxV = model.apply(
        params, model.initial_carries(prompt_BxP.shape[0]), prompt_BxP
    )

    def draw(logits_BxV, t):
        logits_BxV = logits_BxV / temperature
        if top_k:
            kth_B1 = jax.lax.top_k(logits_BxV, top_k)[0][:, -1:]
            logits_BxV = jnp.where(logits_BxV < kth_B1, -jnp.inf, logits_BxV)
        return jax.random.categorical(jax.random.fold_in(key, t), logits_BxV)

    def body(state, t):
        carries, logits_BxV = state
        token_B = draw(logits_BxV, t)
        carries, logits_BxV = model.apply(params, carries, token_B, method=model.step)
        return (carries, logits_BxV), token_B

    _, tokens_LxB = jax.lax.scan(body, (carries, logits_BxPxV[:, -1]), jnp.arange(length))
    return tokens_LxB.T
