"""jaxgen.nn.onednn.run_after: the same values, and a dependency XLA:CPU's executor keeps.

Skipped (with the reason) only when the library is not built (`make native`) or is turned off
by JAXGEN_ONEDNN=0, as tests/nn/test_onednn_conv.py's are; without it run_after is the identity
(tested here too).
"""

import re

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nn import onednn
from tests.nn.test_onednn_conv import requires_onednn

TARGET = "jaxgen_run_after"


def _compiled(fn, *args) -> str:
    return jax.jit(fn).lower(*args).compile().as_text()


def _deps():
    return {"a": jnp.arange(4.0), "b": jnp.ones((2, 2), jnp.int32)}


@requires_onednn
def test_run_after_is_x_and_stays_in_the_compiled_program():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 5)), jnp.float32)

    def f(x, deps):
        return onednn.run_after(x * 2.0, deps)

    np.testing.assert_array_equal(jax.jit(f)(x, _deps()), x * 2.0)
    text = _compiled(f, x, _deps())
    # XLA keeps the custom call (it drops lax.optimization_barrier), with x and both deps.
    (call,) = [line for line in text.splitlines() if f'custom_call_target="{TARGET}"' in line]
    operands = re.search(r"custom-call\(([^)]*)\)", call).group(1).split(",")
    assert len(operands) == 3, call
    # x still needed after the call: XLA copies it for the alias, and both values are right.
    y, x_again = jax.jit(lambda x, d: (onednn.run_after(x, d), x + 1.0))(x, _deps())
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(x_again, x + 1.0)


@requires_onednn
def test_run_after_is_the_identity_under_grad_and_vmap():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(4, 3)), jnp.float32)
    grad = jax.jit(jax.grad(lambda x: jnp.sum(onednn.run_after(x, _deps()) ** 2)))(x)
    np.testing.assert_array_equal(grad, 2.0 * x)
    batched_deps = {"a": jnp.zeros((4, 2)), "b": jnp.ones(3)}  # one batched, one not
    vmapped = jax.vmap(lambda x, d: onednn.run_after(x + 1.0, d), in_axes=(0, {"a": 0, "b": None}))
    out = jax.jit(vmapped)(x, batched_deps)
    np.testing.assert_array_equal(out, x + 1.0)


@requires_onednn
def test_run_after_is_not_in_a_gpu_lowering():
    x = jnp.ones((2, 3))
    f = jax.jit(lambda x, d: onednn.run_after(x, d))
    assert TARGET in f.trace(x, _deps()).lower(lowering_platforms=("cpu",)).as_text()
    assert TARGET not in f.trace(x, _deps()).lower(lowering_platforms=("cuda",)).as_text()


def test_run_after_without_the_library_or_deps_is_x(monkeypatch):
    x = jnp.ones((2, 3))
    assert onednn.run_after(x) is x
    monkeypatch.setattr(onednn, "available", lambda: False)
    assert onednn.run_after(x, _deps()) is x


@requires_onednn
def test_calls_library_finds_the_library_s_primitives_in_a_traced_function():
    x, w = jnp.ones((1, 6, 6, 2)), jnp.ones((3, 3, 2, 4))
    assert onednn.calls_library(lambda x, w: onednn.conv2d(x, w, padding="SAME"), x, w)
    # inside jit, under grad, and given shapes alone
    conv_loss = jax.jit(lambda x, w: jnp.sum(onednn.conv_transpose(x, w, 2, "SAME")))
    spec = jax.ShapeDtypeStruct((1, 6, 6, 2), jnp.float32)
    assert onednn.calls_library(jax.grad(conv_loss, argnums=1), spec, w)
    assert not onednn.calls_library(lambda x, w: jnp.tanh(x) @ w[0, 0], x, w)


def test_calls_library_without_the_library_is_false(monkeypatch):
    monkeypatch.setattr(onednn, "available", lambda: False)
    x, w = jnp.ones((1, 6, 6, 2)), jnp.ones((3, 3, 2, 4))
    assert not onednn.calls_library(lambda x, w: onednn.conv2d(x, w, padding="SAME"), x, w)
