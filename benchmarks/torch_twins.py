"""PyTorch eager twins of jaxgen's train steps, for benchmarks/family_steps.py: per family, the
same networks, losses, optimizers and update order as the jaxgen task, built from the task's
config and holding a copy of its parameters. Not a benchmark itself (no `main`): the step
benchmark imports it when torch is installed.

Every twin is `Twin(task, state, device)`, with `state` a jaxgen train state of the task (numpy
arrays are fine) whose parameters (and batch-norm statistics) it copies, and has:

- `batch(jaxgen_batch) -> dict of tensors` on its device (images NCHW), made once before timing;
- `draw(batch) -> draws`: the step's random inputs (corruption, reparametrization noise, z),
  drawn by torch on the device; `step(batch, draws=None) -> {name: scalar tensor}` is one
  train step (it draws when `draws` is None), the names those of jaxgen's metrics;
- `param_counts() -> {group: trained scalars}` and `GROUPS`, the same groups as paths into
  jaxgen's `state.params`, so the caller can assert the counts equal.
The tests (tests/benchmarks/test_family_steps.py) hand a step jaxgen's own draws and compare its
metrics with jaxgen's `train_step` from the same parameters.

Conventions, all twins:
- Dense kernels (in, out) become Linear weights (out, in); convolution kernels HWIO become OIHW.
  jaxgen's transposed convolution (`jaxgen.nn.ConvTranspose`, like flax's with
  transpose_kernel=False) convolves the stride-dilated input with its kernel as it is;
  PyTorch's ConvTranspose2d is the adjoint of a convolution, i.e. the dilated input with the
  kernel flipped in space: the copy flips it (weight (in, out, kh, kw)).
- 'SAME' pads as XLA pads: total // 2 before and the rest after, so a stride-2 convolution of
  an even side gets its extra row at the bottom and right. PyTorch's `padding=` is symmetric, so
  those layers (`SameConv2d`) pad explicitly (F.pad, a copy of the input) and convolve unpadded;
  a transposed convolution whose SAME padding is uneven (5x5 stride 2: 3 before, 2 after) is run
  with the larger padding and its last row and column cropped (`SameConvTranspose2d`): one row
  and column more than jaxgen computes. Symmetric cases use PyTorch's own padding.
- Flax flattens a feature map (H, W, C), PyTorch (C, H, W): where a Dense layer reads a
  flattened map or is reshaped into one, the copy permutes the kernel's rows or columns (and
  the bias and the batch norm on that vector), so the step has no transpose jaxgen lacks.
- Batch norm: flax's momentum 0.9 is PyTorch's 0.1, epsilon 1e-5 both; both normalise a
  training batch with its biased variance. Instance norm: PyTorch's InstanceNorm2d without
  affine parameters or running statistics, as flax's InstanceNorm without scale and bias.
- Adam (optax's and PyTorch's are the same update: m_hat / (sqrt(v_hat) + eps), eps 1e-8), the
  learning-rate schedule as a `LambdaLR` stepped after each update (optax evaluates its
  schedule at the update count, 0 first), one optimizer per jaxgen optimizer state.
- Gradients of one player's objective with respect to that player only: `torch.autograd.grad`
  with that player's parameters (jaxgen differentiates with respect to one player's
  parameters; autograd then computes no weight gradient of the others).
- Dense networks on images (the dense autoencoder, the dense VAE) read each image as a row in
  flax's (H, W, C) order: such a twin keeps its batch's images as rows (`CHANNELS_FIRST`
  False), and its kernels need no reordering.
- A Bernoulli draw (dynamic binarization, an RBM's units) is a uniform draw below the
  probability, as JAX's `bernoulli` is: the twins draw the uniforms (`torch.rand`) and compare,
  the same work as `torch.bernoulli`, so that the tests can hand them JAX's uniforms.
- A many-seed task (`--config.seeds`, jaxgen/train/replicated.py: the step vmapped over R
  replicas) is R copies of the twin stepped one after another, as R runs are without vmap.
- The reverse family (texture synthesis, DeepDream, class visualisation) reads no data: its
  twins step on an empty batch (`batch({})` is {}), hold the frozen network as a module with
  `requires_grad` off (autograd then computes no weight gradient, as jaxgen differentiates
  with respect to the image only) and the image's parameters as their one group. Their
  integer draws (rolls, the scale's index) are Python ints, what `torch.roll` takes. jaxgen's
  `jnp.std` is the population standard deviation (`correction=0`), and its `abs` has the
  derivative +1 at 0 (`jax_abs`), where neighbouring pixels are equal.
- jaxgen's steps also return metrics the twins do not compute (gradient norms, mean
  discriminator outputs): small reductions, left out here (but for the GAN's diagnostic of
  the two generator losses' gradients, which costs a backward pass).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from jaxgen.data.text import IGNORE_TARGET
from jaxgen.families.image_translation import model as translation_nets
from jaxgen.nn.common import fit_channels, stride2_stages
from jaxgen.nn.conv_transpose import _transpose_padding
from jaxgen.train.replicas import replica

LEAK = 0.2  # the DCGAN players', the U-Net's and the PatchGAN's leaky ReLU slope
LOG_2PI = math.log(2.0 * math.pi)


# ---- layers ------------------------------------------------------------------------------------


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """XLA's SAME padding (before, after) of one axis of `size` (lax.padtype_to_pads)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """nn.Conv2d with XLA's SAME padding (flax's `padding="SAME"`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1):
        super().__init__(in_channels, out_channels, kernel, stride, padding=0)

    def forward(self, x):
        k, s = self.kernel_size[0], self.stride[0]
        (top, bottom), (left, right) = same_pads(x.shape[2], k, s), same_pads(x.shape[3], k, s)
        if top == bottom and left == right:
            return F.conv2d(x, self.weight, self.bias, s, (top, left))
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.weight, self.bias, s)


class SameConvTranspose2d(nn.Module):
    """jaxgen's `ConvTranspose(padding="SAME")` (lax.conv_transpose's padding of the dilated
    input, (lo, hi)) as nn.ConvTranspose2d: padding k - 1 - lo, output_padding hi - lo when hi
    >= lo, else the last lo - hi rows and columns cropped."""

    def __init__(self, in_channels, out_channels, kernel: int, stride: int, bias: bool = True):
        super().__init__()
        lo, hi = _transpose_padding(kernel, stride, "SAME")
        self.crop = max(lo - hi, 0)
        self.conv = nn.ConvTranspose2d(
            in_channels,
            out_channels,
            kernel,
            stride,
            padding=kernel - 1 - lo,
            output_padding=max(hi - lo, 0),
            bias=bias,
        )

    def forward(self, x):
        y = self.conv(x)
        if self.crop:
            y = y[:, :, : y.shape[2] - self.crop, : y.shape[3] - self.crop]
        return y


def batch_norm_2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)


# ---- copying jaxgen's parameters -----------------------------------------------------------------


def put(target: torch.Tensor, value) -> None:
    """Copies `value` (a numpy or jax array) into a parameter or buffer of the same shape."""
    array = np.array(value, np.float32)  # a writable, contiguous copy
    if tuple(target.shape) != array.shape:
        raise ValueError(f"shape {tuple(target.shape)} in PyTorch, {array.shape} in jaxgen")
    with torch.no_grad():
        target.copy_(torch.from_numpy(array))


def chw_order(hwc: Sequence[int]) -> np.ndarray:
    """For each position of a (C, H, W)-flattened map, its index in the (H, W, C)-flattened
    one: flax's order of a flattened NHWC map read in PyTorch's."""
    h, w, c = hwc
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()


def load_dense(linear: nn.Linear, p: dict, rows_hwc=None, cols_hwc=None) -> None:
    """A flax Dense layer into nn.Linear; `rows_hwc`: its input is a flattened (H, W, C) map,
    `cols_hwc`: its output is reshaped into one (the copy reorders them to (C, H, W))."""
    kernel = np.asarray(p["kernel"])
    bias = np.asarray(p["bias"]) if "bias" in p else None
    if rows_hwc is not None:
        kernel = kernel[chw_order(rows_hwc)]
    if cols_hwc is not None:
        order = chw_order(cols_hwc)
        kernel = kernel[:, order]
        bias = None if bias is None else bias[order]
    put(linear.weight, kernel.T)
    if linear.bias is not None:
        put(linear.bias, bias)
    elif bias is not None:
        raise ValueError("jaxgen's layer has a bias, PyTorch's none")


def load_conv(conv: nn.Conv2d, p: dict) -> None:
    put(conv.weight, np.asarray(p["kernel"]).transpose(3, 2, 0, 1))
    if conv.bias is not None:
        put(conv.bias, p["bias"])
    elif "bias" in p:
        raise ValueError("jaxgen's layer has a bias, PyTorch's none")


def load_conv_transpose(conv: nn.ConvTranspose2d, p: dict) -> None:
    """jaxgen's transposed-convolution kernel (kh, kw, in, out), flipped in space."""
    put(conv.weight, np.asarray(p["kernel"])[::-1, ::-1].transpose(2, 3, 0, 1))
    if conv.bias is not None:
        put(conv.bias, p["bias"])
    elif "bias" in p:
        raise ValueError("jaxgen's layer has a bias, PyTorch's none")


def load_norm(norm: nn.modules.batchnorm._BatchNorm, p: dict, stats: dict, order=None) -> None:
    """A flax BatchNorm's scale, bias and running averages (reordered by `order`)."""
    pick = (lambda a: np.asarray(a)) if order is None else (lambda a: np.asarray(a)[order])
    put(norm.weight, pick(p["scale"]))
    put(norm.bias, pick(p["bias"]))
    put(norm.running_mean, pick(stats["mean"]))
    put(norm.running_var, pick(stats["var"]))


def count(parameters: Iterable[torch.Tensor]) -> int:
    """Trained scalars (parameters that require a gradient)."""
    return sum(p.numel() for p in parameters if p.requires_grad)


# ---- optimizers ----------------------------------------------------------------------------------


def lr_factor(config, steps: int | None = None):
    """The config's learning-rate schedule over `steps` (the run's `config.steps` unless given:
    a DBN layer's own budget) as a factor of the rate at update `n` (what
    jaxgen.train.state.learning_rate_schedule builds in optax), or None when constant."""
    schedule = config.get("lr_schedule", "constant")
    total = config.steps if steps is None else steps
    steps = max(total, 1)
    if schedule == "cosine":
        return lambda n: 0.5 * (1.0 + math.cos(math.pi * min(n, steps) / steps))
    if schedule == "linear_decay":
        start = int(round(config.get("lr_decay_start", 0.5) * total))
        span = max(total - start, 1)
        return lambda n: 1.0 if n < start else 1.0 - min(n - start, span) / span
    if schedule != "constant":
        raise ValueError(f"the twins know no lr_schedule {schedule!r}")
    return None


class Adam:
    """torch.optim.Adam with the config's betas and schedule; `update(grads)` sets the
    gradients (from torch.autograd.grad) and steps; `step()` steps on `.grad` as it is."""

    def __init__(self, params: Sequence[torch.Tensor], config, learning_rate: float):
        self.params = list(params)
        betas = (config.get("adam_b1", 0.9), config.get("adam_b2", 0.999))
        self.optimizer = torch.optim.Adam(self.params, lr=learning_rate, betas=betas)
        factor = lr_factor(config)
        self.schedule = None
        if factor is not None:
            self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    def update(self, grads: Sequence[torch.Tensor]) -> None:
        for p, g in zip(self.params, grads, strict=True):
            p.grad = g
        self.step()

    def step(self) -> None:
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)


class WeightAverage:
    """jaxgen.train.players.moving_average of some parameters: after update n (0 first), the
    average moves toward the weights by 1 - min(decay, (1 + n) / (10 + n))."""

    def __init__(self, params: Sequence[torch.Tensor], decay: float):
        self.params = list(params)
        self.average = [p.detach().clone() for p in self.params]
        self.decay, self.updates = decay, 0

    def update(self) -> None:
        n = self.updates
        step_size = 1.0 - min(self.decay, (1.0 + n) / (10.0 + n))
        with torch.no_grad():
            torch._foreach_lerp_(self.average, [p.detach() for p in self.params], step_size)
        self.updates += 1


def softplus_mean(x):
    return F.softplus(x).mean()


# ---- what every twin shares ------------------------------------------------------------------


