"""The char LM's LSTM layer alone, forward and forward + backward: jaxgen's two paths against
PyTorch's.

    python benchmarks/lstm_layer.py [--quick] [--repeats 7] [--steps 5]

The layer of `experiments/char_lm.py` (`jaxgen.nn.lstm.lstm_sequence`): 100 steps of batch 32,
32 inputs, 256 units, from a nonzero carry, random weights (the same in every contender: PyTorch's
`nn.LSTM` gets W_i and W_h transposed and b as its input bias, its hidden bias zero). Two cases:

- `forward`: the outputs, without gradients (evaluation, a sampler's prompt);
- `train`: the gradients of a loss reading every output and the final carry with respect to the
  weights, the bias, the carry and the inputs (PyTorch: forward and `backward()`).

Contenders: `scan`, XLA's scans and their `custom_vjp` (`use_onednn=False`: what every other
platform runs); `onednn`, the recurrence in jaxgen's oneDNN library (`use_onednn=True`, what
jaxgen runs on the CPU when `make native` built it); `torch`, `nn.LSTM` (oneDNN's LSTM primitive
inside PyTorch 2.13), eager with 2 threads. Each call finishes before the next starts. The
results are checked first: each contender's outputs (or gradients) against the scan's
(`max_rel_diff`, relative to the largest magnitude). `ms_median` per contender and `ratios_over`
the first contender (`onednn` where it is built, else `scan`): each other contender's speed over
the first's (above 1: faster than it), the median of the per-round ratios. `--quick`: a 10-step,
16-unit layer, 2 rounds of 1 call.
"""

from __future__ import annotations

import harness
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nn import onednn
from jaxgen.nn.lstm import lstm_sequence

# (steps, batch, inputs, hidden): the char LM's default preset, and --quick's.
SIZES = {"full": (100, 32, 32, 256), "quick": (10, 8, 8, 16)}


def layer_inputs(steps: int, batch: int, inputs: int, hidden: int, seed: int = 0):
    """(w_i, w_h, b, (c0, h0), x) drawn at the scale of a trained layer's."""
    keys = jax.random.split(jax.random.key(seed), 6)
    w_i = jax.random.normal(keys[0], (inputs, 4 * hidden)) / np.sqrt(inputs)
    w_h = jax.random.normal(keys[1], (hidden, 4 * hidden)) / np.sqrt(hidden)
    b = 0.1 * jax.random.normal(keys[2], (4 * hidden,))
    carry = (0.5 * jax.random.normal(keys[3], (batch, hidden)), jnp.zeros((batch, hidden)))
    x = jax.random.normal(keys[4], (batch, steps, inputs))
    return w_i, w_h, b, carry, x


def loss(w_i, w_h, b, carry, x, use_onednn):
    """Reads every output and both parts of the final carry."""
    (c, h), h_all = lstm_sequence(w_i, w_h, b, carry, x, use_onednn=use_onednn)
    return jnp.sum(h_all * h_all) + jnp.sum(c) + jnp.sum(h)


def jaxgen_contenders():
    """({path: forward}, {path: gradients}), the library's path first where it is built."""
    paths = {"onednn": True, "scan": False} if onednn.available() else {"scan": False}
    forward = {
        name: jax.jit(lambda *a, f=flag: lstm_sequence(*a, use_onednn=f))
        for name, flag in paths.items()
    }
    train = {
        name: jax.jit(jax.grad(lambda *a, f=flag: loss(*a, f), argnums=(0, 1, 2, 3, 4)))
        for name, flag in paths.items()
    }
    return forward, train


def torch_layer(torch, w_i, w_h, b, carry, x):
    """`nn.LSTM` holding the same weights, and the inputs as tensors (requiring gradients)."""
    inputs, hidden = w_i.shape[0], w_h.shape[0]
    layer = torch.nn.LSTM(inputs, hidden, batch_first=True)
    with torch.no_grad():
        layer.weight_ih_l0.copy_(torch.from_numpy(np.asarray(w_i).T.copy()))
        layer.weight_hh_l0.copy_(torch.from_numpy(np.asarray(w_h).T.copy()))
        layer.bias_ih_l0.copy_(torch.from_numpy(np.asarray(b).copy()))
        layer.bias_hh_l0.zero_()
    tensor = lambda a: torch.from_numpy(np.asarray(a).copy()).requires_grad_(True)  # noqa: E731
    c0, h0 = carry
    return layer, tensor(x), tensor(np.asarray(h0)[None]), tensor(np.asarray(c0)[None])


