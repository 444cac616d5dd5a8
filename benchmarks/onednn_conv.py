"""XLA:CPU convolutions vs jaxgen's oneDNN convolutions (jaxgen.nn.onednn) vs PyTorch eager.

    python benchmarks/onednn_conv.py [--quick] [--batch 256] [--repeats 5] [--steps 1]
                                     [--warmup 1] [--cases NAME,...] [--skip-torch]

Cases (the DCGAN's layers and a wide 5x5 convolution; batch 256), each timed as one jitted
forward pass plus the gradients with respect to the input and the kernel (`jax.grad` of
sum(y * r), r fixed):

- `conv5x5_256to128_7x7`: 5x5 SAME convolution, 256 -> 128 channels at 7x7.
- `conv5x5s2_1to64_28x28`, `conv5x5s2_64to128_14x14`: the discriminator's 5x5 stride-2 SAME
  convolutions.
- `convT5x5s2_128to64_7x7`, `convT5x5s2_64to1_14x14`: the generator's 5x5 stride-2 SAME
  transposed convolutions (7 -> 14, 14 -> 28).

Contenders, interleaved in one process (benchmarks/harness.py), `--steps` calls per round:

- `xla`: `lax.conv_general_dilated` (autodiff backward), and for the transposed convolutions
  `jaxgen.nn.conv_transpose` (XLA convolutions with jaxgen's fast kernel gradient; plain
  `lax.conv_transpose` autodiff takes seconds here, see conv_transpose_grad.py).
- `onednn`: `jaxgen.nn.onednn` as it is by default (`onednn.set_layout('any_weights')`): the
  kernel reordered to oneDNN's preferred layout (`format_tag::any`) on every call, the
  activations read and written in place (NHWC); backward-data into at most 4 channels on
  planar layouts (oneDNN's im2col GEMM), into 5 to 15 on XLA.
- `onednn_any`: every tensor in oneDNN's preferred layouts, reordered to and from the
  NHWC/HWIO buffers on every call.
- `onednn_plain`: oneDNN on the NHWC/HWIO buffers in place, no reorders.
  The layout is switched at run time, in the library, by `onednn.set_layout`.
- `torch`: PyTorch eager `F.conv2d` / `F.conv_transpose2d` (NCHW, torch's own oneDNN),
  `torch.set_num_threads(2)`, forward + `backward()`; symmetric padding 2 (+ output_padding 1
  for the transposed ones) gives the same shapes and work as SAME's (1, 2).

Not switchable within a process, so not here: XLA with
`--xla_cpu_experimental_ynn_fusion_type=-individual_convolution`.

The oneDNN gradients are checked against XLA's before timing (`max_rel_diff`, relative to each
gradient's largest magnitude). `ratios`: XLA's time over each contender's (>1: faster than XLA),
median over rounds of the per-round ratio. `--quick`: batch 32, 2 rounds. Without the library
(`make native`) only `xla` and `torch` run, and the JSON says why (`onednn_unavailable`).
"""

from __future__ import annotations

import harness
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgen.nn import conv_transpose as xla_conv_transpose
from jaxgen.nn import onednn

_DN = ("NHWC", "HWIO", "NHWC")
DEFAULT_LAYOUT = "any_weights"  # the library's default
LAYOUTS = {"onednn_any": "any", "onednn_plain": "plain"}  # the other contenders: the default
# name -> (transposed, input spatial size, in channels, out channels, stride); 5x5 SAME kernels.
CASES = {
    "conv5x5_256to128_7x7": (False, 7, 256, 128, 1),
    "conv5x5s2_1to64_28x28": (False, 28, 1, 64, 2),
    "conv5x5s2_64to128_14x14": (False, 14, 64, 128, 2),
    "convT5x5s2_128to64_7x7": (True, 7, 128, 64, 2),
    "convT5x5s2_64to1_14x14": (True, 14, 64, 1, 2),
}


def jax_contenders(transposed: bool, stride: int) -> dict:
    """name -> (x, w) -> y for the JAX contenders available here."""
    s = (stride, stride)
    if transposed:
        fns = {"xla": lambda x, w: xla_conv_transpose(x, w, s, "SAME")}
        if onednn.available():
            fns["onednn"] = lambda x, w: onednn.conv_transpose(x, w, s, "SAME")
            for name in LAYOUTS:
                fns[name] = fns["onednn"]
    else:
        fns = {"xla": lambda x, w: lax.conv_general_dilated(x, w, s, "SAME", dimension_numbers=_DN)}
        if onednn.available():
            fns["onednn"] = lambda x, w: onednn.conv2d(x, w, s, "SAME")
            for name in LAYOUTS:
                fns[name] = fns["onednn"]
    return fns