class Twin:
    """Device, batch conversion and parameter counts; a family's twin adds its networks,
    `GROUPS` ({group: path into jaxgen's state.params}), `draw` and `step`."""

    GROUPS: dict[str, tuple[str, ...]] = {}
    # Images for convolutions: NCHW. A twin of dense networks sets it False and keeps each
    # image a row in flax's (H, W, C) order, as jaxgen's Dense layers read it.
    CHANNELS_FIRST = True

    def __init__(self, device):
        self.device = torch.device(device)
        self.modules: dict[str, nn.Module] = {}  # group -> its network(s)

    def tensor(self, array, dtype=torch.float32) -> torch.Tensor:
        return torch.from_numpy(np.array(array)).to(self.device, dtype)  # a copy: writable

    def images(self, array_NxHxWxC) -> torch.Tensor:
        if not self.CHANNELS_FIRST:
            return self.tensor(array_NxHxWxC).flatten(1)
        return self.tensor(array_NxHxWxC).permute(0, 3, 1, 2).contiguous()

    def batch(self, batch: dict) -> dict:
        """Image arrays NHWC -> NCHW tensors (rows N x HWC with `CHANNELS_FIRST` False),
        labels -> int64, on the device."""
        out = {}
        for name, value in batch.items():
            value = np.asarray(value)
            if value.ndim == 4:
                out[name] = self.images(value)
            elif np.issubdtype(value.dtype, np.integer):
                out[name] = self.tensor(value, torch.int64)
            else:
                out[name] = self.tensor(value)
        return out

    def param_counts(self) -> dict[str, int]:
        return {group: count(module.parameters()) for group, module in self.modules.items()}

    def train(self) -> None:
        for module in self.modules.values():
            module.train()


def check(condition: bool, what: str) -> None:
    """The twin is of the recipe it is written for; anything else is refused, not faked."""
    if not condition:
        raise SystemExit(f"the PyTorch twin does not cover this config: {what}")


# ---- autoencoders and VAEs: dense and conv -------------------------------------------------


