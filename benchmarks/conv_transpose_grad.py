"""Kernel-gradient time of flax.linen.ConvTranspose vs jaxgen.nn.ConvTranspose.

XLA's CPU backend runs the autodiff kernel gradient of a transposed convolution (a convolution over
the stride-dilated input) very slowly; jaxgen.nn.ConvTranspose computes the same gradient as the
kernel gradient of the adjoint strided convolution. This script measures both on DCGAN-sized
layers and prints one JSON object.

    python benchmarks/conv_transpose_grad.py [--quick] [--batch 256] [--repeats 5] [--warmup 1]

The jitted kernel gradient (which includes the forward pass) and the forward pass alone of both
modules are timed interleaved, one call per round (benchmarks/harness.py); `*_ms` is the
fastest round (as before the harness), `*_ms_median` the median. `--quick`: batch 32, 2 rounds.
On the CPU, jaxgen's forward pass is the sub-pixel form (one stride-1 convolution to 4x the
channels, then depth-to-space: `jaxgen.nn.conv_transpose.subpixel_forward`) and flax's is XLA's
transposed convolution, so `jaxgen_forward` against `flax_forward` measures that choice.
"""

from __future__ import annotations

import statistics

import flax.linen as nn
import harness
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nn import ConvTranspose

# (name, input spatial size, in channels, out channels); 5x5 kernel, stride 2, SAME padding.
LAYERS = [("7x7x128->14x14x64", 7, 128, 64), ("14x14x64->28x28x1", 14, 64, 1)]


def time_layer(
    hw: int, c_in: int, c_out: int, batch: int, repeats: int, warmup: int
) -> dict[str, float]:
    """Time the jitted kernel gradient (which includes the forward pass) and the forward pass
    alone for both modules, interleaved."""
    kx, kp, kr = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (batch, hw, hw, c_in))
    ref = nn.ConvTranspose(c_out, (5, 5), strides=(2, 2), padding="SAME")
    ours = ConvTranspose(c_out, (5, 5), strides=(2, 2), padding="SAME")
    params = ref.init(kp, x[:1])["params"]
    r = jax.random.normal(kr, (batch, 2 * hw, 2 * hw, c_out))

    # Everything is a jit argument: closed-over arrays would become constants that XLA tries to
    # constant-fold, i.e. it would run the slow convolution at compile time instead.
    inputs = (params["kernel"], params["bias"], x, r)
    contenders, grads = {}, {}
    for name, module in (("flax", ref), ("jaxgen", ours)):

        def loss(kernel, bias, x, r, module=module):
            return jnp.sum(module.apply({"params": {"kernel": kernel, "bias": bias}}, x) * r)

        grad_fn = jax.jit(jax.grad(loss))
        fwd_fn = jax.jit(loss)
        contenders[f"{name}_kernel_grad"] = harness.calls(lambda g=grad_fn: g(*inputs))
        contenders[f"{name}_forward"] = harness.calls(lambda f=fwd_fn: f(*inputs))
        grads[name] = np.asarray(grad_fn(*inputs))
    times = harness.interleave(contenders, repeats, 1, warmup)
    out: dict[str, float] = {}
    for name, ts in times.items():
        out[f"{name}_ms"] = 1e3 * min(ts)
        out[f"{name}_ms_median"] = 1e3 * statistics.median(ts)
    out["speedup"] = out["flax_kernel_grad_ms"] / out["jaxgen_kernel_grad_ms"]
    # Sanity check that the timed computations agree (relative to the gradient's scale).
    scale = float(np.max(np.abs(grads["flax"])))
    out["max_rel_grad_diff"] = float(np.max(np.abs(grads["flax"] - grads["jaxgen"]))) / scale
    return {k: round(v, 3) if k != "max_rel_grad_diff" else v for k, v in out.items()}


def main() -> None:
    """Parse flags, time every layer and print the results as one JSON object."""
    bench = harness.Benchmark("conv_transpose_grad", __doc__, repeats=(5, 2))
    bench.parser.add_argument("--batch", type=int, default=None, help="256, quick 32")
    args = bench.parse()
    args.batch = args.batch or (32 if args.quick else 256)
    bench.emit(
        protocol_note="1 call per round; *_ms: the fastest round, *_ms_median: the median",
        batch=args.batch,
        kernel=[5, 5],
        strides=[2, 2],
        layers={
            name: time_layer(hw, c_in, c_out, args.batch, args.repeats, args.warmup)
            for name, hw, c_in, c_out in LAYERS
        },
    )


if __name__ == "__main__":
    main()
