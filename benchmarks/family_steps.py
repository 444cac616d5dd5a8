"""Train-step speed of the families that had no step benchmark: jaxgen (the task's jitted
`train_step`, state donated) vs the same step in PyTorch eager, one family at a time.

    python benchmarks/family_steps.py [--quick] [--families denoising_ae,conv_vae,...]
                                      [--preset default] [--torch-threads N]
                                      [--repeats N] [--steps N] [--warmup N]

(`--rounds` is `--repeats`.) Each family's task is its experiment's file at `--preset` (the
default preset unless said otherwise, `--quick` too: the quick form only runs fewer rounds and
steps) loaded with `jaxgen.config.load_config` and built by `jaxgen.families.build_task`:

- `autoencoder` (autoencoder): experiments/autoencoder.py, the shallow dense 784-32-784 one;
- `denoising_ae` (autoencoder): experiments/denoising_ae.py, the conv denoising autoencoder;
- `cvae` (vae): experiments/cvae.py, the dense conditional VAE (dynamic binarization, KL
  warm-up);
- `conv_vae` (vae): experiments/conv_vae.py, the conv VAE with a learned Gaussian scale;
- `vaegan` (vaegan): experiments/vaegan.py, the three-player VAE-GAN;
- `bigan` (bigan): experiments/bigan.py, BiGAN (encoder, generator, joint discriminator);
- `cgan` (gan): experiments/cgan.py, the conditional DCGAN;
- `wgan_gp` (gan): experiments/wgan_gp.py, WGAN-GP's MLPs on the ring of 8 Gaussians, 5 critic
  updates a step, three seeds in one program;
- `gan_ring` (gan): experiments/gan_ring.py, the non-saturating MLP GAN on the ring, three seeds
  in one program, with its generator-gradient diagnostic;
- `pix2pix` (image_translation): experiments/pix2pix_completion.py, U-Net + PatchGAN;
- `cyclegan` (image_translation): experiments/cyclegan_digits.py, two ResNet generators and
  two PatchGANs with image pools;
- `char_lm` (language_model): experiments/char_lm.py, the LSTM character model (TBPTT);
- `dbn_rbm1`, `dbn_rbm2`, `dbn_rbm3` (dbn): experiments/dbn.py, the deep belief network's
  greedy pretraining phases, one a layer: a step updates that layer's RBM only (PCD-1 on the
  frozen layers' hidden probabilities; the top one joined to the labels). Its fine-tuning
  phase (SGD on two classifier copies) has no twin;
- `feature_classifier` (classifier): experiments/feature_classifier.py, the small CNN;
- `texture_synthesis` (reverse): experiments/texture_synthesis.py, one gray image optimised
  against the Gram matrices of the random multi-scale layer (Adam, clipped pixels);
- `deepdream` (reverse): experiments/deepdream.py, the step of one octave (the loop's phase
  `DREAM_PHASE`, the default's octave 0: the start image's size) in the feature classifier's
  conv2 maps, with the step's extra forward pass for the objective after it;
- `class_visualisation` (reverse): experiments/class_visualisation.py, one Fourier-parametrised
  image a class of the feature classifier, lucid's jitter and random scale before each
  gradient.
The reverse family reads no data: its step is `step(state, key, frozen)`, the frozen arrays
(the network's weights, a texture's targets) placed on the device once, as the loop does.
What one step of each contains is in its table row (`step`), written from the config that ran.

Where they run (`--processes`). By default each family starts two worker processes of its own
(this script again, with the hidden `--serve jaxgen|torch`; benchmarks/harness.py's `Worker`):
jaxgen's, which never imports torch, and PyTorch's, which builds jaxgen's initial state with
jaxgen's native library off (JAXGEN_ONEDNN=0). This process only orders the rounds: one
contender runs its steps while the others wait on their pipes, and each reports the seconds it
measured. The reasons, both measured on the AVX2 machine (2026-12-07):

- A process that earlier families' work had changed timed PyTorch's char LM step at 113 ms
  against 49 to 65 ms in a process of its own (jaxgen's 80 to 115 ms either way): a 0.53x
  read as 1.15x. (`--processes one`: everything in this process, the old way.)
- Even one family's process is not neutral when both frameworks share it: PyTorch and jaxgen's
  oneDNN load the same libgomp.so.1, and once the process's GNU OpenMP threads outnumber its
  cores, libgomp cuts every team's spin-wait to almost nothing. PyTorch's small convolutional
  steps then took up to 2.3x longer (the README's "OpenMP teams and PyTorch's threads").
  (`--processes one --families NAME`, one family a run, times both in one process.)

Contenders, per family, timed interleaved (benchmarks/harness.py: every round runs each
contender for the family's steps per round, the starting one rotating), medians over rounds:

- `jaxgen`: the task's step jitted with the state donated (what the training loop runs: the
  family's phase's `train_step`, vmapped over the replicas of a many-seed task), from
  `task.init_state` (and the transitions into the phase), on the first batches of
  `task.train_dataset(config.seed)`, cycled (the reverse family: on its frozen arrays).
- `torch`: the family's twin in benchmarks/torch_twins.py: the same networks, losses,
  optimizers and update order in PyTorch eager, starting from a copy of jaxgen's initial
  parameters (so the parameter counts, per player, are checked equal: they are asserted), on
  the same batches; its random draws (noise, corruption, z, dropout, the image pool, the
  rolls and scales of the reverse family) are its own. On CUDA when
  `torch.cuda.is_available()` (the clock read after `torch.cuda.synchronize()`), else the CPU
  with `torch.set_num_threads(cores XLA uses)` (`--torch-threads` to change it). Left out, and
  said so in the JSON (`torch_missing`), when torch is not installed (`pip install
  torch==2.13.0`).
- `torch_1thread`: the same twin on one CPU thread (on the CPU, with more than one thread for
  `torch`). PyTorch's OpenMP threads wait for each other at every operation, and on a loaded
  machine one that has lost its core holds up the rest: on this 2-core machine at load average
  5-6, the VAE-GAN's twin took 3.3 s a step on 2 threads and 0.35 s on 1, the CycleGAN's 12.2 s
  and 0.17 s. This contender tells that apart from the work; it has its own table row.

The tests (tests/benchmarks/test_family_steps.py) copy jaxgen's parameters into each twin at
the smoke presets and compare the losses of one step with jaxgen's `train_step` (the reverse
family's twins also the image after it).

`--quick`: 2 rounds of each family's quick number of steps. Prints one JSON object on stdout:
per family its config, step, parameter counts, compile time, results and the load averages
around it, and the `table` rows (benchmarks/table.py): per family, jaxgen against `torch` and
against `torch_1thread`; progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import pathlib
import sys
from collections.abc import Callable, Sequence

import harness
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.config import load_config
from jaxgen.families import build_task
from jaxgen.nn.common import count_params, fit_channels, stride2_stages

HERE = pathlib.Path(__file__).resolve().parent
EXPERIMENTS = HERE.parent / "experiments"
NUM_BATCHES = 4  # distinct batches of the train pipeline, cycled
NUM_KEYS = 64  # distinct step keys, cycled
# Where the contenders run (--processes).
PROCESSES = {
    "contender": (
        "jaxgen and PyTorch each in a worker process of its own, started afresh for each family, "
        "jaxgen's without torch imported and PyTorch's with jaxgen's native library off, the "
        "rounds alternating between them while the other waits"
    ),
    "one": "every family and both frameworks in this one process",
}
# DeepDream's timed octave: the loop's phase 2, octave 0 of the default -2,...,2 (the start
# image's size); torch_twins.DreamTwin.PHASE is the same.
DREAM_PHASE = 2


# ---- what one step contains, in words, from the config ------------------------------------------


def _widths(values) -> str:
    return "-".join(str(v) for v in values)


def _shape(shape) -> str:
    return "x".join(str(s) for s in shape)


def _adam(config, rate: float | None = None, per: str = "") -> str:
    rate = config.learning_rate if rate is None else rate
    text = f"Adam {rate:g}"
    defaults = {"adam_b1": 0.9, "adam_b2": 0.999}  # optax's
    betas = [
        f"beta{k[-1]} {config.get(k, d):g}" for k, d in defaults.items() if config.get(k, d) != d
    ]
    if betas:
        text += f" ({', '.join(betas)})"
    schedule = config.get("lr_schedule", "constant")
    if schedule != "constant":
        text += f", {schedule} schedule over {config.steps} steps"
    if config.get("grad_clip_norm", 0.0):
        text += f", clipped at global norm {config.grad_clip_norm:g}"
    return text + (f" {per}" if per else "")


def describe_denoising_ae(task) -> str:
    c, m, o = task.config, task.config.model, task.config.objective
    shape = task.train_split.image_shape
    channels = fit_channels(m.channels, stride2_stages(*shape[:2]), "last")
    return (
        f"batch {c.batch_size} of {_shape(shape)} ({c.dataset}); {o.corruption} corruption "
        f"{o.noise_level:g}; encoder 3x3 stride-2 convs {_widths(channels)} + ReLU, dense code "
        f"{m.code_size}; decoder dense + 4x4 stride-2 transposed convs back to "
        f"{_widths([*channels[::-1][1:], shape[-1]])}; {o.reconstruction} to the clean image; "
        f"{_adam(c)}; 1 update"
    )


def describe_autoencoder(task) -> str:
    c, m, o = task.config, task.config.model, task.config.objective
    shape = task.train_split.image_shape
    pixels = math.prod(shape)
    hidden = tuple(m.hidden)
    widths = _widths([pixels, *hidden, m.code_size, *hidden[::-1], pixels])
    between = f" ({m.activation} between)" if hidden else ""
    corruption = "" if o.corruption == "none" else f"; {o.corruption} corruption {o.noise_level:g}"
    return (
        f"batch {c.batch_size} of {_shape(shape)} ({c.dataset}) as rows of {pixels}{corruption}; "
        f"dense {widths}{between}, {m.code_activation} code; {o.reconstruction} of the "
        f"{o.output} output to the clean image; {_adam(c)}; 1 update"
    )


def describe_cvae(task) -> str:
    c, m, o = task.config, task.config.model, task.objective
    height, width, channels = shape = task.image_shape
    classes = task.num_classes if m.conditional else 0
    hidden = tuple(m.hidden)
    label = ""
    if classes:
        label = (
            f"; the one-hot label as {classes} planes at every pixel for the encoder (its "
            f"first layer reads {height * width * (channels + classes)}) and appended to z"
        )
    warmup = f", KL warm-up over {o.kl_warmup_steps} steps" if o.kl_warmup_steps else ""
    return (
        f"batch {c.batch_size} of {_shape(shape)} ({c.dataset}), binarize {o.binarize}{label}; "
        f"encoder dense {_widths(hidden)} ({m.activation}) to (mean, log-variance) of "
        f"{m.latent_size}, decoder {_widths(hidden[::-1])} to {math.prod(shape)} logits; one "
        f"reparametrized z; {o.likelihood} likelihood, analytic KL{warmup}; {_adam(c)}; 1 update"
    )


def describe_gan(task) -> str:
    c, m, o = task.config, task.config.model, task.config.objective
    seeds = getattr(task, "seeds", None)  # a many-seed (replicated) task
    inner = task.task if seeds else task
    shape = tuple(inner.players.data_shape)
    classes = inner.num_classes if m.conditional else 0
    if m.kind == "mlp":
        players = (
            f"MLP generator {_widths([m.latent_size, *m.generator_hidden, shape[-1]])} (ReLU), "
            f"discriminator {_widths([shape[-1], *m.discriminator_hidden, 1])} (leaky ReLU)"
        )
    else:
        stages = stride2_stages(*shape[:2])
        players = (
            f"DCGAN generator z {m.latent_size} -> dense + 5x5 transposed convs "
            f"{_widths(fit_channels(m.generator_channels, stages + 1, 'first'))}-{shape[-1]} "
            "(batch norm), discriminator 5x5 stride-2 convs "
            f"{_widths(fit_channels(m.discriminator_channels, stages, 'last'))} + dense logit"
        )
    if classes:
        players += f"; the label one-hot, appended to z and as {classes} planes of D's input"
    k = o.discriminator_steps
    penalty = ""
    if o.loss == "wasserstein_gp":
        penalty = f" + gradient penalty x{o.gradient_penalty:g} (a double backward)"
    compare = ""
    if o.compare_generator_losses:
        compare = "; the minimax and non-saturating generator gradients both (one more backward)"
    rates = {c.generator_learning_rate, c.discriminator_learning_rate}
    rate = c.generator_learning_rate if len(rates) == 1 else None
    adam = _adam(c, rate, "per player") if rate else "Adam per player at its own rate"
    replicas = f"; {len(seeds)} seeds in one program (vmap), each its own players" if seeds else ""
    return (
        f"batch {c.batch_size} of {_shape(shape)} ({c.dataset}) per D update; {players}; {k} D "
        f"update(s), each on its own real minibatch and fresh fakes{penalty}, then 1 G update "
        f"with fresh z through the updated D; {o.loss}{compare}; {adam}; G's weight average"
        f"{replicas}"
    )


def describe_dbn_layer(task, layer: int) -> str:
    c, o = task.config, task.config.objective
    sizes = task.layer_sizes
    visible, hidden = sizes[layer]
    below = [task.num_visible, *task.num_hidden[:layer]]
    frozen = f"up through the frozen layers {_widths(below)}, " if layer else ""
    labels = f" ({task.num_labels} of them the one-hot labels)" if layer == task.top else ""
    kind = o.kind.upper()
    schedule = c.get("lr_schedule", "constant")
    budget = task.budgets[layer]
    return (
        f"batch {c.batch_size} of {_shape(task.image_shape)} ({c.dataset}) binarized afresh; "
        f"{frozen}RBM {layer + 1} of {len(sizes)}: {visible} visible{labels} x {hidden} hidden; "
        f"{kind}-{o.gibbs_steps} negatives{' from the persistent chains' if kind == 'PCD' else ''}"
        f"; the gradient of mean F(data) - mean F(negatives); SGD {c.learning_rate:g} "
        f"(momentum {o.momentum:g}, weight decay {o.weight_decay:g} on the weights), {schedule} "
        f"over the layer's {budget} steps; 1 update of rbm{layer + 1} only (the pretraining "
        f"phase's step; a run takes {budget} of them)"
    )


def describe_conv_vae(task) -> str:
    c, m = task.config, task.config.model
    shape = task.train_split.image_shape
    channels = fit_channels(m.channels, stride2_stages(*shape[:2]), "last")
    return (
        f"batch {c.batch_size} of {_shape(shape)} ({c.dataset}); encoder 3x3 stride-2 convs "
        f"{_widths(channels)} + ReLU to (mean, log-variance) of {m.latent_size}; one "
        "reparametrized z; decoder dense + 4x4 stride-2 transposed convs; Gaussian likelihood "
        f"with a learned scale, analytic KL; {_adam(c)}; 1 update"
    )


def describe_vaegan(task) -> str:
    c, m = task.config, task.config.model
    shape = task.image_shape
    stages = stride2_stages(*shape[:2])
    encoder = fit_channels(m.encoder_channels, stages, "last")
    decoder = fit_channels(m.decoder_channels, stages + 1, "first")
    discriminator = fit_channels(m.discriminator_channels, stages, "last")
    return (
        f"batch {c.batch_size} of {_shape(shape)} ({c.dataset}); encoder 5x5 stride-2 convs "
        f"{_widths(encoder)} to z {m.latent_size}; decoder = DCGAN generator "
        f"{_widths(decoder)} (batch norm); discriminator 5x5 stride-2 convs "
        f"{_widths(discriminator)} + dense logit; the three players' gradients at the same "
        "parameters (3 decoder and 3 discriminator forward passes), gamma "
        f"{c.objective.gamma:g}, non-saturating; {_adam(c, per='per player')}; 3 updates and "
        "the weight averages of encoder and decoder"
    )


def describe_bigan(task) -> str:
    c, m = task.config, task.config.model
    shape = task.image_shape
    stages = stride2_stages(*shape[:2])
    return (
        f"batch {c.batch_size} of {_shape(shape)} ({c.dataset}); encoder 5x5 stride-2 convs "
        f"{_widths(fit_channels(m.encoder_channels, stages, 'last'))} to z {m.latent_size}; "
        "generator = DCGAN generator "
        f"{_widths(fit_channels(m.generator_channels, stages + 1, 'first'))} (batch norm); joint "
        "discriminator: 5x5 stride-2 convs "
        f"{_widths(fit_channels(m.discriminator_channels, stages, 'last'))} on x, MLP "
        f"{_widths(m.discriminator_z_hidden)} on z, MLP {_widths(m.discriminator_joint_hidden)}"
        f", dropout {m.discriminator_dropout:g}; 1 D update, then 1 joint E+G update with fresh "
        f"z through the updated D; {_adam(c, c.generator_learning_rate, 'per network')}; "
        "weight averages of E and G"
    )


def describe_pix2pix(task) -> str:
    from jaxgen.families.image_translation import model as nets

    c, m = task.config, task.config.model
    depth = m.unet_depth or nets.unet_depth(min(task.in_shape[:2]))
    layers = m.patch_layers or nets.patch_layers(task.out_shape[0])
    return (
        f"batch {c.batch_size} of {_shape(task.in_shape)} -> {_shape(task.out_shape)} "
        f"({c.dataset}, {c.paired.kind} {c.completion.missing}); U-Net base {m.generator_base}, "
        f"{depth} levels, {m.norm} norm, dropout {m.dropout:g}; PatchGAN base "
        f"{m.discriminator_base}, {layers} stride-2 layer(s); 1 G forward, 1 D update on "
        f"real and fake pairs, then G's update ({c.objective.gan_loss} GAN + "
        f"{c.objective.l1_weight:g} L1) through the updated D; {_adam(c, per='per player')}"
    )


def describe_cyclegan(task) -> str:
    from jaxgen.families.image_translation import model as nets

    c, m, o = task.config, task.config.model, task.config.objective
    size = task.shapes["a"][0]
    blocks = m.resnet_blocks or nets.resnet_blocks(size)
    layers = m.patch_layers or nets.patch_layers(size)
    return (
        f"batch {c.batch_size} of {_shape(task.shapes['a'])} ({c.domain_a}) and "
        f"{_shape(task.shapes['b'])} ({c.domain_b}); 2 ResNet generators base "
        f"{m.generator_base}, {blocks} blocks, {m.norm} norm; 2 PatchGANs base "
        f"{m.discriminator_base}, {layers} stride-2 layer(s); 6 generator passes (fakes, "
        f"cycles, identities), {o.gan_loss} + cycle L1 x{o.lambda_a:g} + identity; 1 update of "
        f"both generators, then both discriminators on pools of {o.pool_size}; "
        f"{_adam(c, per='per group')}"
    )


def describe_char_lm(task) -> str:
    c, m = task.config, task.models["lstm"]
    return (
        f"batch {c.batch_size} streams x {c.seq_len} characters ({c.dataset}, vocabulary "
        f"{m.vocab_size}); embedding {m.embed_dim}, {m.num_layers} LSTM layer(s) of "
        f"{m.hidden_size}, truncated BPTT (state carried between batches); cross-entropy; "
        f"{_adam(c)}; 1 update"
    )


def describe_feature_classifier(task) -> str:
    c = task.config
    return (
        f"batch {c.batch_size} of {_shape(task.image_shape)} ({c.dataset}); random shifts up to "
        f"{task.shift} px; 3x3 convs 32-64 + 2x2 average pooling, dense 128, {task.num_classes} "
        f"logits; softmax cross-entropy; {_adam(c)}; 1 update"
    )


def _feature_network(task, layers) -> str:
    """The frozen network of a reverse-family task, up to `layers`, in words."""
    c = task.config
    if c.network == "random_multiscale":
        sizes = str(c.multiscale_sizes).replace(",", ", ")
        return (
            f"one frozen layer of random filters, {c.multiscale_width} each of sizes {sizes} px "
            f"(SAME, ReLU, on the pixels - 0.5) to {_widths(layers)}"
        )
    if c.network == "classifier":
        return (
            f"jaxgen's frozen feature classifier of {c.dataset} (3x3 convs 32-64 + 2x2 average "
            f"pooling, dense 128, logits) up to {_widths(layers)}"
        )
    return f"frozen {task.network.name} up to {_widths(layers)}"


def _pixel_adam(config) -> str:
    return f"Adam {config.learning_rate:g} (beta1 {config.adam_b1:g}, eps {config.adam_eps:g})"


def describe_texture_synthesis(task) -> str:
    c = task.config
    return (
        f"one {_shape(task.shape)} image from noise (exemplar {c.style_image}), no data; "
        f"{_feature_network(task, task.style_layers)}; Gram matrices, style loss to the "
        f"exemplar's x{c.style_weight:g} + total variation x{c.tv_weight:g}; the gradient with "
        f"respect to the pixels; {_pixel_adam(c)}, pixels clipped to [0, 1]; 1 update"
    )


def describe_deepdream(task, phase: int) -> str:
    c = task.config
    height, width = task.sizes[phase]
    channels = task.start.shape[-1]
    return (
        f"octave {task.octaves[phase]} (phase {phase + 1} of {len(task.octaves)}, scale "
        f"{c.octave_scale:g}): one {height}x{width}x{channels} image ({c.start_image}), no data; "
        f"a random roll up to {c.max_roll or max(height, width)} px; "
        f"{_feature_network(task, task.layers)}; the gradient of the mean activation with "
        "respect to the pixels, rolled back, divided by its standard deviation; a step of "
        f"{c.step_size:g}, clipped to [0, 1]; 1 more forward pass for the objective after the "
        f"step (and 1 at the octave's first step of {c.steps_per_octave}); no optimizer state"
    )


def _scales(task) -> str:
    return ", ".join(f"{s:g}" for s in task.scales)


def describe_class_visualisation(task) -> str:
    c = task.config
    n, height, width, channels = task.shape
    if c.parametrisation == "fourier":
        param = f"a Fourier parametrisation (the spectrum scaled by 1/f^{c.decay_power:g}, irfft2"
        param += ", colour decorrelation, sigmoid)" if channels == 3 else ", sigmoid)"
    else:
        param = "pixels clipped to [0, 1]"
    unit = "log p(class)" if c.objective == "log_probability" else "the unit's activation"
    return (
        f"{n} images of {height}x{width}x{channels}, one a unit of {task.layer}, no data; "
        f"{param}; a roll up to {c.jitter} px, a random scale out of {{{_scales(task)}}} "
        f"(antialiased bilinear), a roll up to {min(1, c.jitter)} px; "
        f"{_feature_network(task, [task.layer])}; "
        f"{unit} of each image's unit, total variation x{c.tv_weight:g}; {_pixel_adam(c)}; "
        "1 update"
    )


@dataclasses.dataclass(frozen=True)
class Family:
    """One family's benchmark: its experiment file, the family's name in jaxgen, the words of
    its step, its steps per round (full, quick) and the phase whose step it times (the task's
    `phases()`, jaxgen/train/protocol.py: the one phase of most tasks; a DBN's layers)."""

    family: str
    experiment: str
    describe: Callable
    steps: tuple[int, int]
    phase: int = 0


FAMILIES = {
    "autoencoder": Family("autoencoder", "autoencoder", describe_autoencoder, (1500, 300)),
    "denoising_ae": Family("autoencoder", "denoising_ae", describe_denoising_ae, (20, 4)),
    "cvae": Family("vae", "cvae", describe_cvae, (40, 8)),
    "conv_vae": Family("vae", "conv_vae", describe_conv_vae, (20, 4)),
    "vaegan": Family("vaegan", "vaegan", describe_vaegan, (3, 1)),
    "bigan": Family("bigan", "bigan", describe_bigan, (4, 1)),
    "cgan": Family("gan", "cgan", describe_gan, (20, 4)),
    "wgan_gp": Family("gan", "wgan_gp", describe_gan, (40, 8)),
    "gan_ring": Family("gan", "gan_ring", describe_gan, (150, 30)),
    "pix2pix": Family("image_translation", "pix2pix_completion", describe_pix2pix, (6, 2)),
    "cyclegan": Family("image_translation", "cyclegan_digits", describe_cyclegan, (3, 1)),
    "char_lm": Family("language_model", "char_lm", describe_char_lm, (6, 2)),
    **{
        f"dbn_rbm{i + 1}": Family(
            "dbn", "dbn", functools.partial(describe_dbn_layer, layer=i), steps, phase=i
        )
        for i, steps in enumerate([(250, 50), (300, 60), (100, 20)])
    },
    "feature_classifier": Family(
        "classifier", "feature_classifier", describe_feature_classifier, (20, 4)
    ),
    "texture_synthesis": Family("reverse", "texture_synthesis", describe_texture_synthesis, (5, 1)),
    "deepdream": Family(
        "reverse",
        "deepdream",
        functools.partial(describe_deepdream, phase=DREAM_PHASE),
        (40, 8),
        phase=DREAM_PHASE,
    ),
    "class_visualisation": Family(
        "reverse", "class_visualisation", describe_class_visualisation, (300, 60)
    ),
}


# ---- building and timing one family --------------------------------------------------------------


def build(name: str, preset: str, overrides: Sequence[str] = ()):
    """The task of the family's experiment at `preset`, with `overrides`."""
    path = EXPERIMENTS / f"{FAMILIES[name].experiment}.py"
    return build_task(load_config(f"{path}:{preset}", ["progress=false", *overrides]))


def train_step(task, name: str):
    """The step the training loop runs in the family's phase (a many-seed task's is vmapped
    over its replicas)."""
    return task.phases()[FAMILIES[name].phase].train_step


def initial_state(task, name: str, key):
    """The state the family's phase starts from: `task.init_state(key)`, then every earlier
    phase's transition into the next (with `fold_in(key, phase)`), as the loop enters them, its
    step counter at the phase's first step (steps that do something at a phase's start, as
    DeepDream's record of the octave's entering objective, read it)."""
    phases = task.phases()
    state = task.init_state(key)
    for index, phase in enumerate(phases[1 : FAMILIES[name].phase + 1], start=1):
        state = phase.enter(state, jax.random.fold_in(key, index))
    start = sum(p.steps for p in phases[: FAMILIES[name].phase])
    if start:
        state = state.replace(step=jnp.asarray(start, jnp.asarray(state.step).dtype))
    return state


def first_batches(task, count: int = NUM_BATCHES, dataset=None) -> list[dict]:
    """The first `count` batches of the task's train pipeline (seed `config.seed`; `dataset`
    when given), numpy."""
    dataset = task.train_dataset(task.config.seed) if dataset is None else dataset
    return [jax.tree.map(np.asarray, dataset[i]) for i in range(count)]


def step_inputs(task) -> tuple[list, list, list[dict]]:
    """(batches, keys, twin_batches): what jaxgen's Stepper cycles through, calling
    `step(state, batch, key)`, and the numpy batches the twin steps on. A task that reads no
    data (the reverse family: the loop calls `step(state, key, frozen)`) takes
    style_transfer_step.py's trick: the "batches" are the step keys and the one "key" is the
    frozen arrays, placed on the device once as the loop places them; its twin holds its own
    copy of them and steps on an empty batch."""
    keys = list(jax.random.split(jax.random.key(42), NUM_KEYS))
    dataset = task.train_dataset(task.config.seed)
    frozen = task.frozen_inputs()
    if dataset is None:
        return keys, [jax.device_put(frozen.arrays)], [{}]
    if frozen is not None:
        raise NotImplementedError("a task with data and frozen inputs: its step takes both")
    batches = first_batches(task, dataset=dataset)
    return [jax.tree.map(jnp.asarray, b) for b in batches], keys, batches


def jaxgen_param_counts(twin_type, params) -> dict[str, int]:
    """jaxgen's parameter count of each of the twin's groups (paths into state.params)."""
    counts = {}
    for group, path in twin_type.GROUPS.items():
        tree = params
        for key in path:
            tree = tree[key]
        counts[group] = count_params(tree)
    return counts


def torch_runner(twin, batches: list[dict], platform: harness.TorchPlatform):
    """run(n, threads): n twin steps cycling through `batches` (converted once), finished on
    return; threads None keeps the platform's."""
    data = [twin.batch(b) for b in batches]
    calls = [0]

    def run(n: int, threads: int | None = None) -> None:
        if threads is None:
            platform.set_threads()
        else:
            platform.torch.set_num_threads(threads)
        for _ in range(n):
            metrics = twin.step(data[calls[0] % len(data)])
            calls[0] += 1
        platform.sync()
        float(metrics["loss"])  # eager ops are done when they return; this reads the last loss

    return run


def jaxgen_stepper(task, name: str) -> tuple[harness.Stepper, list[dict]]:
    """(jaxgen's contender: the family's phase step, jitted with the state donated, from the
    phase's initial state, not yet compiled; the numpy batches its twin steps on)."""
    batches, keys, twin_batches = step_inputs(task)
    state = jax.jit(lambda key: initial_state(task, name, key))(jax.random.key(task.config.seed))
    step = harness.jit_train_step(task, train_step(task, name))
    return harness.Stepper(step, state, batches, keys), twin_batches


def jaxgen_side(task, name: str) -> tuple[dict, dict]:
    """(jaxgen's contender, compiled; facts: the step in words, the compile time and parameter
    count)."""
    stepper, _ = jaxgen_stepper(task, name)
    params = jax.tree.map(np.asarray, stepper.state.params)  # before the step donates them
    facts = {
        "step": FAMILIES[name].describe(task),
        "compile_s": {"jaxgen": round(stepper.compile(), 2)},
        "param_counts": {"jaxgen": count_params(params)},
    }
    return {"jaxgen": stepper}, facts


def torch_side(task, name: str, platform, twins) -> tuple[dict, dict]:
    """(the twin's contenders, from jaxgen's initial state (jaxgen's step is not compiled):
    `torch`, and `torch_1thread` on a CPU with more threads; facts: both sides' parameter
    counts per player, asserted equal)."""
    stepper, twin_batches = jaxgen_stepper(task, name)
    state0 = jax.tree.map(np.asarray, stepper.state)
    twin = twins.TWINS[name](task, state0, platform.device)
    counts = {"jaxgen": jaxgen_param_counts(twins.TWINS[name], state0.params)}
    counts["torch"] = twin.param_counts()
    if counts["torch"] != counts["jaxgen"]:
        raise AssertionError(f"{name}: parameter counts differ: {counts}")
    contenders = {"torch": (run := torch_runner(twin, twin_batches, platform))}
    if not platform.cuda and platform.threads > 1:
        contenders["torch_1thread"] = lambda n: run(n, threads=1)
    return contenders, {"param_counts": counts}


def family_sides(name: str, args, platform, twins) -> dict[str, Callable[[], tuple[dict, dict]]]:
    """Builders of family `name`'s sides for harness.side_contenders: jaxgen's, and the twin's
    where there is a PyTorch `platform`; in one process they share one build of the task."""
    task = functools.cache(lambda: build(name, args.preset))
    sides = {"jaxgen": lambda: jaxgen_side(task(), name)}
    if platform is not None:
        sides["torch"] = lambda: torch_side(task(), name, platform, twins)
    return sides


def serve_side(name: str, args, side: str) -> None:
    """A worker's process (`--serve SIDE`): builds family `name`'s task, then serves the side's
    contenders to the timing process (harness.serve). The torch side builds jaxgen's initial
    state only (not its step) and runs with jaxgen's native library off (JAXGEN_ONEDNN=0, set
    by the parent), so that no OpenMP team of jaxgen's lives in PyTorch's process; the jaxgen
    side never imports torch."""
    platform, twins = None, None
    if side == "torch":
        platform = harness.TorchPlatform(harness.import_torch(), args.torch_threads)
        twins = harness.import_twins()
    harness.serve(*family_sides(name, args, platform, twins)[side]())


def family_contenders(name: str, args, argv, platform, twins, stack) -> tuple[dict, dict]:
    """(family `name`'s contenders, facts): built in this process (`--processes one`), or
    served by one worker process per side (`--processes contender`, closed when the ExitStack
    `stack` closes)."""
    sides = family_sides(name, args, platform, twins)
    contenders, side_facts, ids = harness.side_contenders(
        stack, args.processes, sides, __file__, [*argv, "--families", name]
    )
    facts = {"process_ids": ids}
    for one_side in side_facts.values():  # the torch side's param_counts hold both sides'
        facts |= {k: one_side[k] for k in ("step", "compile_s", "param_counts") if k in one_side}
    return contenders, facts


def bench_family(name: str, args, argv, platform, twins) -> dict:
    """One family's record: config, step, counts, compile time, results and its table rows."""
    spec, log = FAMILIES[name], harness.log
    load_before = harness.load_average()
    log(f"== {name}: building experiments/{spec.experiment}.py:{args.preset} ...")
    with contextlib.ExitStack() as stack:
        contenders, facts = family_contenders(name, args, argv, platform, twins, stack)
        steps = args.steps or spec.steps[1 if args.quick else 0]
        log(f"timing {len(contenders)} contenders, {args.repeats} rounds of {steps} steps ...")
        times = harness.interleave(contenders, args.repeats, steps, args.warmup)
    record = {
        "family": spec.family,
        "experiment": f"experiments/{spec.experiment}.py",
        "preset": args.preset,
        **facts,
        "steps_per_round": steps,
        "results": harness.summarize(times),
        "load_average": {"before": load_before, "after": harness.load_average()},
        "rows": [],
    }
    for contender in ("torch", "torch_1thread"):
        if contender not in times:
            continue
        record[f"jaxgen_over_{contender}"] = harness.speed_ratio(times, "jaxgen", contender)
        one = contender == "torch_1thread"
        record["rows"].append(
            harness.table_row(
                times,
                family=spec.family,
                experiment=record["experiment"],
                preset=args.preset,
                step=record["step"],
                contender=contender,
                reference=harness.torch_reference(1) if one else platform.name,
                reference_device=f"{harness.cpu_name()}, 1 thread" if one else platform.device_name,
                load_average=record["load_average"],
            )
        )
    return record


def main(argv: Sequence[str] | None = None) -> dict:
    bench = harness.Benchmark("family_steps", __doc__, repeats=(7, 2))
    bench.parser.add_argument(
        "--steps", type=int, default=None, help="steps per contender per round (each family's own)"
    )
    bench.parser.add_argument(
        "--families",
        default=",".join(FAMILIES),
        help=f"comma-separated families (default all: {','.join(FAMILIES)})",
    )
    bench.parser.add_argument("--preset", default="default", help="the experiments' preset")
    bench.parser.add_argument(
        "--torch-threads", type=int, default=None, help="PyTorch's CPU threads (XLA's cores)"
    )
    bench.add_process_flags("; ".join(f"{k}: {v}" for k, v in PROCESSES.items()))
    argv = list(sys.argv[1:] if argv is None else argv)
    args = bench.parse(argv)
    names = [n for n in args.families.split(",") if n]
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        bench.parser.error(f"unknown families {unknown}; choose from {', '.join(FAMILIES)}")
    if args.serve:
        if len(names) != 1:
            bench.parser.error("--serve takes one family")
        return serve_side(names[0], args, args.serve)

    payload = {}
    torch = harness.import_torch()
    platform, twins = None, None
    if torch is None:
        payload["torch_missing"] = harness.torch_missing()
    else:
        platform = harness.TorchPlatform(torch, args.torch_threads)
        if args.processes == "one":
            twins = harness.import_twins()  # else the workers time the twins
        payload["torch_platform"] = platform.facts()

    records, rows, failed = {}, [], {}
    for name in names:
        try:
            records[name] = bench_family(name, args, argv, platform, twins)
        except Exception as error:  # one family's failure keeps the others' rows
            failed[name] = f"{type(error).__name__}: {error}"
            harness.log(f"{name} failed: {failed[name]}")
            continue
        rows += records[name].pop("rows")
    if args.processes == "contender":
        bench.where = "between processes"
    if failed:
        payload["failed"] = failed
    result = bench.emit(
        protocol_note=(
            f"each family timed on its own, {PROCESSES[args.processes]} (its load averages "
            "beside it); jaxgen_over_X: jaxgen's speed over X's (of the medians, the median of "
            "the per-round ratios, of the fastest rounds)"
        ),
        families=records,
        table=rows,
        **payload,
    )
    if failed:  # after the JSON, so that `make bench` says so and keeps what was measured
        raise SystemExit(f"family_steps: failed: {', '.join(failed)}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