class ConvAutoencoderNet(nn.Module):
    """jaxgen's ConvAutoencoder (families/autoencoder/model.py) with downsample="stride",
    upsample="transpose", ReLU and a linear code: 3x3 stride-2 SAME convolutions to `channels`
    with ReLU, a dense code; dense (ReLU) back to the smallest map, 4x4 stride-2 SAME
    transposed convolutions back up (ReLU between), logits out."""

    def __init__(self, image_shape, channels: Sequence[int], code_size: int, decoder_input=None):
        super().__init__()
        height, width, image_channels = image_shape
        scale = 2 ** len(channels)
        self.bottom_hwc = (height // scale, width // scale, channels[-1])
        bottom = math.prod(self.bottom_hwc)
        ins = [image_channels, *channels[:-1]]
        self.encoder_convs = nn.ModuleList(
            SameConv2d(i, o, 3, 2) for i, o in zip(ins, channels, strict=True)
        )
        self.code_layer = nn.Linear(bottom, code_size)
        self.bottom_layer = nn.Linear(decoder_input or code_size, bottom)
        outs = ins[::-1]
        self.decoder_convs = nn.ModuleList(
            SameConvTranspose2d(i, o, 4, 2) for i, o in zip(channels[::-1], outs, strict=True)
        )

    def encode(self, x):
        h = x
        for conv in self.encoder_convs:
            h = F.relu(conv(h))
        return self.code_layer(h.flatten(1))

    def decode(self, z):
        h, w, c = self.bottom_hwc
        x = F.relu(self.bottom_layer(z)).view(-1, c, h, w)
        for k, conv in enumerate(self.decoder_convs):
            x = conv(x)
            if k < len(self.decoder_convs) - 1:
                x = F.relu(x)
        return x

    def load(self, p: dict) -> None:
        for i, conv in enumerate(self.encoder_convs):
            load_conv(conv, p[f"encoder_convs_{i}"])
        load_dense(self.code_layer, p["code_layer"], rows_hwc=self.bottom_hwc)
        load_dense(self.bottom_layer, p["bottom_layer"], cols_hwc=self.bottom_hwc)
        for i, conv in enumerate(self.decoder_convs):
            load_conv_transpose(conv.conv, p[f"decoder_convs_{i}"])


def check_conv_autoencoder(model) -> None:
    check(model.kind == "conv", "model.kind must be conv")
    check(model.downsample == "stride", "model.downsample must be stride")
    check(model.upsample == "transpose", "model.upsample must be transpose")
    check(model.activation == "relu", "model.activation must be relu")


def conv_autoencoder(task, code_size: int, decoder_input=None) -> ConvAutoencoderNet:
    """The network `build_autoencoder` makes of the task's config, at its image size; its
    decoder reads `decoder_input` numbers (a VAE's z), else the code."""
    shape = task.train_split.image_shape
    channels = fit_channels(task.config.model.channels, stride2_stages(*shape[:2]), "last")
    return ConvAutoencoderNet(shape, channels, code_size, decoder_input)


ACTIVATIONS = {
    "relu": F.relu,
    "elu": F.elu,
    "gelu": lambda x: F.gelu(x, approximate="tanh"),  # flax's nn.gelu is the tanh form
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "linear": lambda x: x,
}


class DenseAutoencoderNet(nn.Module):
    """jaxgen's DenseAutoencoder (families/autoencoder/model.py) on rows in flax's (H, W, C)
    order: Dense layers `hidden` with the activation, a Dense code (with the code activation),
    the hidden widths reversed, a Dense layer to `output_size` logits. The encoder reads
    `input_size` numbers and the decoder `decoder_input` (the code's width unless given): a
    conditional VAE's rows carry the label planes, its z the one-hot label."""

    def __init__(
        self,
        input_size: int,
        hidden: Sequence[int],
        code_size: int,
        output_size: int,
        activation: str = "relu",
        code_activation: str = "linear",
        decoder_input: int | None = None,
    ):
        super().__init__()
        widths = [input_size, *hidden]
        self.encoder_layers = nn.ModuleList(
            nn.Linear(i, o) for i, o in zip(widths[:-1], widths[1:], strict=True)
        )
        self.code_layer = nn.Linear(widths[-1], code_size)
        widths = [decoder_input or code_size, *hidden[::-1]]
        self.decoder_layers = nn.ModuleList(
            nn.Linear(i, o) for i, o in zip(widths[:-1], widths[1:], strict=True)
        )
        self.output_layer = nn.Linear(widths[-1], output_size)
        self.act, self.code_act = ACTIVATIONS[activation], ACTIVATIONS[code_activation]

    def encode(self, x):
        for layer in self.encoder_layers:
            x = self.act(layer(x))
        return self.code_act(self.code_layer(x))

    def decode(self, z):
        for layer in self.decoder_layers:
            z = self.act(layer(z))
        return self.output_layer(z)

    def load(self, p: dict) -> None:
        for i, layer in enumerate(self.encoder_layers):
            load_dense(layer, p[f"encoder_layers_{i}"])
        load_dense(self.code_layer, p["code_layer"])
        for i, layer in enumerate(self.decoder_layers):
            load_dense(layer, p[f"decoder_layers_{i}"])
        load_dense(self.output_layer, p["output_layer"])


def check_dense_autoencoder(model) -> None:
    check(model.activation in ACTIVATIONS, f"model.activation one of {sorted(ACTIVATIONS)}")
    check(model.code_activation in ACTIVATIONS, "model.code_activation")


class AutoencoderTwin(Twin):
    """experiments/autoencoder.py (the dense autoencoder: rows of 784 pixels, 784-32-784 by
    default) and experiments/denoising_ae.py (the conv one): the input corrupted or not (salt
    and pepper: each value replaced with probability `noise_level` by 0 or 1, equally likely),
    encoded and decoded; the reconstruction loss against the clean image (MSE or L1 of the
    pixels, the sigmoid of the logits or the logits themselves, or the binary cross-entropy of
    the logits); jaxgen's aux metric `mse` beside it; Adam with the config's schedule."""

    GROUPS = {"autoencoder": ("params",)}

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        config = task.config
        m, o = config.model, config.objective
        check(m.kind in ("dense", "conv"), "model.kind: dense or conv")
        check(o.reconstruction in ("mse", "l1", "bce"), "objective.reconstruction")
        check(o.output in ("sigmoid", "linear"), "objective.output")
        check(o.corruption in ("salt_pepper", "none"), "objective.corruption: salt_pepper, none")
        check(o.sparsity == "none" and not o.contractive_weight, "no sparsity, no contraction")
        self.objective = o
        if m.kind == "conv":
            check_conv_autoencoder(m)
            check(m.code_activation == "linear", "model.code_activation must be linear")
            self.net = conv_autoencoder(task, m.code_size)
        else:
            check_dense_autoencoder(m)
            self.CHANNELS_FIRST = False
            pixels = math.prod(task.train_split.image_shape)
            self.net = DenseAutoencoderNet(
                pixels, tuple(m.hidden), m.code_size, pixels, m.activation, m.code_activation
            )
        self.net = self.net.to(self.device)
        self.net.load(state.params["params"])
        self.modules = {"autoencoder": self.net}
        self.adam = Adam(self.net.parameters(), config, config.learning_rate)

    def draw(self, batch):
        x = batch["image"]
        if self.objective.corruption == "none":
            return {}
        hit = torch.rand_like(x) < self.objective.noise_level
        salt = (torch.rand_like(x) < 0.5).to(x.dtype)
        return {"x_in": torch.where(hit, salt, x)}

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        o, x = self.objective, batch["image"]
        logits = self.net.decode(self.net.encode(draws.get("x_in", x)))
        recon = torch.sigmoid(logits) if o.output == "sigmoid" else logits
        if o.reconstruction == "bce":
            loss = F.binary_cross_entropy_with_logits(logits, x)
        elif o.reconstruction == "l1":
            loss = torch.mean(torch.abs(recon - x))
        else:
            loss = torch.mean((recon - x) ** 2)
        with torch.no_grad():  # jaxgen's aux metric
            mse = loss.detach() if o.reconstruction == "mse" else torch.mean((recon - x) ** 2)
        self.adam.update(torch.autograd.grad(loss, self.adam.params))
        return {"loss": loss.detach(), "mse": mse}


def log_likelihood(x, decoded, log_scale, likelihood: str):
    """log p(x | z) per example, summed over the pixels (families/vae/losses.py): Bernoulli on
    logits, else a Gaussian of mean `decoded` and scale exp(log_scale)."""
    x, decoded = x.flatten(1), decoded.flatten(1)
    if likelihood == "bernoulli":
        return -F.binary_cross_entropy_with_logits(decoded, x, reduction="none").sum(1)
    scaled = (x - decoded) * torch.exp(-log_scale)
    return torch.sum(-0.5 * scaled.square() - log_scale - 0.5 * LOG_2PI, dim=1)


def gaussian_kl(mean, logvar):
    """KL(N(mean, exp(logvar)) || N(0, I)) per example."""
    return 0.5 * torch.sum(logvar.exp() + mean.square() - 1.0 - logvar, dim=1)


class ConvVAETwin(Twin):
    """experiments/conv_vae.py: the conv autoencoder's code read as (mean, log-variance) of
    q(z | x); one reparametrized z; a Gaussian likelihood with one learned log-scale shared by
    all pixels; loss = mean over the batch of -log p(x | z) + KL(q || N(0, I)); Adam with the
    config's schedule."""

    GROUPS = {"vae": ("params",)}

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        config = task.config
        m, o = config.model, task.objective  # the objective with "auto" resolved
        check_conv_autoencoder(m)
        check(not m.conditional, "an unconditional VAE")
        check(o.kind == "elbo" and o.importance_samples == 1, "the ELBO with one draw")
        check(o.beta == 1.0 and not o.kl_warmup_steps, "beta 1, no KL warm-up")
        check(o.likelihood == "gaussian_learned" and o.binarize == "none", "gaussian_learned")
        self.latent_size = m.latent_size
        self.net = conv_autoencoder(task, 2 * m.latent_size, m.latent_size).to(self.device)
        p = state.params["params"]
        self.net.load(p["network"])
        self.net.log_scale = nn.Parameter(torch.zeros((), device=self.device))
        put(self.net.log_scale, p["log_scale"])
        self.modules = {"vae": self.net}
        self.adam = Adam(self.net.parameters(), config, config.learning_rate)

    def draw(self, batch):
        b = batch["image"].shape[0]
        return {"eps": torch.randn(b, self.latent_size, device=self.device)}

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        x = batch["image"]
        mean, logvar = self.net.encode(x).chunk(2, dim=1)
        z = mean + torch.exp(0.5 * logvar) * draws["eps"]
        log_px = log_likelihood(x, self.net.decode(z), self.net.log_scale, "gaussian_learned")
        loss = torch.mean(-log_px + gaussian_kl(mean, logvar))
        self.adam.update(torch.autograd.grad(loss, self.adam.params))
        return {"loss": loss.detach()}


class DenseVAETwin(Twin):
    """experiments/cvae.py (and experiments/vae.py): the dense VAE, conditional or not, on rows
    in flax's (H, W, C) order. The training pixels binarized afresh (one uniform draw per pixel
    against its grey level) when `binarize` is dynamic; a conditional VAE's encoder reads the
    image with the one-hot label appended at every pixel (K constant planes, so its first Dense
    layer has H W (C + K) inputs, as jaxgen's), its decoder z with the one-hot label appended;
    one reparametrized z; the Bernoulli (or Gaussian) likelihood; loss = mean of -log p(x | z)
    + w KL(q || N(0, I)), w = beta ramped over the first `kl_warmup_steps` updates; Adam with
    the config's schedule."""

    GROUPS = {"vae": ("params",)}
    CHANNELS_FIRST = False

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        config = task.config
        m, o = config.model, task.objective  # the objective with "auto" resolved
        check(m.kind == "dense", "model.kind=dense")
        check_dense_autoencoder(m)
        check(o.kind == "elbo" and o.importance_samples == 1, "the ELBO with one draw")
        check(o.binarize in ("dynamic", "none"), "objective.binarize: dynamic or none")
        check(o.likelihood in ("bernoulli", "gaussian_learned"), "bernoulli, gaussian_learned")
        self.o, self.latent_size = o, m.latent_size
        height, width, channels = task.image_shape
        self.positions, self.channels = height * width, channels
        self.classes = task.num_classes if m.conditional else 0
        self.net = DenseAutoencoderNet(
            self.positions * (channels + self.classes),
            tuple(m.hidden),
            2 * m.latent_size,
            self.positions * channels,
            m.activation,
            "linear",
            decoder_input=m.latent_size + self.classes,
        ).to(self.device)
        p = state.params["params"]
        self.net.load(p["network"])
        self.log_scale = torch.zeros((), device=self.device)
        if o.likelihood == "gaussian_learned":
            self.net.log_scale = nn.Parameter(torch.zeros((), device=self.device))
            put(self.net.log_scale, p["log_scale"])
            self.log_scale = self.net.log_scale
        self.modules = {"vae": self.net}
        self.adam = Adam(self.net.parameters(), config, config.learning_rate)
        self.updates = int(np.asarray(state.step))  # the KL warm-up's clock

    def draw(self, batch):
        x = batch["image"]
        draws = {"eps": torch.randn(x.shape[0], self.latent_size, device=self.device)}
        if self.o.binarize == "dynamic":
            draws["bits_u"] = torch.rand_like(x)
        return draws

    def kl_weight(self) -> float:
        o = self.o
        if not o.kl_warmup_steps:
            return o.beta
        return o.beta * min(1.0, (self.updates + 1) / o.kl_warmup_steps)

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        x = batch["image"]
        if self.o.binarize == "dynamic":
            x = (draws["bits_u"] < x).to(x.dtype)
        inputs, code = x, None
        if self.classes:
            code = F.one_hot(batch["label"], self.classes).to(x.dtype)
            b, k = x.shape[0], self.classes
            planes = code[:, None, :].expand(b, self.positions, k)
            inputs = torch.cat([x.view(b, self.positions, self.channels), planes], 2).flatten(1)
        mean, logvar = self.net.encode(inputs).chunk(2, dim=1)
        z = mean + torch.exp(0.5 * logvar) * draws["eps"]
        if self.classes:
            z = torch.cat([z, code], 1)
        log_px = log_likelihood(x, self.net.decode(z), self.log_scale, self.o.likelihood)
        kl = gaussian_kl(mean, logvar)
        loss = torch.mean(-log_px + self.kl_weight() * kl)
        self.adam.update(torch.autograd.grad(loss, self.adam.params))
        self.updates += 1
        return {
            "loss": loss.detach(),
            "elbo": torch.mean(log_px - kl).detach(),
            "kl_nats": torch.mean(kl).detach(),
        }


# ---- the DCGAN-style players (VAE-GAN, BiGAN) ---------------------------------------------------


class DCGANGeneratorNet(nn.Module):
    """jaxgen's DCGANGenerator (families/gan/model.py), unconditional: Dense (no bias) to
    (H/2^n, W/2^n, channels[0]) + batch norm + leaky ReLU, 5x5 SAME transposed convolutions to
    channels[1] (stride 1) and channels[2:] (stride 2), no bias, each + batch norm + leaky ReLU,
    a 5x5 stride-2 transposed convolution (with bias) to the image's channels, tanh."""

    def __init__(self, image_shape, channels: Sequence[int], latent_size: int):
        super().__init__()
        height, width, image_channels = image_shape
        scale = 2 ** (len(channels) - 1)
        first, *rest = channels
        self.start_hwc = (height // scale, width // scale, first)
        self.dense = nn.Linear(latent_size, math.prod(self.start_hwc), bias=False)
        self.norm = nn.BatchNorm1d(math.prod(self.start_hwc), eps=1e-5, momentum=0.1)
        self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
        c_in = first
        for i, ch in enumerate(rest):
            self.convs.append(SameConvTranspose2d(c_in, ch, 5, 1 if i == 0 else 2, bias=False))
            self.norms.append(batch_norm_2d(ch))
            c_in = ch
        self.out = SameConvTranspose2d(c_in, image_channels, 5, 2)

    def forward(self, z):
        h, w, c = self.start_hwc
        x = F.leaky_relu(self.norm(self.dense(z)), LEAK).view(-1, c, h, w)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.leaky_relu(norm(conv(x)), LEAK)
        return torch.tanh(self.out(x))

    def load(self, p: dict, stats: dict) -> None:
        load_dense(self.dense, p["Dense_0"], cols_hwc=self.start_hwc)
        load_norm(self.norm, p["BatchNorm_0"], stats["BatchNorm_0"], chw_order(self.start_hwc))
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            load_conv_transpose(conv.conv, p[f"ConvTranspose_{i}"])
            load_norm(norm, p[f"BatchNorm_{i + 1}"], stats[f"BatchNorm_{i + 1}"])
        load_conv_transpose(self.out.conv, p[f"ConvTranspose_{len(self.convs)}"])


class ConvTrunk(nn.Module):
    """5x5 stride-2 SAME convolutions to `channels`, each + leaky ReLU (+ dropout when
    `dropout`): the DCGAN discriminator's stack. `forward` returns every layer's output."""

    def __init__(self, image_shape, channels: Sequence[int], dropout: float = 0.0):
        super().__init__()
        height, width, image_channels = image_shape
        ins = [image_channels, *channels[:-1]]
        self.convs = nn.ModuleList(
            SameConv2d(i, o, 5, 2) for i, o in zip(ins, channels, strict=True)
        )
        self.dropout = dropout
        for _ in channels:
            height, width = -(-height // 2), -(-width // 2)
        self.out_hwc = (height, width, channels[-1])

    def forward(self, x) -> list[torch.Tensor]:
        outs = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LEAK)
            if self.dropout:
                x = F.dropout(x, self.dropout, self.training)
            outs.append(x)
        return outs

    def load(self, p: dict) -> None:
        for i, conv in enumerate(self.convs):
            load_conv(conv, p[f"Conv_{i}"])


class VAEGANEncoderNet(nn.Module):
    """families/vaegan/model.py VAEGANEncoder: the conv trunk, a Dense to 2 * latent_size read
    as (mean, log-variance)."""

    def __init__(self, image_shape, channels, latent_size: int):
        super().__init__()
        self.trunk = ConvTrunk(image_shape, channels)
        self.dense = nn.Linear(math.prod(self.trunk.out_hwc), 2 * latent_size)

    def forward(self, x):
        return self.dense(self.trunk(x)[-1].flatten(1)).chunk(2, dim=1)

    def load(self, p: dict) -> None:
        self.trunk.load(p)
        load_dense(self.dense, p["Dense_0"], rows_hwc=self.trunk.out_hwc)


class VAEGANDiscriminatorNet(nn.Module):
    """families/vaegan/model.py VAEGANDiscriminator: (logit, flattened output of conv layer
    `feature_layer`). The features are flattened (C, H, W) here, (H, W, C) in jaxgen: L_llike
    sums their squared differences, the same in any order."""

    def __init__(self, image_shape, channels, feature_layer: int):
        super().__init__()
        self.trunk = ConvTrunk(image_shape, channels)
        self.layer = feature_layer % len(channels)
        self.dense = nn.Linear(math.prod(self.trunk.out_hwc), 1)

    def forward(self, x):
        outs = self.trunk(x)
        return self.dense(outs[-1].flatten(1))[:, 0], outs[self.layer].flatten(1)

    def load(self, p: dict) -> None:
        self.trunk.load(p)
        load_dense(self.dense, p["Dense_0"], rows_hwc=self.trunk.out_hwc)


class VAEGANTwin(Twin):
    """experiments/vaegan.py (families/vaegan/losses.py, task.py): with eps and z_p drawn, every
    player's gradient at the current parameters, then the encoder's, decoder's and
    discriminator's Adam updates and the encoder's and decoder's weight averages:

    - encoder: L_prior + L_llike, x~ = Dec(mean + exp(logvar / 2) eps) decoded in train mode,
      the discriminator's features of [x; x~] in one call;
    - decoder: gamma * L_llike + the non-saturating L_G, x~ decoded again from the stopped z
      and x_p = Dec(z_p) (two train-mode calls), D on [x; x~; x_p] in one call;
    - discriminator: -L_GAN on [x; x~; x_p] (the fakes stopped), one call."""

    GROUPS = {"encoder": ("encoder",), "decoder": ("decoder",), "discriminator": ("discriminator",)}

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        config = task.config
        o = config.objective
        check(o.generator_loss == "non_saturating", "objective.generator_loss=non_saturating")
        check(not o.equilibrium, "no equilibrium rule")
        self.gamma, self.adversarial_weight = o.gamma, o.adversarial_weight
        shape = task.image_shape
        stages = stride2_stages(*shape[:2])
        m = config.model
        self.latent_size = m.latent_size
        encoder = VAEGANEncoderNet(
            shape, fit_channels(m.encoder_channels, stages, "last"), m.latent_size
        )
        decoder = DCGANGeneratorNet(
            shape, fit_channels(m.decoder_channels, stages + 1, "first"), m.latent_size
        )
        discriminator = VAEGANDiscriminatorNet(
            shape, fit_channels(m.discriminator_channels, stages, "last"), m.feature_layer
        )
        encoder.load(state.params["encoder"])
        decoder.load(state.params["decoder"], state.batch_stats["decoder"])
        discriminator.load(state.params["discriminator"])
        self.encoder, self.decoder, self.discriminator = (
            net.to(self.device) for net in (encoder, decoder, discriminator)
        )
        self.modules = {
            "encoder": self.encoder,
            "decoder": self.decoder,
            "discriminator": self.discriminator,
        }
        self.adams = {
            name: Adam(net.parameters(), config, config.learning_rate)
            for name, net in self.modules.items()
        }
        self.average = WeightAverage(
            [*self.encoder.parameters(), *self.decoder.parameters()], o.average_decay
        )
        self.train()

    def draw(self, batch):
        b = batch["x"].shape[0]
        return {
            "eps": torch.randn(b, self.latent_size, device=self.device),
            "z_p": torch.randn(b, self.latent_size, device=self.device),
        }

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        x = batch["x"]

        def feature_nll(real, recon):
            return torch.mean(0.5 * torch.sum((real - recon) ** 2, dim=1))

        # Encoder: L_prior + L_llike.
        mean, logvar = self.encoder(x)
        z = mean + torch.exp(0.5 * logvar) * draws["eps"]
        x_rec = self.decoder(z)
        _, features = self.discriminator(torch.cat([x, x_rec]))
        f_real, f_rec = features.chunk(2)
        prior = torch.mean(0.5 * torch.sum(logvar.exp() + mean.square() - 1.0 - logvar, dim=1))
        llike = feature_nll(f_real, f_rec)
        enc_grads = torch.autograd.grad(prior + llike, self.adams["encoder"].params)

        # Decoder: gamma * L_llike + L_G, from the stopped z (no gradient reaches the encoder).
        x_rec = self.decoder(z.detach())
        x_p = self.decoder(draws["z_p"])
        logits, features = self.discriminator(torch.cat([x, x_rec, x_p]))
        f_real, f_rec, _ = features.chunk(3)
        _, l_rec, l_p = logits.chunk(3)
        adversarial = softplus_mean(-l_rec) + softplus_mean(-l_p)
        dec_objective = self.gamma * feature_nll(f_real, f_rec)
        dec_objective = dec_objective + self.adversarial_weight * adversarial
        dec_grads = torch.autograd.grad(dec_objective, self.adams["decoder"].params)

        # Discriminator: -L_GAN on the real images and both kinds of fakes.
        logits, _ = self.discriminator(torch.cat([x, x_rec.detach(), x_p.detach()]))
        l_real, l_rec, l_p = logits.chunk(3)
        d_loss = softplus_mean(-l_real) + softplus_mean(l_rec) + softplus_mean(l_p)
        d_grads = torch.autograd.grad(d_loss, self.adams["discriminator"].params)

        for name, grads in (("encoder", enc_grads), ("decoder", dec_grads)):
            self.adams[name].update(grads)
        self.adams["discriminator"].update(d_grads)
        self.average.update()
        return {
            "loss": (prior + llike).detach(),
            "prior_nats": prior.detach(),
            "llike": llike.detach(),
            "decoder_adversarial": adversarial.detach(),
            "discriminator_loss": d_loss.detach(),
        }


class JointDiscriminatorNet(nn.Module):
    """families/bigan/model.py JointDiscriminator: x through the conv trunk (dropout after
    each layer), z through a Dense + leaky ReLU (+ dropout) MLP, the two concatenated (x's
    features first), a Dense + leaky ReLU (+ dropout) MLP, one logit."""

    def __init__(self, image_shape, channels, latent_size, z_hidden, joint_hidden, dropout):
        super().__init__()
        self.trunk = ConvTrunk(image_shape, channels, dropout)
        self.dropout = dropout
        z_widths = [latent_size, *z_hidden]
        self.z_layers = nn.ModuleList(
            nn.Linear(i, o) for i, o in zip(z_widths[:-1], z_widths[1:], strict=True)
        )
        widths = [math.prod(self.trunk.out_hwc) + z_widths[-1], *joint_hidden]
        self.joint_layers = nn.ModuleList(
            nn.Linear(i, o) for i, o in zip(widths[:-1], widths[1:], strict=True)
        )
        self.out = nn.Linear(widths[-1], 1)

    def mlp(self, h, layers):
        for layer in layers:
            h = F.leaky_relu(layer(h), LEAK)
            if self.dropout:
                h = F.dropout(h, self.dropout, self.training)
        return h

    def forward(self, x, z):
        h = torch.cat([self.trunk(x)[-1].flatten(1), self.mlp(z, self.z_layers)], dim=1)
        return self.out(self.mlp(h, self.joint_layers))[:, 0]

    def load(self, p: dict) -> None:
        """Flax names the Dense layers in the order they are made: z's MLP, the joint MLP,
        the logit. The joint MLP's first kernel reads [x's flattened (H, W, C) map; z's
        features]: its rows of the map are reordered."""
        self.trunk.load(p)
        layers = [*self.z_layers, *self.joint_layers, self.out]
        for i, layer in enumerate(layers):
            dense = p[f"Dense_{i}"]
            if i == len(self.z_layers):
                flat = math.prod(self.trunk.out_hwc)
                rows = len(dense["kernel"])
                order = np.concatenate([chw_order(self.trunk.out_hwc), np.arange(flat, rows)])
                dense = {"kernel": np.asarray(dense["kernel"])[order], "bias": dense["bias"]}
            load_dense(layer, dense)


class BiGANEncoderNet(nn.Module):
    """families/bigan/model.py Encoder, deterministic: the conv trunk, a Dense to the code."""

    def __init__(self, image_shape, channels, latent_size: int):
        super().__init__()
        self.trunk = ConvTrunk(image_shape, channels)
        self.dense = nn.Linear(math.prod(self.trunk.out_hwc), latent_size)

    def forward(self, x):
        return self.dense(self.trunk(x)[-1].flatten(1))

    def load(self, p: dict) -> None:
        self.trunk.load(p)
        load_dense(self.dense, p["Dense_0"], rows_hwc=self.trunk.out_hwc)


class BiGANTwin(Twin):
    """experiments/bigan.py (families/bigan/task.py): a discriminator update on encoder pairs
    (x, E(x)) and generator pairs (G(z), z), E(x) and G(z) (train-mode batch norm) computed
    without gradient, both pairs in one D call (dropout on); then one joint update of E and G
    with fresh z against the updated D, labels swapped (non-saturating), G in train mode; one
    Adam each for E, G and D; the weight averages of E and G."""

    GROUPS = {
        "encoder": ("encoder",),
        "generator": ("generator",),
        "discriminator": ("discriminator",),
    }

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        config = task.config
        m = config.model
        check(not m.stochastic_encoder, "BiGAN's deterministic encoder")
        shape = task.image_shape
        stages = stride2_stages(*shape[:2])
        self.latent_size = m.latent_size
        encoder = BiGANEncoderNet(
            shape, fit_channels(m.encoder_channels, stages, "last"), m.latent_size
        )
        generator = DCGANGeneratorNet(
            shape, fit_channels(m.generator_channels, stages + 1, "first"), m.latent_size
        )
        discriminator = JointDiscriminatorNet(
            shape,
            fit_channels(m.discriminator_channels, stages, "last"),
            m.latent_size,
            tuple(m.discriminator_z_hidden),
            tuple(m.discriminator_joint_hidden),
            float(m.discriminator_dropout),
        )
        encoder.load(state.params["encoder"])
        generator.load(state.params["generator"], state.batch_stats["generator"])
        discriminator.load(state.params["discriminator"])
        self.encoder, self.generator, self.discriminator = (
            net.to(self.device) for net in (encoder, generator, discriminator)
        )
        self.modules = {
            "encoder": self.encoder,
            "generator": self.generator,
            "discriminator": self.discriminator,
        }
        rates = {
            "encoder": config.generator_learning_rate,
            "generator": config.generator_learning_rate,
            "discriminator": config.discriminator_learning_rate,
        }
        self.adams = {
            name: Adam(net.parameters(), config, rates[name]) for name, net in self.modules.items()
        }
        self.average = WeightAverage(
            [*self.encoder.parameters(), *self.generator.parameters()],
            config.objective.average_decay,
        )
        self.train()

    def draw(self, batch):
        b = batch["x"].shape[0]
        return {
            "z_d": torch.randn(b, self.latent_size, device=self.device),
            "z_eg": torch.randn(b, self.latent_size, device=self.device),
        }

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        real = batch["x"]

        # The discriminator update: E(x) and G(z) are constants.
        z = draws["z_d"]
        with torch.no_grad():
            codes, fake = self.encoder(real), self.generator(z)
        logits = self.discriminator(torch.cat([real, fake]), torch.cat([codes, z]))
        l_real, l_fake = logits.chunk(2)
        d_loss = softplus_mean(-l_real) + softplus_mean(l_fake)
        self.adams["discriminator"].update(
            torch.autograd.grad(d_loss, self.adams["discriminator"].params)
        )

        # The joint (E, G) update against the updated discriminator.
        z = draws["z_eg"]
        codes, fake = self.encoder(real), self.generator(z)
        logits = self.discriminator(torch.cat([real, fake]), torch.cat([codes, z]))
        l_real, l_fake = logits.chunk(2)
        eg_loss = softplus_mean(l_real) + softplus_mean(-l_fake)
        e_params, g_params = self.adams["encoder"].params, self.adams["generator"].params
        grads = torch.autograd.grad(eg_loss, [*e_params, *g_params])
        self.adams["encoder"].update(grads[: len(e_params)])
        self.adams["generator"].update(grads[len(e_params) :])
        self.average.update()
        return {"loss": d_loss.detach(), "encoder_generator_loss": eg_loss.detach()}


# ---- GANs: the MLP players on 2-D mixtures and the (conditional) DCGAN -------------------------


def with_label(x, label, classes: int):
    """families/gan/model.py _with_label: the one-hot label appended to rows (z, a 2-D point),
    or as `classes` constant planes after an NCHW image's channels."""
    if not classes:
        return x
    code = F.one_hot(label, classes).to(x.dtype)
    if x.ndim == 2:
        return torch.cat([x, code], 1)
    return torch.cat([x, code[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)


class MLPNet(nn.Module):
    """families/gan/model.py MLPGenerator (ReLU, `out` outputs) and MLPDiscriminator (leaky
    ReLU, one logit): Dense layers `hidden`, then a Dense output; the label appended to the
    input when conditional."""

    def __init__(self, in_size, hidden, out, activation, classes: int = 0):
        super().__init__()
        widths = [in_size + classes, *hidden]
        self.layers = nn.ModuleList(
            nn.Linear(i, o) for i, o in zip(widths[:-1], widths[1:], strict=True)
        )
        self.out = nn.Linear(widths[-1], out)
        self.activation, self.classes = activation, classes

    def forward(self, x, label=None):
        x = with_label(x, label, self.classes)
        for layer in self.layers:
            x = self.activation(layer(x))
        return self.out(x)

    def load(self, p: dict, stats: dict) -> None:
        for i, layer in enumerate([*self.layers, self.out]):
            load_dense(layer, p[f"Dense_{i}"])


class DCGANPlayerNet(nn.Module):
    """A DCGAN player with the label: the generator (DCGANGeneratorNet) reads [z; one-hot], the
    discriminator (5x5 stride-2 convolutions with leaky ReLU, ConvTrunk, then a Dense logit)
    the image with K label planes; unconditional with `classes` 0."""

    def __init__(self, net: nn.Module, classes: int, dense: nn.Linear | None = None):
        super().__init__()
        self.net, self.classes, self.dense = net, classes, dense

    def forward(self, x, label=None):
        x = with_label(x, label, self.classes)
        if self.dense is None:
            return self.net(x)
        return self.dense(self.net(x)[-1].flatten(1))

    def load(self, p: dict, stats: dict) -> None:
        if self.dense is None:
            self.net.load(p, stats)
        else:
            self.net.load(p)
            load_dense(self.dense, p["Dense_0"], rows_hwc=self.net.out_hwc)


def gan_players(task, m) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) as families/gan/model.py build_players makes them."""
    classes = task.num_classes if m.conditional else 0
    shape = tuple(task.players.data_shape)
    if m.kind == "mlp":
        leaky = lambda x: F.leaky_relu(x, LEAK)  # noqa: E731
        generator = MLPNet(m.latent_size, tuple(m.generator_hidden), shape[-1], F.relu, classes)
        discriminator = MLPNet(shape[-1], tuple(m.discriminator_hidden), 1, leaky, classes)
        return generator, discriminator
    stages = stride2_stages(*shape[:2])
    g_channels = fit_channels(m.generator_channels, stages + 1, "first")
    d_channels = fit_channels(m.discriminator_channels, stages, "last")
    generator = DCGANGeneratorNet(shape, g_channels, m.latent_size + classes)
    trunk = ConvTrunk((*shape[:2], shape[-1] + classes), d_channels)
    dense = nn.Linear(math.prod(trunk.out_hwc), 1)
    return DCGANPlayerNet(generator, classes), DCGANPlayerNet(trunk, classes, dense)


def discriminator_loss(kind: str, real, fake):
    """families/gan/losses.py discriminator_loss (without the gradient penalty)."""
    if kind in ("minimax", "non_saturating"):
        return softplus_mean(-real) + softplus_mean(fake)
    if kind == "wasserstein_gp":
        return fake.mean() - real.mean()
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def generator_loss(kind: str, fake):
    if kind == "minimax":
        return -softplus_mean(fake)
    if kind == "non_saturating":
        return softplus_mean(-fake)
    return -fake.mean()


def global_norm(tensors):
    return torch.linalg.vector_norm(torch.stack([t.norm() for t in tensors]))


class GANPlayers:
    """One run's players (a replica's, in a many-seed task) and its step
    (families/gan/adversarial.py make_adversarial_step): k discriminator updates, update i on
    real minibatch i and G(z_i) (train mode, no gradient) in one D call, with the gradient
    penalty on x_hat = real + u (fake - real) for wasserstein_gp (the critic's gradient with
    respect to x_hat kept in the graph: a double backward); then the generator's update with
    fresh z and minibatch 0's labels through the updated D; with `compare_generator_losses`
    the minimax and non-saturating gradients both (one more backward pass from the same
    forward pass); the generator's weight average."""

    def __init__(self, task, state, device):
        config = task.config
        m, self.o = config.model, config.objective
        check(not m.spectral_norm, "no spectral norm")
        check(m.kind in ("mlp", "dcgan"), "model.kind: mlp or dcgan")
        self.device, self.latent_size = device, m.latent_size
        generator, discriminator = gan_players(task, m)
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            net.load(state.params[name], state.batch_stats[name])
        self.generator, self.discriminator = generator.to(device), discriminator.to(device)
        self.adams = {
            name: Adam(net.parameters(), config, config[f"{name}_learning_rate"])
            for name, net in (
                ("generator", self.generator),
                ("discriminator", self.discriminator),
            )
        }
        self.average = WeightAverage(self.generator.parameters(), self.o.average_decay)
        self.average.updates = int(np.asarray(state.step))
        self.generator.train()
        self.discriminator.train()

    def draw(self, batch):
        k, b = self.o.discriminator_steps, batch["x"].shape[0] // self.o.discriminator_steps
        draws = {
            "z_d": torch.randn(k, b, self.latent_size, device=self.device),
            "z_g": torch.randn(b, self.latent_size, device=self.device),
        }
        if self.o.loss == "wasserstein_gp":
            draws["u"] = torch.rand(k, b, device=self.device)
        return draws

    def penalty(self, real, fake, label, u):
        """mean (||d D / d x at x_hat|| - 1)^2, kept in the graph for D's gradient."""
        u = u.view(-1, *[1] * (real.ndim - 1))
        x_hat = (real + u * (fake - real)).requires_grad_(True)
        (grad,) = torch.autograd.grad(
            self.discriminator(x_hat, label).sum(), x_hat, create_graph=True
        )
        norms = torch.sqrt(grad.flatten(1).square().sum(1) + 1e-12)
        return torch.mean((norms - 1.0) ** 2)

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        o, kind, k = self.o, self.o.loss, self.o.discriminator_steps
        reals, labels = batch["x"].chunk(k), batch["label"].chunk(k)
        d_adam, g_adam = self.adams["discriminator"], self.adams["generator"]
        d_losses, penalties = [], []
        for i in range(k):
            real, label = reals[i], labels[i]
            with torch.no_grad():
                fake = self.generator(draws["z_d"][i], label)
            logits = self.discriminator(torch.cat([real, fake]), torch.cat([label, label]))
            l_real, l_fake = logits[:, 0].chunk(2)
            loss = discriminator_loss(kind, l_real, l_fake)
            if kind == "wasserstein_gp":
                penalty = self.penalty(real, fake, label, draws["u"][i])
                loss = loss + o.gradient_penalty * penalty
                penalties.append(penalty.detach())
            d_adam.update(torch.autograd.grad(loss, d_adam.params))
            d_losses.append(loss.detach())
        metrics = {"loss": torch.stack(d_losses).mean()}
        if penalties:
            metrics["gradient_penalty"] = torch.stack(penalties).mean()

        fake_logits = self.discriminator(self.generator(draws["z_g"], labels[0]), labels[0])[:, 0]
        g_loss = generator_loss(kind, fake_logits)
        others = ()
        if o.compare_generator_losses:
            others = [other for other in ("minimax", "non_saturating") if other != kind]
        grads = torch.autograd.grad(g_loss, g_adam.params, retain_graph=bool(others))
        metrics["generator_loss"] = g_loss.detach()
        if o.compare_generator_losses:
            metrics[f"generator_grad_norm_{kind}"] = global_norm(grads)
            for j, other in enumerate(others):
                last = j == len(others) - 1
                other_loss = generator_loss(other, fake_logits)
                other_grads = torch.autograd.grad(other_loss, g_adam.params, retain_graph=not last)
                metrics[f"generator_grad_norm_{other}"] = global_norm(other_grads)
        g_adam.update(grads)
        self.average.update()
        return metrics


class GANTwin(Twin):
    """experiments/cgan.py, experiments/wgan_gp.py, experiments/gan_ring.py (families/gan/): the
    GAN step of GANPlayers. A many-seed task (`--config.seeds`, jaxgen/train/replicated.py: the
    step vmapped over R replicas, each with its own players, optimizers and batch) is R such
    players stepped one after another, as R runs would be without vmap; the metrics are the
    means over the replicas and each seed's own (`seedS/NAME`), as jaxgen's. Batches and draws
    are lists, one entry a replica."""

    GROUPS = {"generator": ("generator",), "discriminator": ("discriminator",)}

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        self.seeds = getattr(task, "seeds", None)  # a ReplicatedTask's
        inner = task.task if self.seeds else task
        states = [state] if not self.seeds else [replica(state, r) for r in range(len(self.seeds))]
        self.replicas = [GANPlayers(inner, s, self.device) for s in states]
        self.modules = {
            "generator": nn.ModuleList(p.generator for p in self.replicas),
            "discriminator": nn.ModuleList(p.discriminator for p in self.replicas),
        }

    def batch(self, batch: dict) -> list[dict]:
        if not self.seeds:
            return [super().batch(batch)]
        return [
            super(GANTwin, self).batch({k: np.asarray(v)[r] for k, v in batch.items()})
            for r in range(len(self.seeds))
        ]

    def draw(self, batch):
        return [p.draw(b) for p, b in zip(self.replicas, batch, strict=True)]

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        runs = [p.step(b, d) for p, b, d in zip(self.replicas, batch, draws, strict=True)]
        if not self.seeds:
            return runs[0]
        metrics = {name: torch.stack([r[name] for r in runs]).mean() for name in runs[0]}
        for seed, run in zip(self.seeds, runs, strict=True):
            metrics.update({f"seed{seed}/{name}": value for name, value in run.items()})
        return metrics


# ---- image translation: pix2pix and CycleGAN -----------------------------------------------------


def norm_2d(kind: str, channels: int) -> nn.Module:
    """families/image_translation/model.py norm_layer in PyTorch."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, eps=1e-5, affine=False, track_running_stats=False)
    return batch_norm_2d(channels)


def pad_to_multiple(x, multiple: int):
    """x padded at the bottom and right with background (-1) to sides divisible by
    `multiple` (families/image_translation/model.py _pad_to_multiple)."""
    pad_h, pad_w = -x.shape[2] % multiple, -x.shape[3] % multiple
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), value=translation_nets.BACKGROUND)
    return x


def conv_up(in_channels, out_channels, kernel: int, bias: bool) -> nn.ConvTranspose2d:
    """The reference's ConvTranspose2d(kernel, stride 2, padding 1, output_padding 1 for an
    odd kernel): what jaxgen's `_conv_up` computes (VALID, then cropped)."""
    return nn.ConvTranspose2d(
        in_channels, out_channels, kernel, 2, padding=1, output_padding=kernel % 2, bias=bias
    )


def load_norm_named(norm: nn.Module, p: dict, stats: dict, name: str) -> None:
    if isinstance(norm, nn.BatchNorm2d):
        load_norm(norm, p[name], stats[name])


class UNetNet(nn.Module):
    """families/image_translation/model.py UNetGenerator (the reference's UnetGenerator):
    per level i, a 4x4 stride-2 convolution (padding 1) down, preceded by leaky ReLU but at the
    outermost and followed by the norm but at the outermost and innermost; back up, ReLU, a 4x4
    stride-2 transposed convolution, the norm (none at the outermost: tanh), dropout on
    `dropout_levels`, and the concatenation [level input; decoder output]. Images padded with
    background to a multiple of 2^depth, the output cropped back."""

    def __init__(self, in_channels, out_channels, base, depth, norm, dropout):
        super().__init__()
        width = lambda i: min(2**i, translation_nets.MAX_WIDTH_MULTIPLE) * base  # noqa: E731
        use_bias = norm == "instance"
        self.depth, self.dropout = depth, dropout
        self.dropout_levels = translation_nets.unet_dropout_levels(depth)
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        self.down_norm, self.up_norm = nn.ModuleDict(), nn.ModuleDict()
        k = translation_nets.PATCH_KERNEL
        for i in range(depth):
            outermost, innermost = i == 0, i == depth - 1
            c_in = in_channels if outermost else width(i - 1)
            self.down.append(nn.Conv2d(c_in, width(i), k, 2, 1, bias=use_bias))
            if not (outermost or innermost):
                self.down_norm[str(i)] = norm_2d(norm, width(i))
            up_in = width(i) if innermost else 2 * width(i)
            up_out = out_channels if outermost else width(i - 1)
            self.up.append(conv_up(up_in, up_out, k, outermost or use_bias))
            if not outermost:
                self.up_norm[str(i)] = norm_2d(norm, up_out)

    def level(self, x, i: int):
        outermost, innermost = i == 0, i == self.depth - 1
        h = x if outermost else F.leaky_relu(x, LEAK)
        h = self.down[i](h)
        if not (outermost or innermost):
            h = self.down_norm[str(i)](h)
        if not innermost:
            h = self.level(h, i + 1)
        h = self.up[i](F.relu(h))
        if outermost:
            return torch.tanh(h)
        h = self.up_norm[str(i)](h)
        if i in self.dropout_levels and self.dropout:
            h = F.dropout(h, self.dropout, self.training)
        return torch.cat([x, h], dim=1)

    def forward(self, x):
        height, width = x.shape[2:]
        return self.level(pad_to_multiple(x, 2**self.depth), 0)[:, :, :height, :width]

    def load(self, p: dict, stats: dict) -> None:
        for i in range(self.depth):
            load_conv(self.down[i], p[f"down{i}"])
            load_conv_transpose(self.up[i], p[f"up{i}"])
            if str(i) in self.down_norm:
                load_norm_named(self.down_norm[str(i)], p, stats, f"down_norm{i}")
            if str(i) in self.up_norm:
                load_norm_named(self.up_norm[str(i)], p, stats, f"up_norm{i}")


class PatchNet(nn.Module):
    """families/image_translation/model.py PatchDiscriminator (the reference's
    NLayerDiscriminator): 4x4 convolutions with padding 1 as `_patch_layer_list` lists them,
    the norm and leaky ReLU between; one logit per patch (N, 1, h, w)."""

    def __init__(self, in_channels, base, n_layers, norm):
        super().__init__()
        use_bias = norm == "instance"
        self.layers, self.norms = nn.ModuleList(), nn.ModuleList()
        c_in = in_channels
        for features, stride, normed in translation_nets._patch_layer_list(base, n_layers):
            k = translation_nets.PATCH_KERNEL
            self.layers.append(nn.Conv2d(c_in, features, k, stride, 1, bias=use_bias or not normed))
            self.norms.append(norm_2d(norm, features) if normed else nn.Identity())
            c_in = features

    def forward(self, x):
        for i, (conv, norm) in enumerate(zip(self.layers, self.norms, strict=True)):
            x = norm(conv(x))
            if i < len(self.layers) - 1:
                x = F.leaky_relu(x, LEAK)
        return x

    def load(self, p: dict, stats: dict) -> None:
        normed = 0
        for i, (conv, norm) in enumerate(zip(self.layers, self.norms, strict=True)):
            load_conv(conv, p[f"Conv_{i}"])
            if isinstance(norm, nn.BatchNorm2d):
                load_norm(norm, p[f"BatchNorm_{normed}"], stats[f"BatchNorm_{normed}"])
            if not isinstance(norm, nn.Identity):
                normed += 1


def gan_loss(mode: str, logits, real: bool):
    """families/image_translation/losses.py adversarial: LSGAN or BCE against 1 or 0."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


class Pix2PixTwin(Twin):
    """experiments/pix2pix_completion.py (families/image_translation/task.py Pix2PixTask): one
    forward pass of the U-Net (train mode: batch statistics, dropout) on the masked input; the
    PatchGAN (train mode) on [input; target] and [input; output] pairs in one call, the loss
    halved, its Adam update; then the generator's loss, GAN (D updated, train mode, on
    [input; output]) + l1_weight * L1 to the target, backpropagated through that same forward
    pass; the generator's Adam update. Images mapped to [-1, 1] inside the step."""

    GROUPS = {"generator": ("generator",), "discriminator": ("discriminator",)}

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        config = task.config
        m, o = config.model, config.objective
        check(m.generator == "unet", "model.generator=unet")
        self.mode, self.l1_weight = o.gan_loss, o.l1_weight
        in_c, out_c = task.in_shape[-1], task.out_shape[-1]
        size = task.out_shape[0]
        depth = m.unet_depth or translation_nets.unet_depth(min(task.in_shape[:2]))
        layers = m.patch_layers or translation_nets.patch_layers(size)
        generator = UNetNet(in_c, out_c, m.generator_base, depth, m.norm, m.dropout)
        discriminator = PatchNet(in_c + out_c, m.discriminator_base, layers, m.norm)
        generator.load(state.params["generator"], state.batch_stats["generator"])
        discriminator.load(state.params["discriminator"], state.batch_stats["discriminator"])
        self.generator, self.discriminator = (
            generator.to(self.device),
            discriminator.to(self.device),
        )
        self.modules = {"generator": self.generator, "discriminator": self.discriminator}
        self.adams = {
            name: Adam(net.parameters(), config, config.learning_rate)
            for name, net in self.modules.items()
        }
        self.train()

    def draw(self, batch):
        return {}  # the U-Net's dropout draws inside the network

    def step(self, batch, draws=None):
        x, y = batch["input"] * 2.0 - 1.0, batch["target"] * 2.0 - 1.0
        out = self.generator(x)
        pairs = torch.cat([torch.cat([x, y], 1), torch.cat([x, out.detach()], 1)])
        l_real, l_fake = self.discriminator(pairs).chunk(2)
        d_loss = 0.5 * (gan_loss(self.mode, l_real, True) + gan_loss(self.mode, l_fake, False))
        self.adams["discriminator"].update(
            torch.autograd.grad(d_loss, self.adams["discriminator"].params)
        )
        logits = self.discriminator(torch.cat([x, out], 1))
        gan, l1 = gan_loss(self.mode, logits, True), torch.mean(torch.abs(out - y))
        g_loss = gan + self.l1_weight * l1
        self.adams["generator"].update(torch.autograd.grad(g_loss, self.adams["generator"].params))
        return {
            "loss": d_loss.detach(),
            "generator_loss": g_loss.detach(),
            "generator_gan": gan.detach(),
            "l1": l1.detach(),
        }


