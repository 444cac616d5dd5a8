"""Kernel-gradient time of flax.linen.ConvTranspose vs jaxgen.nn.ConvTranspose.

XLA's CPU backend runs the autodiff kernel gradient of a transposed convolution (a convolution over
the stride-dilated input) very slowly; jaxgen.nn.ConvTranspose computes the same gradient as the
kernel gradient of the adjoint strided convolution. This script measures both on DCGAN-sized
layers and prints one JSON object.

    python benchmarks/conv_transpose_grad.py [--batch 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nn import ConvTranspose

# (name, input spatial size, in channels, out channels); 5x5 kernel, stride 2, SAME padding.
LAYERS = [("7x7x128->14x14x64", 7, 128, 64), ("14x14x64->28x28x1", 14, 64, 1)]


def best_time_ms(fn: Callable[[], jax.Array], repeats: int) -> float:
    """Best wall time in ms of ``fn()`` over ``repeats`` runs after one warm-up (compile) call."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def time_layer(hw: int, c_in: int, c_out: int, batch: int, repeats: int) -> dict[str, float]:
    """Time the jitted kernel gradient (which includes the forward pass) for both modules."""
    kx, kp, kr = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (batch, hw, hw, c_in))
    ref = nn.ConvTranspose(c_out, (5, 5), strides=(2, 2), padding="SAME")
    ours = ConvTranspose(c_out, (5, 5), strides=(2, 2), padding="SAME")
    params = ref.init(kp, x[:1])["params"]
    r = jax.random.normal(kr, (batch, 2 * hw, 2 * hw, c_out))

    # Everything is a jit argument: closed-over arrays would become constants that XLA tries to
    # constant-fold, i.e. it would run the slow convolution at compile time instead.
    args = (params["kernel"], params["bias"], x, r)
    out: dict[str, float] = {}
    grads = {}
    for name, module in (("flax", ref), ("jaxgen", ours)):

        def loss(kernel, bias, x, r, module=module):
            return jnp.sum(module.apply({"params": {"kernel": kernel, "bias": bias}}, x) * r)

        grad_fn = jax.jit(jax.grad(loss))
        fwd_fn = jax.jit(loss)
        out[f"{name}_kernel_grad_ms"] = best_time_ms(lambda g=grad_fn: g(*args), repeats)
        out[f"{name}_forward_ms"] = best_time_ms(lambda f=fwd_fn: f(*args), repeats)
        grads[name] = np.asarray(grad_fn(*args))
    out["speedup"] = out["flax_kernel_grad_ms"] / out["jaxgen_kernel_grad_ms"]
    # Sanity check that the timed computations agree (relative to the gradient's scale).
    scale = float(np.max(np.abs(grads["flax"])))
    out["max_rel_grad_diff"] = float(np.max(np.abs(grads["flax"] - grads["jaxgen"]))) / scale
    return {k: round(v, 3) if k != "max_rel_grad_diff" else v for k, v in out.items()}


def main() -> None:
    """Parse flags, time every layer and print the results as one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    result = {
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "batch": args.batch,
        "repeats": args.repeats,
        "kernel": [5, 5],
        "strides": [2, 2],
        "layers": {
            name: time_layer(hw, c_in, c_out, args.batch, args.repeats)
            for name, hw, c_in, c_out in LAYERS
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
