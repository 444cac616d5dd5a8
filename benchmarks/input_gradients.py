"""A convolution's input gradient alone, into few channels: XLA vs jaxgen's oneDNN vs PyTorch.

    python benchmarks/input_gradients.py [--quick] [--repeats 7] [--steps 3] [--cases NAME,...]

The gradient of an image (texture synthesis, style transfer, DeepDream, a generator's gradient
through its discriminator's first layer) and the forward pass of a transposed convolution to an
image are a convolution's backward-data into 1 to 3 channels. jaxgen routes it by the number of
channels it produces (`jaxgen/nn/onednn.py`): into at most `onednn.planar_max_channels()` (4)
on oneDNN with planar NCHW/OIHW layouts (oneDNN's im2col GEMM), into 5 to 15 on XLA, from 16 on
oneDNN's blocked kernels. Each case times that gradient alone, the kernel fixed:

- `xla`: the VJP of `lax.conv_general_dilated` with respect to its input (XLA's transposed
  convolution);
- `onednn`: the VJP of `onednn.conv2d`, routed as jaxgen routes it;
- `onednn_primitive`: oneDNN's backward-data primitive whatever the channels (for 5 to 15 its
  blocked kernels, which jaxgen does not use there; the same as `onednn` elsewhere);
- `torch`: `torch.ops.aten.convolution_backward` with only the input's gradient asked for
  (PyTorch eager, NCHW, 2 threads), which is what its autograd runs for a frozen kernel.

Cases (SAME padding; a stride-2 case pads PyTorch symmetrically, the same shapes and work):
the texture synthesis network's 3x3 and 23x23 layers (64 -> 1 channel at 128x128, batch 1),
VGG's first layer at style transfer's 170x256 (64 -> 3), the DCGAN discriminator's first layer
(64 -> 1, 5x5 stride 2 at 28x28, batch 256) and a 5x5 stride-1 one of the same size, and 3x3
layers into 2, 4, 8 and 16 channels at 32x32, batch 64. The gradients are checked against
XLA's first (`max_rel_diff`, relative to the largest magnitude). `ms_median` per contender and
`ratios_xla_over` (XLA's time over each contender's, median of the per-round ratios).
`--quick`: 2 rounds of 1 call.
"""

from __future__ import annotations

import harness
import jax
import numpy as np
from jax import lax

from jaxgen.nn import onednn

_DN = ("NHWC", "HWIO", "NHWC")
# name -> (batch, height, width, channels of the gradient, channels of the output, kernel, stride)
CASES = {
    "texture_3x3_64to1_128px": (1, 128, 128, 1, 64, 3, 1),
    "texture_23x23_64to1_128px": (1, 128, 128, 1, 64, 23, 1),
    "vgg_block1_3x3_64to3_170x256": (1, 170, 256, 3, 64, 3, 1),
    "dcgan_d1_5x5s2_64to1_28px": (256, 28, 28, 1, 64, 5, 2),
    "5x5_64to1_28px": (256, 28, 28, 1, 64, 5, 1),
    "3x3_64to2_32px": (64, 32, 32, 2, 64, 3, 1),
    "3x3_64to4_32px": (64, 32, 32, 4, 64, 3, 1),
    "3x3_64to8_32px": (64, 32, 32, 8, 64, 3, 1),
    "3x3_64to16_32px": (64, 32, 32, 16, 64, 3, 1),
}


def input_gradient(conv, x, w):
    """A jitted dy -> dx of `conv(x, w)` at the kernel w (the forward pass is not needed)."""

    @jax.jit
    def grad(dy):
        _, vjp = jax.vjp(lambda x: conv(x, w), x)
        return vjp(dy)[0]

    return grad


def contenders(x, w, stride) -> dict:
    s = (stride, stride)
    pads = onednn.resolve_padding(x.shape[1:3], w.shape[:2], s, "SAME")
    fns = {
        "xla": input_gradient(
            lambda x, w: lax.conv_general_dilated(x, w, s, pads, dimension_numbers=_DN), x, w
        )
    }
    if onednn.available():
        fns["onednn"] = input_gradient(lambda x, w: onednn.conv2d(x, w, s, pads), x, w)
        primitive = onednn._ffi("jaxgen_onednn_conv_bwd_data", x.shape, s, pads, (1, 1))
        fns["onednn_primitive"] = jax.jit(lambda dy: primitive(dy, w))
    return fns


def torch_contender(torch, x, w, dy, stride):
    xt = torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())
    wt = torch.from_numpy(np.asarray(w).transpose(3, 2, 0, 1).copy())
    dyt = torch.from_numpy(np.asarray(dy).transpose(0, 3, 1, 2).copy())
    pad = [w.shape[0] // 2, w.shape[1] // 2]
    backward = torch.ops.aten.convolution_backward

    def run(n: int) -> None:
        for _ in range(n):
            (dx, _, _) = backward(
                dyt, xt, wt, None, [stride] * 2, pad, [1, 1], False, [0, 0], 1, [True, False, False]
            )
            assert dx.shape == xt.shape

    return run


def time_case(name, repeats, steps, warmup, torch) -> dict:
    batch, height, width, c_in, c_out, k, stride = CASES[name]
    kx, kw, kd = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (batch, height, width, c_in))
    w = jax.random.normal(kw, (k, k, c_in, c_out)) / np.sqrt(k * k * c_in)
    dy = jax.random.normal(kd, (batch, -(-height // stride), -(-width // stride), c_out))
    fns = contenders(x, w, stride)
    grads = {cname: fn(dy) for cname, fn in fns.items()}
    checks = {
        cname: harness.max_rel_diff(g, grads["xla"]) for cname, g in grads.items() if cname != "xla"
    }
    assert all(v < 1e-4 for v in checks.values()), (name, checks)
    runs = {cname: harness.calls(lambda fn=fn: fn(dy)) for cname, fn in fns.items()}
    if torch is not None:
        runs["torch"] = torch_contender(torch, x, w, dy, stride)
    harness.log(f"== {name}: dx {x.shape}, w {w.shape}, stride {stride}, max rel diff {checks}")
    times = harness.interleave(runs, repeats, steps, warmup)
    return {
        "dx": list(x.shape),
        "w": list(w.shape),
        "stride": stride,
        "ms_median": harness.medians_ms(times),
        "ratios_xla_over": harness.ratios_over(times, "xla"),
        "max_rel_diff": checks,
        "results": harness.summarize(times),
    }


def main(argv: list[str] | None = None) -> None:
    bench = harness.Benchmark("input_gradients", __doc__, repeats=(7, 2), steps=(3, 1))
    bench.parser.add_argument("--cases", default=",".join(CASES), help="comma-separated names")
    args = bench.parse(argv)
    torch, extra = harness.cpu_kernel_contenders()
    if onednn.available():
        extra["planar_max_channels"] = onednn.planar_max_channels()
    with harness.on_cpu():  # CPU kernels, also where there is a GPU
        cases = {
            name: time_case(name, args.repeats, args.steps, args.warmup, torch)
            for name in args.cases.split(",")
        }
    bench.emit(protocol_note="a step: one input gradient", **extra, cases=cases)


if __name__ == "__main__":
    main()