class ResnetNet(nn.Module):
    """families/image_translation/model.py ResnetGenerator (the reference's): reflect pad 3 and
    a 7x7 convolution to base channels, two 3x3 stride-2 convolutions (padding 1) to 2b and 4b,
    each with the norm and ReLU; residual blocks (reflect pad 1, 3x3 convolution, norm, ReLU,
    reflect pad 1, 3x3 convolution, norm, + input); two 3x3 stride-2 transposed convolutions
    back, each with the norm and ReLU; reflect pad 3, a 7x7 convolution, tanh."""

    def __init__(self, in_channels, out_channels, base, blocks, norm):
        super().__init__()
        use_bias = norm == "instance"
        downs = translation_nets.RESNET_DOWNSAMPLINGS
        self.multiple = 2**downs
        self.stem = nn.Conv2d(in_channels, base, 7, bias=use_bias)
        self.stem_norm = norm_2d(norm, base)
        self.downs = nn.ModuleList(
            nn.Conv2d(base * 2**i, base * 2 ** (i + 1), 3, 2, 1, bias=use_bias)
            for i in range(downs)
        )
        self.down_norms = nn.ModuleList(norm_2d(norm, base * 2 ** (i + 1)) for i in range(downs))
        width = base * 2**downs
        self.blocks = nn.ModuleList(
            nn.ModuleList(
                [
                    nn.Conv2d(width, width, 3, bias=use_bias),
                    norm_2d(norm, width),
                    nn.Conv2d(width, width, 3, bias=use_bias),
                    norm_2d(norm, width),
                ]
            )
            for _ in range(blocks)
        )
        self.ups = nn.ModuleList(
            conv_up(base * 2 ** (i + 1), base * 2**i, 3, use_bias) for i in reversed(range(downs))
        )
        self.up_norms = nn.ModuleList(norm_2d(norm, base * 2**i) for i in reversed(range(downs)))
        self.head = nn.Conv2d(base, out_channels, 7)

    def forward(self, x):
        height, width = x.shape[2:]
        x = pad_to_multiple(x, self.multiple)
        x = F.relu(self.stem_norm(self.stem(F.pad(x, (3, 3, 3, 3), mode="reflect"))))
        for conv, norm in zip(self.downs, self.down_norms, strict=True):
            x = F.relu(norm(conv(x)))
        for conv1, norm1, conv2, norm2 in self.blocks:
            h = F.relu(norm1(conv1(F.pad(x, (1, 1, 1, 1), mode="reflect"))))
            x = x + norm2(conv2(F.pad(h, (1, 1, 1, 1), mode="reflect")))
        for conv, norm in zip(self.ups, self.up_norms, strict=True):
            x = F.relu(norm(conv(x)))
        x = torch.tanh(self.head(F.pad(x, (3, 3, 3, 3), mode="reflect")))
        return x[:, :, :height, :width]

    def load(self, p: dict) -> None:
        convs = [self.stem, *self.downs]
        for i, conv in enumerate(convs):
            load_conv(conv, p[f"Conv_{i}"])
        load_conv(self.head, p[f"Conv_{len(convs)}"])
        for k, (conv1, _, conv2, _) in enumerate(self.blocks):
            load_conv(conv1, p[f"ResnetBlock_{k}"]["Conv_0"])
            load_conv(conv2, p[f"ResnetBlock_{k}"]["Conv_1"])
        for i, conv in enumerate(self.ups):
            load_conv_transpose(conv, p[f"ConvTranspose_{i}"])


