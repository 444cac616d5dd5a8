"""Recurrent-model analysis: the hidden-state Jacobian norms behind the vanishing-gradient
picture (how strongly a cell's last hidden state depends on states k steps back)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nn.cells import make_cell

Carry = Any


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
