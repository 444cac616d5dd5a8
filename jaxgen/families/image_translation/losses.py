"""The losses of pix2pix and CycleGAN (junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py
GANLoss; models/pix2pix_model.py; models/cycle_gan_model.py).

Adversarial losses on patch logits, the mean over every patch and example:
    lsgan    (LSGAN, CycleGAN's default)  mean((D - target)^2), target 1 for real and 0 for fake
    vanilla  (pix2pix's default)  binary cross-entropy of sigmoid(D) with the target
The discriminator's loss is half the sum over its real and fake terms (the reference halves it
"to slow down the rate at which D learns relative to G").
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

GAN_MODES = ("lsgan", "vanilla")


def check_mode(mode: str) -> None:
    if mode not in GAN_MODES:
        raise ValueError(f"unknown translation GAN loss {mode!r}; choose one of {GAN_MODES}")


def adversarial(mode: str, logits: jax.Array, target_is_real: bool) -> jax.Array:
    """The GAN loss of patch logits against an all-real or all-fake target (a scalar)."""
    target = jnp.full_like(logits, 1.0 if target_is_real else 0.0)
    if mode == "lsgan":
        return jnp.mean((logits - target) ** 2)
    if mode == "vanilla":
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, target))
    raise ValueError(f"unknown translation GAN loss {mode!r}; choose one of {GAN_MODES}")


def discriminator(mode: str, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """0.5 * (loss(D(real), real) + loss(D(fake), fake))."""
    return 0.5 * (adversarial(mode, real_logits, True) + adversarial(mode, fake_logits, False))


def l1(x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean absolute difference over every value (PyTorch's L1Loss)."""
    return jnp.mean(jnp.abs(x - y))


def pix2pix_generator(mode: str, fake_logits, fake, target, l1_weight: float):
    """(total, parts): loss(D(input, G(input)), real) + l1_weight * L1(G(input), target)."""
    gan, rec = adversarial(mode, fake_logits, True), l1(fake, target)
    return gan + l1_weight * rec, {"generator_gan": gan, "l1": rec}


def cycle_generators(
    mode: str, logits_ab, logits_ba, a, b, rec_a, rec_b, idt_a, idt_b, lambda_a, lambda_b, idt
):
    """(total, parts) of CycleGAN's generator objective for real a, b: the GAN terms of
    D_B(G_AB(a)) and D_A(G_BA(b)); cycle terms lambda_a * |G_BA(G_AB(a)) - a| and lambda_b *
    |G_AB(G_BA(b)) - b|; identity terms idt * (lambda_b * |G_AB(b) - b| + lambda_a * |G_BA(a) -
    a|) (idt_a = G_AB(b), idt_b = G_BA(a) as the reference names them; `idt` is its
    lambda_identity, 0.5)."""
    gan_ab, gan_ba = adversarial(mode, logits_ab, True), adversarial(mode, logits_ba, True)
    cycle_a, cycle_b = l1(rec_a, a), l1(rec_b, b)
    identity_a, identity_b = l1(idt_a, b), l1(idt_b, a)
    total = (
        gan_ab
        + gan_ba
        + lambda_a * cycle_a
        + lambda_b * cycle_b
        + idt * (lambda_b * identity_a + lambda_a * identity_b)
    )
    parts = {
        "gan_ab": gan_ab,
        "gan_ba": gan_ba,
        "cycle_a": cycle_a,
        "cycle_b": cycle_b,
        "identity_a": identity_a,
        "identity_b": identity_b,
    }
    return total, parts