class ImagePool:
    """The reference's util/image_pool.py (jaxgen's image_pool.py is its port): per image,
    stored and returned while the pool fills; then with probability 1/2 a stored image is
    returned and replaced by the new one, else the new one is returned."""

    def __init__(self, size: int, seed: int = 0):
        self.size, self.images, self.random = size, [], random.Random(seed)

    def query(self, batch):
        if self.size == 0:
            return batch
        out = []
        for image in batch.unbind(0):
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif self.random.uniform(0, 1) > 0.5:
                index = self.random.randint(0, self.size - 1)
                out.append(self.images[index].clone())
                self.images[index] = image
            else:
                out.append(image)
        return torch.cat(out)


class CycleGANTwin(Twin):
    """experiments/cyclegan_digits.py (families/image_translation/task.py CycleGANTask): the
    generators' update first, G_AB(a), G_BA(G_AB(a)), G_BA(b), G_AB(G_BA(b)) and the identity
    terms G_AB(b), G_BA(a), the discriminators D_B(G_AB(a)) and D_A(G_BA(b)) on the fakes; LSGAN
    + lambda * cycle L1 each way + identity * lambda * identity L1; one Adam over both
    generators; then the discriminators on [real; fakes from a pool of 50], each loss halved,
    one Adam over both. Images mapped to [-1, 1] inside the step."""

    GROUPS = {"g_ab": ("g_ab",), "g_ba": ("g_ba",), "d_a": ("d_a",), "d_b": ("d_b",)}

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        config = task.config
        m, o = config.model, config.objective
        check(m.generator == "resnet", "model.generator=resnet")
        self.o = o
        shapes = task.shapes
        size = shapes["a"][0]
        blocks = m.resnet_blocks or translation_nets.resnet_blocks(size)
        layers = m.patch_layers or translation_nets.patch_layers(size)
        ca, cb = shapes["a"][-1], shapes["b"][-1]
        nets = {
            "g_ab": ResnetNet(ca, cb, m.generator_base, blocks, m.norm),
            "g_ba": ResnetNet(cb, ca, m.generator_base, blocks, m.norm),
            "d_a": PatchNet(ca, m.discriminator_base, layers, m.norm),
            "d_b": PatchNet(cb, m.discriminator_base, layers, m.norm),
        }
        check(m.norm == "instance", "model.norm=instance")
        for name, net in nets.items():
            if name.startswith("g"):
                net.load(state.params[name])
            else:
                net.load(state.params[name], {})
        self.modules = {name: net.to(self.device) for name, net in nets.items()}
        generators = [*self.modules["g_ab"].parameters(), *self.modules["g_ba"].parameters()]
        discriminators = [*self.modules["d_a"].parameters(), *self.modules["d_b"].parameters()]
        self.adams = {
            "generators": Adam(generators, config, config.learning_rate),
            "discriminators": Adam(discriminators, config, config.learning_rate),
        }
        self.pools = {d: ImagePool(o.pool_size, seed=i) for i, d in enumerate("ab")}
        self.train()

    def draw(self, batch):
        return {}  # the pools draw with Python's random, as the reference's

    def step(self, batch, draws=None):
        o, mode, nets = self.o, self.o.gan_loss, self.modules
        a, b = batch["a"] * 2.0 - 1.0, batch["b"] * 2.0 - 1.0
        fake_b = nets["g_ab"](a)
        rec_a = nets["g_ba"](fake_b)
        fake_a = nets["g_ba"](b)
        rec_b = nets["g_ab"](fake_a)
        l1 = lambda u, v: torch.mean(torch.abs(u - v))  # noqa: E731
        gan_ab = gan_loss(mode, nets["d_b"](fake_b), True)
        gan_ba = gan_loss(mode, nets["d_a"](fake_a), True)
        cycle_a, cycle_b = l1(rec_a, a), l1(rec_b, b)
        g_loss = gan_ab + gan_ba + o.lambda_a * cycle_a + o.lambda_b * cycle_b
        if o.identity:
            idt_a, idt_b = nets["g_ab"](b), nets["g_ba"](a)
            g_loss = g_loss + o.identity * (o.lambda_b * l1(idt_a, b) + o.lambda_a * l1(idt_b, a))
        self.adams["generators"].update(
            torch.autograd.grad(g_loss, self.adams["generators"].params)
        )

        seen_a = self.pools["a"].query(fake_a.detach())
        seen_b = self.pools["b"].query(fake_b.detach())
        losses = {}
        for d, real, seen in (("a", a, seen_a), ("b", b, seen_b)):
            l_real, l_fake = nets[f"d_{d}"](torch.cat([real, seen])).chunk(2)
            losses[d] = 0.5 * (gan_loss(mode, l_real, True) + gan_loss(mode, l_fake, False))
        d_loss = losses["a"] + losses["b"]
        self.adams["discriminators"].update(
            torch.autograd.grad(d_loss, self.adams["discriminators"].params)
        )
        return {
            "loss": d_loss.detach(),
            "generator_loss": g_loss.detach(),
            "d_a": losses["a"].detach(),
            "d_b": losses["b"].detach(),
            "cycle_a": cycle_a.detach(),
            "cycle_b": cycle_b.detach(),
        }


