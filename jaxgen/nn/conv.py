"""The convolution layers the families build with: flax's layers and parameters, computed by the
fastest kernels each platform has.

- `Conv` is `flax.linen.Conv` (same parameters, names and initialisers) whose convolution is
  `onednn.conv_general_dilated_compatible`: on the CPU, oneDNN's primitives when `make native`
  has built them, else XLA's; on GPUs and TPUs, XLA's (chosen per platform when the program is
  lowered).
- `ConvTranspose` is `flax.linen.ConvTranspose` (with `transpose_kernel=False`) through
  `onednn.conv_transpose`: oneDNN on the CPU when built, else `conv_transpose.conv_transpose`,
  whose backward pass avoids XLA:CPU's slow kernel gradient of a transposed convolution and
  whose CPU forward pass is the sub-pixel form.

Every form computes the same convolution; they differ in the order of float32 sums only, so a
run's numbers move by rounding when oneDNN is built or removed (README, "Convolutions on the
CPU"). `backend()` says which kernels a CPU run gets, for the run's report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from jaxgen.nn import onednn
from jaxgen.nn.conv_transpose import Array


def backend() -> str:
    """One line: the convolution kernels of computations lowered for the CPU."""
    if onednn.available():
        return f"oneDNN {onednn.runtime()} (jaxgen/nn/onednn.py)"
    return str(onednn.unavailable_reason())  # "... not built (make native); using XLA's"


class Conv(nn.Conv):
    """`flax.linen.Conv`, its convolution on oneDNN on the CPU where built (module docstring)."""

    conv_general_dilated: Callable[..., Any] | None = onednn.conv_general_dilated_compatible


class ConvTranspose(nn.Module):
    """Drop-in replacement for ``flax.linen.ConvTranspose`` (2-D, NHWC) with fast kernels.

    Same parameters (``kernel`` of shape (kh, kw, in, out), ``bias`` of shape (out,)), same
    initialisers and same output as ``flax.linen.ConvTranspose`` with ``transpose_kernel=False``
    (to float rounding); computed by ``onednn.conv_transpose`` (module docstring).
    """

    features: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "SAME"
    use_bias: bool = True
    kernel_init: Callable[..., Any] = nn.linear.default_kernel_init
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, inputs: Array) -> Array:
        """Apply the transposed convolution to ``inputs`` of shape (*batch, H, W, C_in).

        Like flax, any number of leading batch axes (including none) is accepted: they are
        flattened into one for the convolution and restored afterwards.
        """
        kernel_size = onednn.as_pair(self.kernel_size, "kernel_size")
        strides = onednn.as_pair(self.strides, "strides")  # onednn.conv_transpose checks padding

        batch_shape = inputs.shape[:-3]
        x = inputs.reshape((-1,) + inputs.shape[-3:])

        in_features = x.shape[-1]
        kernel = self.param(
            "kernel", self.kernel_init, kernel_size + (in_features, self.features), jnp.float32
        )
        y = onednn.conv_transpose(x, kernel, strides, self.padding)
        if self.use_bias:
            bias = self.param("bias", self.bias_init, (self.features,), jnp.float32)
            y = y + bias
        return y.reshape(batch_shape + y.shape[1:])