def torch_contender(torch, transposed, x, w, r, stride):
    """A harness contender running forward + backward in PyTorch eager (NCHW)."""
    F = torch.nn.functional
    xt = torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy()).requires_grad_()
    if transposed:  # conv_transpose2d's weight is (in, out, kh, kw)
        wt = torch.from_numpy(np.asarray(w).transpose(2, 3, 0, 1).copy()).requires_grad_()
    else:  # conv2d's weight is (out, in, kh, kw)
        wt = torch.from_numpy(np.asarray(w).transpose(3, 2, 0, 1).copy()).requires_grad_()
    rt = torch.from_numpy(np.asarray(r).transpose(0, 3, 1, 2).copy())
    extra = {"output_padding": stride - 1} if transposed else {}
    conv = F.conv_transpose2d if transposed else F.conv2d

    def run(n: int) -> None:
        for _ in range(n):
            xt.grad = wt.grad = None
            y = conv(xt, wt, stride=stride, padding=2, **extra)
            assert y.shape == rt.shape, (y.shape, rt.shape)
            (y * rt).sum().backward()

    return run


def time_case(name, batch, repeats, steps, warmup, torch) -> dict:
    transposed, hw, c_in, c_out, stride = CASES[name]
    kx, kw, kr = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (batch, hw, hw, c_in))
    w = jax.random.normal(kw, (5, 5, c_in, c_out)) / np.sqrt(25 * c_in)
    out_hw = hw * stride if transposed else -(-hw // stride)
    r = jax.random.normal(kr, (batch, out_hw, out_hw, c_out))

    contenders, grads = {}, {}
    for cname, fn in jax_contenders(transposed, stride).items():

        def loss(x, w, r, fn=fn):
            return jnp.sum(fn(x, w) * r)

        grad_fn = jax.jit(jax.grad(loss, argnums=(0, 1)))
        layout = LAYOUTS.get(cname, DEFAULT_LAYOUT)

        def run(n, grad_fn=grad_fn, layout=layout):
            if onednn.available():
                onednn.set_layout(layout)  # read by the library at run time, per call
            for _ in range(n):
                g = grad_fn(x, w, r)
            jax.block_until_ready(g)

        contenders[cname] = run
        if onednn.available():
            onednn.set_layout(layout)
        grads[cname] = grad_fn(x, w, r)
    if torch is not None:
        contenders["torch"] = torch_contender(torch, transposed, x, w, r, stride)

    checks = {}
    for cname, g in grads.items():
        if cname != "xla":
            checks[cname] = max(
                harness.max_rel_diff(a, b) for a, b in zip(g, grads["xla"], strict=True)
            )
            assert checks[cname] < 1e-4, (name, cname, checks[cname])
    harness.log(f"== {name}: x {x.shape}, w {w.shape}, max rel diff vs xla {checks}")
    times = harness.interleave(contenders, repeats, steps, warmup)
    if onednn.available():
        onednn.set_layout(DEFAULT_LAYOUT)
    return {
        "x": list(x.shape),
        "w": list(w.shape),
        "stride": stride,
        "transposed": transposed,
        "ms_median": harness.medians_ms(times),
        "ratios_xla_over": harness.ratios_over(times, "xla"),
        "max_rel_diff": checks,
        "results": harness.summarize(times),
    }


def main() -> None:
    bench = harness.Benchmark("onednn_conv", __doc__, repeats=(5, 2), steps=(1, 1))
    bench.parser.add_argument("--batch", type=int, default=None, help="256, quick 32")
    bench.parser.add_argument("--skip-torch", action="store_true", help="leave PyTorch out")
    bench.parser.add_argument("--cases", default=",".join(CASES), help="comma-separated names")
    args = bench.parse()
    args.batch = args.batch or (32 if args.quick else 256)
    torch, extra = harness.cpu_kernel_contenders(skip_torch=args.skip_torch)
    with harness.on_cpu():  # CPU kernels, also where there is a GPU
        cases = {
            name: time_case(name, args.batch, args.repeats, args.steps, args.warmup, torch)
            for name in args.cases.split(",")
        }
    bench.emit(
        protocol_note="a step: one call of forward + input and kernel gradients",
        batch=args.batch,
        **extra,
        cases=cases,
    )


if __name__ == "__main__":
    main()