# ---- the character language model -----------------------------------------------------------


GATES = ("i", "f", "g", "o")  # PyTorch's order of the gates stacked in weight_ih / weight_hh


class CharLMTwin(Twin):
    """experiments/char_lm.py (families/language_model/task.py, one LSTM cell): embedding,
    nn.LSTM (cuDNN's or the CPU kernel) over the window from the carried (h, c), gradient
    stopped there (truncated BPTT), Dense to the vocabulary; loss = the mean over every
    position of the cross-entropy, zero at padding targets; global-norm clipping, Adam. Flax's
    LSTM cell has one bias per gate (on the hidden Dense layers); PyTorch's has two, of which
    `bias_ih` is held at zero and not trained. The carry restarts from zero every epoch of
    windows, as jaxgen's."""

    GROUPS = {"lstm": ("lstm",)}

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        config = task.config
        check(tuple(config.cells) == ("lstm",), "cells=lstm (one LSTM model)")
        model = task.models["lstm"]
        self.layers, self.hidden_size = model.num_layers, model.hidden_size
        self.windows = task.windows
        self.embed = nn.Embedding(model.vocab_size, model.embed_dim)
        self.lstm = nn.LSTM(model.embed_dim, model.hidden_size, model.num_layers, batch_first=True)
        self.readout = nn.Linear(model.hidden_size, model.vocab_size)
        p = state.params["lstm"]["params"]
        put(self.embed.weight, p["embed"]["embedding"])
        for k in range(self.layers):
            cell = p[f"layers_{k}"]["cell"]

            def stacked(side, cell=cell):
                kernels = [np.asarray(cell[f"{side}{g}"]["kernel"]) for g in GATES]
                return np.concatenate(kernels, 1).T

            put(getattr(self.lstm, f"weight_ih_l{k}"), stacked("i"))
            put(getattr(self.lstm, f"weight_hh_l{k}"), stacked("h"))
            bias = np.concatenate([np.asarray(cell[f"h{g}"]["bias"]) for g in GATES])
            put(getattr(self.lstm, f"bias_hh_l{k}"), bias)
            put(getattr(self.lstm, f"bias_ih_l{k}"), np.zeros_like(bias))
            getattr(self.lstm, f"bias_ih_l{k}").requires_grad_(False)
        load_dense(self.readout, p["readout"])
        self.net = nn.ModuleList([self.embed, self.lstm, self.readout]).to(self.device)
        self.modules = {"lstm": self.net}
        trained = [p for p in self.net.parameters() if p.requires_grad]
        self.clip = config.get("grad_clip_norm", 0.0)
        self.adam = Adam(trained, config, config.learning_rate)
        self.hidden, self.steps = None, 0

    def zero_carry(self, batch_size: int):
        shape = (self.layers, batch_size, self.hidden_size)
        return (torch.zeros(shape, device=self.device), torch.zeros(shape, device=self.device))

    def draw(self, batch):
        return {}

    def loss(self, batch, carry):
        """(mean nats per position, the new carry) of a window from `carry` (h, c)."""
        inputs, targets = batch["inputs"], batch["targets"]
        out, carry = self.lstm(self.embed(inputs), carry)
        logits = self.readout(out)
        mask = targets != IGNORE_TARGET
        nll = F.cross_entropy(
            logits.flatten(0, 1), torch.where(mask, targets, 0).flatten(), reduction="none"
        )
        return torch.mean(nll * mask.flatten()), carry

    def step(self, batch, draws=None):
        if self.hidden is None or self.steps % self.windows == 0:
            self.hidden = self.zero_carry(batch["inputs"].shape[0])
        carry = tuple(h.detach() for h in self.hidden)
        loss, self.hidden = self.loss(batch, carry)
        grads = torch.autograd.grad(loss, self.adam.params)
        if self.clip:
            norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
            scale = torch.clamp(self.clip / norm, max=1.0)
            grads = [g * scale for g in grads]
        self.adam.update(grads)
        self.steps += 1
        return {"loss": loss.detach()}


# ---- the deep belief network's greedy layers ------------------------------------------------


