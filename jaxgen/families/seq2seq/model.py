"""The encoder-decoder RNN: N source symbols in, M target symbols out.

Encoder: an embedding, then `num_layers` recurrent layers of one of jaxgen's cells
(jaxgen/nn/cells.py), each scanned over the source by `nn.RNN` with the source lengths (padding
never reaches a carry); `bidirectional` runs each layer both ways with half the units a way and
joins them, so the decoder sees `hidden_size` units either way.

Decoder: one step at a time (`decode_step`, the interface of decoding.py), from the encoder's
final carries, layer by layer. Attention (`attention`):
- "none": the encoder's final state is all the decoder gets (Sutskever, Vinyals & Le 2014);
- "bahdanau": additive attention (Bahdanau, Cho & Bengio 2015): the score of source position j
  is v . tanh(W_q s + W_k h_j) with s the top decoder layer's previous hidden state; the context
  enters the cell with the previous symbol and the readout with the cell's output;
- "luong": multiplicative attention (Luong, Pham & Manning 2015, "general" score s . W h_j)
  after the cell, the attentional state tanh(W_c [context; s]) read out and fed to the next
  step's input (input feeding).

The decoder state is a dict with a leading batch axis on every leaf: `carries` (one a layer),
`memory` (the encoder's outputs), `keys` (the memory projected once for the scores), `mask`
(real source positions) and `feed` (Luong's attentional state; zeros otherwise).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nn.cells import make_cell

ATTENTIONS = ("none", "bahdanau", "luong")
State = dict[str, Any]


def top_hidden(carry) -> jax.Array:
    """The hidden output h of a cell's carry: (c, h) for the LSTMs, h itself otherwise."""
    return carry[1] if isinstance(carry, tuple) else carry


def masked_softmax(scores_BxS: jax.Array, mask_BxS: jax.Array) -> jax.Array:
    return jax.nn.softmax(jnp.where(mask_BxS, scores_BxS, -1e9), axis=-1)


class Seq2Seq(nn.Module):
    source_vocab: int
    target_vocab: int
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    embed_dim: int = 64
    bidirectional: bool = False
    attention: str = "bahdanau"

    def setup(self):
        if self.attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {self.attention!r}; choose one of {ATTENTIONS}")
        if self.bidirectional and self.hidden_size % 2:
            raise ValueError("a bidirectional encoder splits hidden_size in two: make it even")
        self.source_embed = nn.Embed(self.source_vocab, self.embed_dim)
        self.target_embed = nn.Embed(self.target_vocab, self.embed_dim)
        if self.bidirectional:
            half = self.hidden_size // 2
            self.encoder = [
                nn.Bidirectional(
                    nn.RNN(make_cell(self.cell, half)), nn.RNN(make_cell(self.cell, half))
                )
                for _ in range(self.num_layers)
            ]
        else:
            self.encoder = [
                nn.RNN(make_cell(self.cell, self.hidden_size)) for _ in range(self.num_layers)
            ]
        self.decoder = [make_cell(self.cell, self.hidden_size) for _ in range(self.num_layers)]
        if self.attention == "bahdanau":
            self.query = nn.Dense(self.hidden_size, use_bias=False)
            self.key = nn.Dense(self.hidden_size)
            self.energy = nn.Dense(1, use_bias=False)
        elif self.attention == "luong":
            self.key = nn.Dense(self.hidden_size, use_bias=False)
            self.combine = nn.Dense(self.hidden_size, use_bias=False)
        self.readout = nn.Dense(self.target_vocab)

    def __call__(self, source_BxS, lengths_B, tokens_B):
        """One decoding step after encoding (what `init` traces, so every parameter exists)."""
        return self.decode_step(self.encode(source_BxS, lengths_B), tokens_B)

    def encode(self, source_BxS: jax.Array, lengths_B: jax.Array) -> State:
        """The decoder's starting state for a batch of padded sources."""
        x = self.source_embed(source_BxS)
        carries = []
        for layer in self.encoder:
            carry, x = layer(x, seq_lengths=lengths_B, return_carry=True)
            if self.bidirectional:  # join the two directions' carries unit-wise
                carry = jax.tree.map(lambda f, b: jnp.concatenate([f, b], -1), *carry)
            carries.append(carry)
        batch = source_BxS.shape[0]
        keys = x if self.attention == "none" else self.key(x)
        return {
            "carries": tuple(carries),
            "memory": x,
            "keys": keys,
            "mask": jnp.arange(source_BxS.shape[1])[None] < lengths_B[:, None],
            "feed": jnp.zeros((batch, self.hidden_size), x.dtype),
        }

    def decode_step(self, state: State, tokens_B: jax.Array):
        """(logits_BxV, next state, attention_BxS) after feeding the previous symbols."""
        x = self.target_embed(tokens_B)
        context = None
        if self.attention == "bahdanau":
            query = self.query(top_hidden(state["carries"][-1]))
            scores = self.energy(jnp.tanh(query[:, None] + state["keys"]))[..., 0]
            weights = masked_softmax(scores, state["mask"])
            context = jnp.einsum("bs,bsh->bh", weights, state["memory"])
            x = jnp.concatenate([x, context], -1)
        elif self.attention == "luong":
            x = jnp.concatenate([x, state["feed"]], -1)
        carries = []
        for cell, carry in zip(self.decoder, state["carries"], strict=True):
            carry, x = cell(carry, x)
            carries.append(carry)
        feed = state["feed"]
        if self.attention == "bahdanau":
            out = jnp.concatenate([x, context], -1)
        elif self.attention == "luong":
            weights = masked_softmax(jnp.einsum("bh,bsh->bs", x, state["keys"]), state["mask"])
            context = jnp.einsum("bs,bsh->bh", weights, state["memory"])
            out = feed = jnp.tanh(self.combine(jnp.concatenate([context, x], -1)))
        else:
            out = x
            weights = jnp.zeros(state["mask"].shape, x.dtype)
        new_state = {**state, "carries": tuple(carries), "feed": feed}
        return self.readout(out), new_state, weights