def torch_contenders(torch, arrays):
    layer, x, h0, c0 = torch_layer(torch, *arrays)

    def forward():
        with torch.no_grad():
            h_all, (h, c) = layer(x, (h0, c0))
        return (c[0], h[0]), h_all

    def train():
        for p in (*layer.parameters(), x, h0, c0):
            p.grad = None
        h_all, (h, c) = layer(x, (h0, c0))
        ((h_all * h_all).sum() + c.sum() + h.sum()).backward()
        return layer.weight_ih_l0.grad.T, layer.weight_hh_l0.grad.T, c0.grad[0], x.grad

    return forward, train


def time_case(contenders: dict, reference: str, repeats: int, steps: int, warmup: int) -> dict:
    """Each contender's calls one at a time (`harness.calls(..., wait_each=True)`): the layer's
    calls share no data."""
    runs = {name: harness.calls(fn, wait_each=True) for name, fn in contenders.items()}
    times = harness.interleave(runs, repeats, steps, warmup)
    return {
        "ms_median": harness.medians_ms(times),
        "ratios_over": {reference: harness.ratios_over(times, reference)},
        "results": harness.summarize(times),
    }


def main(argv: list[str] | None = None) -> None:
    bench = harness.Benchmark("lstm_layer", __doc__, repeats=(7, 2), steps=(5, 1))
    args = bench.parse(argv)
    steps, batch, inputs, hidden = SIZES["quick" if args.quick else "full"]
    torch, extra = harness.cpu_kernel_contenders()
    with harness.on_cpu():  # the library is a CPU kernel; time the CPU on a GPU machine too
        arrays = layer_inputs(steps, batch, inputs, hidden)
        forward, train = jaxgen_contenders()
        expected_forward = jax.tree.leaves(forward["scan"](*arrays))
        expected_grads = train["scan"](*arrays)
        checks = {
            "forward": {
                name: max(map(harness.max_rel_diff, jax.tree.leaves(fn(*arrays)), expected_forward))
                for name, fn in forward.items()
                if name != "scan"
            },
            "train": {
                name: max(
                    map(
                        harness.max_rel_diff,
                        jax.tree.leaves(fn(*arrays)),
                        jax.tree.leaves(expected_grads),
                    )
                )
                for name, fn in train.items()
                if name != "scan"
            },
        }
        timed_forward = {name: (lambda fn=fn: fn(*arrays)) for name, fn in forward.items()}
        timed_train = {name: (lambda fn=fn: fn(*arrays)) for name, fn in train.items()}
        if torch is not None:
            torch_forward, torch_train = torch_contenders(torch, arrays)
            outputs = torch_forward()
            ordered = [outputs[0][0], outputs[0][1], outputs[1]]  # (c, h), h_all
            checks["forward"]["torch"] = max(
                harness.max_rel_diff(t.numpy(), e)
                for t, e in zip(ordered, expected_forward, strict=True)
            )
            # The gradients PyTorch gives too: W_i, W_h, c0, x.
            expected_train = [
                expected_grads[0],
                expected_grads[1],
                expected_grads[3][0],
                expected_grads[4],
            ]
            grads = [g.detach().numpy() for g in torch_train()]
            checks["train"]["torch"] = max(
                harness.max_rel_diff(g, e) for g, e in zip(grads, expected_train, strict=True)
            )
            timed_forward["torch"] = torch_forward
            timed_train["torch"] = torch_train
        harness.log(f"max rel diff against the scan's: {checks}")
        bad = {c: d for case in checks.values() for c, d in case.items() if d > 1e-4}
        assert not bad, f"contenders disagree with the scan's results: {bad}"
        reference = next(iter(forward))
        cases = {
            "forward": time_case(timed_forward, reference, args.repeats, args.steps, args.warmup),
            "train": time_case(timed_train, reference, args.repeats, args.steps, args.warmup),
        }
    bench.emit(
        protocol_note="a step: one call of the layer (forward) or of its gradients (train)",
        layer={"steps": steps, "batch": batch, "inputs": inputs, "hidden": hidden},
        max_rel_diff=checks,
        cases=cases,
        **extra,
    )


if __name__ == "__main__":
    main()