class DBNLayerTwin(Twin):
    """experiments/dbn.py (families/dbn/task.py `_pretrain_step`): one step of the greedy
    pretraining phase of layer `LAYER` (0-based), which updates that RBM only: the batch's
    pixels binarized afresh (uniforms below the grey levels), passed up through the frozen
    layers below as hidden probabilities (no gradient), joined to the one-hot labels at the top
    layer; the negatives `gibbs_steps` rounds of block Gibbs sampling v -> h -> v from the
    persistent chains (PCD; from the data for CD), the top layer's label units drawn from
    their softmax (Gumbel noise, as JAX's `categorical`); the gradient of mean F(data) - mean
    F(negatives); SGD with momentum after L2 weight decay on the weights only, the rate's
    schedule over the layer's own budget; the chains kept. Metrics: that loss and the
    mean-field reconstruction error (of the feature units only at the top)."""

    LAYER = 0
    GROUPS = {"rbm1": ("rbm1",)}
    CHANNELS_FIRST = False

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        from jaxgen.families.dbn.model import layer_name

        config, o = task.config, task.config.objective
        check(o.kind in ("pcd", "cd"), "objective.kind: pcd or cd")
        self.o, self.layer, self.top = o, self.LAYER, self.LAYER == task.top
        self.labels = task.num_labels
        self.below = [
            (self.tensor(state.params[layer_name(i)]["weights"]),
             self.tensor(state.params[layer_name(i)]["hidden_bias"]))
            for i in range(self.layer)
        ]  # fmt: skip
        p = state.params[layer_name(self.layer)]
        self.rbm = nn.ParameterDict(
            {k: nn.Parameter(self.tensor(p[k])) for k in ("weights", "visible_bias", "hidden_bias")}
        )
        self.modules = {layer_name(self.layer): self.rbm}
        self.chains = self.tensor(state.chains)
        budget = task.budgets[self.layer]
        rbm = self.rbm
        self.optimizer = torch.optim.SGD(
            [
                {"params": [rbm["weights"]], "weight_decay": o.weight_decay},
                {"params": [rbm["visible_bias"], rbm["hidden_bias"]], "weight_decay": 0.0},
            ],
            lr=config.learning_rate,
            momentum=o.momentum,
        )
        factor = lr_factor(config, budget)
        self.schedule = None
        if factor is not None:
            self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    def draw(self, batch):
        b = batch["image"].shape[0]
        visible, hidden = self.rbm["weights"].shape
        k = self.o.gibbs_steps
        features = visible - self.labels if self.top else visible
        draws = {
            "bits_u": torch.rand_like(batch["image"]),
            "h_u": torch.rand(k, b, hidden, device=self.device),
            "v_u": torch.rand(k, b, features, device=self.device),
        }
        if self.top:
            u = torch.rand(k, b, self.labels, device=self.device)
            draws["gumbel"] = -torch.log(-torch.log(u))
        return draws

    def free_energy(self, v):
        rbm = self.rbm
        return -(v @ rbm["visible_bias"]) - F.softplus(v @ rbm["weights"] + rbm["hidden_bias"]).sum(
            1
        )

    def gibbs(self, v, draws):
        rbm = self.rbm
        for i in range(self.o.gibbs_steps):
            h = (draws["h_u"][i] < torch.sigmoid(v @ rbm["weights"] + rbm["hidden_bias"])).float()
            logits = h @ rbm["weights"].T + rbm["visible_bias"]
            if not self.top:
                v = (draws["v_u"][i] < torch.sigmoid(logits)).float()
                continue
            bits = (draws["v_u"][i] < torch.sigmoid(logits[:, : -self.labels])).float()
            label = torch.argmax(logits[:, -self.labels :] + draws["gumbel"][i], dim=1)
            v = torch.cat([bits, F.one_hot(label, self.labels).float()], 1)
        return v

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        rbm = self.rbm
        x = (draws["bits_u"] < batch["image"]).float()
        with torch.no_grad():
            for weights, bias in self.below:
                x = torch.sigmoid(x @ weights + bias)
            if self.top:
                x = torch.cat([x, F.one_hot(batch["label"], self.labels).float()], 1)
            negatives = self.gibbs(self.chains if self.o.kind == "pcd" else x, draws)
        loss = self.free_energy(x).mean() - self.free_energy(negatives).mean()
        grads = torch.autograd.grad(loss, list(rbm.values()))
        with torch.no_grad():
            hidden = torch.sigmoid(x @ rbm["weights"] + rbm["hidden_bias"])
            recon = torch.sigmoid(hidden @ rbm["weights"].T + rbm["visible_bias"])
            units = x.shape[1] - self.labels if self.top else x.shape[1]
            error = torch.mean((x - recon)[:, :units] ** 2)
        for p, g in zip(rbm.values(), grads, strict=True):
            p.grad = g
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.o.kind == "pcd":
            self.chains = negatives
        return {"loss": loss.detach(), "reconstruction_error": error}


def dbn_layer_twin(layer: int) -> type[DBNLayerTwin]:
    """The twin of the pretraining step of layer `layer` (0-based)."""
    name = f"rbm{layer + 1}"
    return type(
        f"DBNLayer{layer + 1}Twin", (DBNLayerTwin,), {"LAYER": layer, "GROUPS": {name: (name,)}}
    )


# ---- the feature classifier ----------------------------------------------------------------


class ClassifierNet(nn.Module):
    """jaxgen.nn.classifier.DigitClassifier: two 3x3 SAME convolutions (32, 64) with ReLU and
    2x2 average pooling, Dense 128 with ReLU (the features), Dense logits."""

    def __init__(self, image_shape, num_classes: int):
        super().__init__()
        height, width, channels = image_shape
        check(height % 4 == 0 and width % 4 == 0, "image sides divisible by 4")
        self.conv1 = nn.Conv2d(channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.flat_hwc = (height // 4, width // 4, 64)
        self.dense = nn.Linear(math.prod(self.flat_hwc), 128)
        self.logits = nn.Linear(128, num_classes)

    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.conv1(x)), 2)
        x = F.avg_pool2d(F.relu(self.conv2(x)), 2)
        return self.logits(F.relu(self.dense(x.flatten(1))))

    def load(self, p: dict) -> None:
        load_conv(self.conv1, p["Conv_0"])
        load_conv(self.conv2, p["Conv_1"])
        load_dense(self.dense, p["Dense_0"], rows_hwc=self.flat_hwc)
        load_dense(self.logits, p["Dense_1"])


class ClassifierTwin(Twin):
    """experiments/feature_classifier.py (families/classifier/task.py): each image moved by its
    own random (dy, dx) in [-shift, shift]^2 (zero-filled border: pad, then crop at the drawn
    offsets), the classifier, softmax cross-entropy against the labels, Adam with the config's
    schedule."""

    GROUPS = {"classifier": ("params",)}

    def __init__(self, task, state, device="cpu"):
        super().__init__(device)
        check(not task.multi_label, "class labels (not attributes)")
        self.shift = task.shift
        self.net = ClassifierNet(task.image_shape, task.num_classes).to(self.device)
        self.net.load(state.params["params"])
        self.modules = {"classifier": self.net}
        self.adam = Adam(self.net.parameters(), task.config, task.config.learning_rate)

    def draw(self, batch):
        b = batch["image"].shape[0]
        span = 2 * self.shift + 1
        return {"offsets": torch.randint(0, span, (b, 2), device=self.device)}

    def translate(self, x, offsets):
        """x (B, C, H, W) with image i cropped from its zero-padded self at offsets[i]."""
        if not self.shift:
            return x
        b, _, height, width = x.shape
        padded = F.pad(x, (self.shift,) * 4)
        rows = offsets[:, 0, None] + torch.arange(height, device=x.device)  # B x H
        cols = offsets[:, 1, None] + torch.arange(width, device=x.device)  # B x W
        index = torch.arange(b, device=x.device)[:, None, None]
        # Advanced indices around the channel slice put their (B, H, W) first.
        return padded[index, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        logits = self.net(self.translate(batch["image"], draws["offsets"]))
        loss = F.cross_entropy(logits, batch["label"])
        self.adam.update(torch.autograd.grad(loss, self.adam.params))
        return {"loss": loss.detach()}


# ---- convnets run in reverse: the image is trained, the network frozen ---------------------


def jax_abs(x):
    """|x| with JAX's derivative, +1 at 0 (`jnp.abs`'s rule); PyTorch's `abs` has 0 there, and
    neighbouring pixels of flat or clipped regions are exactly equal."""
    return torch.where(x >= 0, x, -x)


def total_variation(x_NCHW):
    """N: image_params.total_variation (tf.image.total_variation: a sum, not a mean)."""
    dy = jax_abs(x_NCHW[:, :, 1:] - x_NCHW[:, :, :-1]).sum((1, 2, 3))
    return dy + jax_abs(x_NCHW[:, :, :, 1:] - x_NCHW[:, :, :, :-1]).sum((1, 2, 3))


def to_channels(x_NCHW, channels: int):
    """pixel_task.to_channels: RGB to luminance for a gray network, gray repeated for RGB."""
    have = x_NCHW.shape[1]
    if have == channels:
        return x_NCHW
    if channels == 1:
        from jaxgen.families.reverse.pixel_task import LUMINANCE

        weights = torch.tensor(LUMINANCE, dtype=x_NCHW.dtype, device=x_NCHW.device)
        return torch.einsum("nchw,c->nhw", x_NCHW, weights)[:, None]
    return x_NCHW.repeat(1, channels, 1, 1)


def same_avg_pool2(x):
    """flax's avg_pool((2, 2), strides (2, 2), padding "SAME"): an odd side padded by one zero
    row or column after (XLA's SAME), every window divided by 4 (the padding counted)."""
    (top, bottom), (left, right) = same_pads(x.shape[2], 2, 2), same_pads(x.shape[3], 2, 2)
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom))
    return F.avg_pool2d(x, 2)


class MultiscaleNet(nn.Module):
    """networks.multiscale_forward: the pixels minus 0.5, one SAME convolution a filter size
    (stride 1) + ReLU, by size; `multiscale` is all the maps on the channel axis. Frozen."""

    def __init__(self, weights: dict):
        super().__init__()
        self.names = sorted(weights, key=lambda n: int(n.removeprefix("scale")))
        self.convs = nn.ModuleList()
        for name in self.names:
            size, _, channels, width = np.shape(weights[name]["kernel"])
            conv = SameConv2d(channels, width, size)
            load_conv(conv, weights[name])
            self.convs.append(conv)
        self.requires_grad_(False)

    def activations(self, x, layers: Iterable[str]) -> dict:
        from jaxgen.families.reverse.networks import MULTISCALE_LAYER

        layers = set(layers)
        every = MULTISCALE_LAYER in layers
        x = x - 0.5
        maps = {
            name: F.relu(conv(x))
            for name, conv in zip(self.names, self.convs, strict=True)
            if every or name in layers
        }
        if every:
            maps[MULTISCALE_LAYER] = torch.cat(list(maps.values()), 1)
        return maps


class FeatureClassifierNet(ClassifierNet):
    """networks.classifier_forward (jaxgen's DigitClassifier): the post-ReLU maps `conv1` and
    `conv2`, the 128 `features` and the `logits`, computed up to the deepest layer asked for
    (the maps take any size: SAME average pooling, as flax's). Frozen."""

    def __init__(self, image_shape, num_classes: int, params: dict):
        super().__init__(image_shape, num_classes)
        self.load(params["params"])
        self.requires_grad_(False)

    def activations(self, x, layers: Iterable[str]) -> dict:
        layers = set(layers)
        out = {"conv1": F.relu(self.conv1(x))}
        if layers <= {"conv1"}:
            return out
        out["conv2"] = F.relu(self.conv2(same_avg_pool2(out["conv1"])))
        if layers <= {"conv1", "conv2"}:
            return out
        out["features"] = F.relu(self.dense(same_avg_pool2(out["conv2"]).flatten(1)))
        out["logits"] = self.logits(out["features"])
        return out


def frozen_network(task, device):
    """The task's optimised-against network (`config.network`) as a frozen module with
    `activations(images_NCHW, layers) -> {layer: NCHW maps or N x K}`: the random multi-scale
    layer or jaxgen's feature classifier (VGG's copy is benchmarks/style_transfer_step.py's)."""
    network, kind = task.network, task.config.network
    check(kind in ("random_multiscale", "classifier"), "network: random_multiscale or classifier")
    weights = task.frozen_inputs().arrays["network"]
    if kind == "random_multiscale":
        return MultiscaleNet(weights).to(device)
    shape = (*network.exact_size, network.channels)
    return FeatureClassifierNet(shape, network.num_classes, weights).to(device)


def draw_shift(max_shift: int) -> list[int]:
    """image_params._random_shift: (dy, dx), each uniform on the integers of [-max_shift,
    max_shift], as Python ints (what torch.roll takes)."""
    return torch.randint(-max_shift, max_shift + 1, (2,)).tolist()


