"""The character-level language model `CharLM` and its parameter budgeting: the exact parameter
count of a configuration, and the hidden size that fits a budget (to compare cells at an equal
parameter count)."""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nn.cells import make_cell, recurrent_layer
from jaxgen.nn.common import count_params

Carry = Any


class CharLM(nn.Module):
    """Recurrent language model over a vocabulary of `vocab_size` tokens.

    tokens -> embedding (`embed_dim`) -> `num_layers` recurrent layers of `cell` with
    `hidden_size` units, each scanned over time (`jaxgen.nn.cells.recurrent_layer`) -> Dense to
    next-token logits.
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
        self.layers = [recurrent_layer(self.cell, self.hidden_size) for _ in range(self.num_layers)]
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
