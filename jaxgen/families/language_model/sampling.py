"""Sampling text from a `CharLM`: temperature and top-k sampling after a shared prompt."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.families.language_model.model import CharLM


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