def roll(x_NCHW, shift):
    """jnp.roll of NHWC images by (dy, dx) on their spatial axes."""
    return torch.roll(x_NCHW, (int(shift[0]), int(shift[1])), dims=(2, 3))


class PixelTwin(Twin):
    """What the reverse family's twins share (families/reverse/pixel_task.py): no data (the
    step's batch is empty: `batch({})` is {}), the frozen network, the image's parameters as
    the one trained group, `GROUPS` {"image": all of state.params}."""

    GROUPS = {"image": ()}

    def __init__(self, task, params: dict, device):
        super().__init__(device)
        self.net = frozen_network(task, self.device)
        self.channels = task.network.channels
        self.params = nn.ParameterDict({k: nn.Parameter(self.images(v)) for k, v in params.items()})
        self.modules = {"image": self.params}

    def features(self, images_NCHW, layers):
        return self.net.activations(to_channels(images_NCHW, self.channels), layers)

    def pixel_adam(self, config) -> torch.optim.Adam:
        """pixel_task.pixel_optimizer's Adam (also the visualisation's): constant rate, betas
        (adam_b1, 0.999), eps adam_eps."""
        check(config.optimizer == "adam", "optimizer adam (L-BFGS's line search has no twin)")
        return torch.optim.Adam(
            self.params.values(),
            lr=config.learning_rate,
            betas=(config.adam_b1, 0.999),
            eps=config.adam_eps,
        )


def gram(features_NCHW):
    """losses.gram: N x C x C, the mean outer product of the feature vectors over positions."""
    flat = features_NCHW.flatten(2)
    return flat @ flat.transpose(1, 2) / flat.shape[2]


class TextureTwin(PixelTwin):
    """experiments/texture_synthesis.py (families/reverse/style.py StyleTask, method texture):
    the image (1 x H x W x C, pixels in [0, 1]) in the frozen network, the style loss (the mean
    over the style layers of the mean squared difference between the image's Gram matrix and
    the exemplar's, jaxgen's targets), total variation; style_weight * style + tv_weight * TV;
    its gradient with respect to the pixels; Adam (lr, beta1, eps from the config); the pixels
    clipped to [0, 1]. Nothing is drawn. Metrics: loss, style_loss, total_variation."""

    def __init__(self, task, state, device="cpu"):
        check(task.texture, "method texture (style transfer's copy is style_transfer_step.py)")
        super().__init__(task, state.params, device)
        self.config = config = task.config
        grams = task.frozen_inputs().arrays["targets"]["grams"]
        self.grams = {k: self.tensor(v) for k, v in grams.items()}
        self.adam = self.pixel_adam(config)

    def draw(self, batch):
        return {}

    def image(self):
        return self.params["image"].detach()

    def step(self, batch, draws=None):
        config, image = self.config, self.params["image"]
        feats = self.features(image, self.grams)
        per_layer = [torch.mean((gram(feats[k]) - t) ** 2, (1, 2)) for k, t in self.grams.items()]
        style = torch.stack(per_layer).mean(0)[0]
        tv = total_variation(image)[0]
        loss = config.style_weight * style + config.tv_weight * tv
        (image.grad,) = torch.autograd.grad(loss, [image])
        self.adam.step()
        self.adam.zero_grad(set_to_none=True)
        with torch.no_grad():
            image.clamp_(0.0, 1.0)
        return {"loss": loss.detach(), "style_loss": style.detach(), "total_variation": tv.detach()}


class DreamTwin(PixelTwin):
    """experiments/deepdream.py (families/reverse/dream.py), the step of octave `PHASE` (the
    loop's phase; family_steps.py's `deepdream` entry times the same one): the image (1 x H x W
    x C at that octave's size) rolled by a random (dy, dx) in [-max_roll, max_roll]^2, the
    objective (the sum over the dream layers of the mean activation) and its gradient with
    respect to the rolled pixels, rolled back and divided by its standard deviation (+ 1e-8;
    the population one, as jnp.std: `correction=0`); image + step_size * gradient, clipped to
    [0, 1]. As jaxgen's, the step also records the objective of the image entering the octave
    (one more forward pass, at the octave's first step only: state.step == PHASE *
    steps_per_octave) and of the new image (one more forward pass, every step), in `record`
    (jaxgen's state.octave_objective). Draws: `shift`. Metrics: loss (minus the objective of
    the rolled image), objective (after the step)."""

    PHASE = 2

    def __init__(self, task, state, device="cpu"):
        super().__init__(task, state.params, device)
        self.config = config = task.config
        check(self.PHASE < len(task.octaves), f"at least {self.PHASE + 1} octaves")
        size = tuple(np.shape(state.params["image"])[1:3])
        check(size == tuple(task.sizes[self.PHASE]), "the state is at the octave's size")
        self.layers = task.layers
        self.max_roll = config.max_roll or max(size)
        self.first_step = self.PHASE * config.steps_per_octave
        self.steps = int(state.step)
        self.record = self.tensor(state.octave_objective)

    def draw(self, batch):
        return {"shift": draw_shift(self.max_roll)}

    def image(self):
        return self.params["image"].detach()

    def objective(self, image):
        feats = self.features(image, self.layers)
        return sum(feats[name].mean() for name in self.layers)

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        param = self.params["image"]
        image = param.detach()
        dy, dx = (int(s) for s in draws["shift"])
        rolled = roll(image, (dy, dx)).requires_grad_(True)
        value = self.objective(rolled)
        (grad,) = torch.autograd.grad(value, [rolled])
        grad = roll(grad, (-dy, -dx))
        grad = grad / (grad.std(correction=0) + 1e-8)
        with torch.no_grad():
            new_image = torch.clamp(image + self.config.step_size * grad, 0.0, 1.0)
            entering = self.record[self.PHASE, 0]
            if self.steps == self.first_step:
                entering = self.objective(image)
            after = self.objective(new_image)
            self.record[self.PHASE] = torch.stack([entering, after])
            param.copy_(new_image)
        self.steps += 1
        return {"loss": -value.detach(), "objective": after}


def resample_weights(in_size: int, out_size: int, scale, translation):
    """in_size x out_size: the weights of jax.image.scale_and_translate's linear (triangle)
    kernel, antialiased, along one axis: output pixel o's centre maps to input coordinate
    (o + 0.5 - translation) / scale - 0.5; the triangle is widened by 1 / scale when
    shrinking; each output's weights normalised to sum 1, zero where its centre maps outside
    the input. `scale` and `translation` are float32 scalar tensors (drawn per step)."""
    device = scale.device
    inv = 1.0 / scale
    kernel_scale = torch.clamp(inv, min=1.0)
    sample = (torch.arange(out_size, dtype=torch.float32, device=device) + 0.5) * inv
    sample = sample - translation * inv - 0.5
    inputs = torch.arange(in_size, dtype=torch.float32, device=device)
    x = torch.abs(sample[None, :] - inputs[:, None]) / kernel_scale
    weights = torch.clamp(1.0 - x, min=0.0)
    total = weights.sum(0, keepdim=True)
    safe = torch.where(total != 0, total, torch.ones_like(total))
    weights = torch.where(total.abs() > 1000.0 * np.finfo(np.float32).eps, weights / safe, 0.0)
    inside = (sample >= -0.5) & (sample <= in_size - 0.5)
    return torch.where(inside[None, :], weights, 0.0)


def random_scale(x_NCHW, scales, index: int, margin: int):
    """image_params.random_scale with the factor scales[index] (a float32 tensor of the
    scales): the batch edge-padded by `margin`, then resampled (antialiased bilinear, the
    weights of `resample_weights`) into its own size about its centre."""
    _, _, height, width = x_NCHW.shape
    padded = F.pad(x_NCHW, (margin,) * 4, mode="replicate")
    scale = scales[index]
    size = torch.tensor([height, width], dtype=torch.float32, device=scales.device)
    translation = size / 2 - scale * (size + 2 * margin) / 2
    rows = resample_weights(height + 2 * margin, height, scale, translation[0])
    cols = resample_weights(width + 2 * margin, width, scale, translation[1])
    return torch.einsum("nchw,hy,wx->ncyx", padded, rows, cols)


class VisualisationTwin(PixelTwin):
    """experiments/class_visualisation.py (families/reverse/visualise.py): N images, one a
    target unit, from their parameters (fourier: the spectrum (real + i imag) times
    image_params.fourier_scale * sqrt(H W), irfft2, the colour decorrelation for RGB, sigmoid;
    pixel: the pixels clipped to [0, 1]); lucid's transforms, each one draw for the whole batch:
    a roll by (dy, dx) in [-jitter, jitter]^2, a random scale (one of `scales`, edge-padded,
    antialiased bilinear resampling into the same size), a roll by one pixel at most; the
    frozen network's target layer, log-softmax for log_probability, each image's own unit (a
    map's channel averaged over positions); loss -sum(values) + tv_weight * sum(TV of the
    untransformed images); Adam (lr, beta1, eps) on the parameters. The spectrum is held
    channels first (N x C x H x W//2+1), as the images. Draws: `shift1`, `scale_index`,
    `shift2`. Metrics: loss, objective (the mean value), total_variation."""

    def __init__(self, task, state, device="cpu"):
        from jaxgen.families.reverse import image_params

        super().__init__(task, state.params, device)
        self.config = config = task.config
        self.parametrisation = config.parametrisation
        self.n, self.h, self.w, self.c = task.shape
        if self.parametrisation == "fourier":
            scale = image_params.fourier_scale(self.h, self.w, config.decay_power)
            self.spectrum_scale = self.tensor(scale * np.float32(math.sqrt(self.h * self.w)))
            self.colour = self.tensor(image_params.COLOR_MATRIX_3x3)
        self.layer, self.units = task.layer, self.tensor(task.units, torch.int64)
        self.log_probability = config.objective == "log_probability"
        self.jitter = (config.jitter, min(1, config.jitter))
        self.scales = self.tensor(task.scales)
        shrink = max(0.0, 1.0 / min(task.scales) - 1.0)
        self.margin = math.ceil(max(self.h, self.w) / 2 * shrink) + 1
        self.adam = torch.optim.Adam(
            self.params.values(),
            lr=config.learning_rate,
            betas=(config.adam_b1, 0.999),
            eps=config.adam_eps,
        )

    def draw(self, batch):
        return {
            "shift1": draw_shift(self.jitter[0]),
            "scale_index": int(torch.randint(0, len(self.scales), ())),
            "shift2": draw_shift(self.jitter[1]),
        }

    def to_image(self):
        if self.parametrisation == "pixel":
            return torch.clamp(self.params["pixels"], 0.0, 1.0)
        spectrum = torch.complex(self.params["real"], self.params["imag"]) * self.spectrum_scale
        x = torch.fft.irfft2(spectrum, s=(self.h, self.w), dim=(-2, -1))
        if self.c == 3:
            x = torch.einsum("nchw,dc->ndhw", x, self.colour)
        return torch.sigmoid(x)

    def image(self):
        with torch.no_grad():
            return self.to_image()

    def step(self, batch, draws=None):
        draws = self.draw(batch) if draws is None else draws
        images = self.to_image()
        x = roll(images, draws["shift1"])
        x = random_scale(x, self.scales, int(draws["scale_index"]), self.margin)
        x = roll(x, draws["shift2"])
        feats = self.features(x, (self.layer,))[self.layer]
        if self.log_probability:
            feats = F.log_softmax(feats, dim=-1)
        if feats.ndim == 4:
            feats = feats.mean((2, 3))
        values = torch.gather(feats, 1, self.units[:, None])[:, 0]
        tv = total_variation(images).sum()
        loss = -values.sum() + self.config.tv_weight * tv
        params = list(self.params.values())
        for p, g in zip(params, torch.autograd.grad(loss, params), strict=True):
            p.grad = g
        self.adam.step()
        self.adam.zero_grad(set_to_none=True)
        return {
            "loss": loss.detach(),
            "objective": values.mean().detach(),
            "total_variation": tv.detach(),
        }


TWINS = {
    "denoising_ae": AutoencoderTwin,
    "autoencoder": AutoencoderTwin,
    "conv_vae": ConvVAETwin,
    "cvae": DenseVAETwin,
    "vaegan": VAEGANTwin,
    "bigan": BiGANTwin,
    "cgan": GANTwin,
    "wgan_gp": GANTwin,
    "gan_ring": GANTwin,
    "pix2pix": Pix2PixTwin,
    "cyclegan": CycleGANTwin,
    "char_lm": CharLMTwin,
    "dbn_rbm1": dbn_layer_twin(0),
    "dbn_rbm2": dbn_layer_twin(1),
    "dbn_rbm3": dbn_layer_twin(2),
    "feature_classifier": ClassifierTwin,
    "texture_synthesis": TextureTwin,
    "deepdream": DreamTwin,
    "class_visualisation": VisualisationTwin,
}
