"""pix2pix and CycleGAN losses against their NumPy definitions."""

from __future__ import annotations

import numpy as np
import pytest

from jaxgen.families.image_translation import losses


def _bce(logits, target):  # -[t log s(l) + (1 - t) log(1 - s(l))]
    s = 1.0 / (1.0 + np.exp(-logits))
    return -(target * np.log(s) + (1 - target) * np.log(1 - s))


@pytest.fixture
def logits():
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, 3, 3, 1)).astype(np.float32), rng.normal(size=(4, 3, 3, 1))


def test_adversarial_losses_are_lsgan_and_bce_on_every_patch(logits):
    real, fake = logits
    np.testing.assert_allclose(
        losses.adversarial("lsgan", real, True), np.mean((real - 1) ** 2), 1e-5
    )
    np.testing.assert_allclose(losses.adversarial("lsgan", real, False), np.mean(real**2), 1e-5)
    np.testing.assert_allclose(
        losses.adversarial("vanilla", real, True), np.mean(_bce(real, 1.0)), 1e-5
    )
    np.testing.assert_allclose(
        losses.adversarial("vanilla", real, False), np.mean(_bce(real, 0.0)), 1e-5
    )
    fake = fake.astype(np.float32)
    expected = 0.5 * (np.mean((real - 1) ** 2) + np.mean(fake**2))
    np.testing.assert_allclose(losses.discriminator("lsgan", real, fake), expected, 1e-5)
    with pytest.raises(ValueError, match="lsgan"):
        losses.adversarial("wasserstein", real, True)


def test_pix2pix_generator_is_gan_plus_weighted_l1(logits):
    real, _ = logits
    rng = np.random.default_rng(1)
    fake, target = rng.uniform(-1, 1, (2, 4, 8, 8, 1)).astype(np.float32)
    total, parts = losses.pix2pix_generator("vanilla", real, fake, target, 100.0)
    l1 = np.mean(np.abs(fake - target))
    np.testing.assert_allclose(parts["l1"], l1, 1e-5)
    np.testing.assert_allclose(total, np.mean(_bce(real, 1.0)) + 100.0 * l1, 1e-4)


def test_cycle_objective_weights_every_term_as_the_reference():
    rng = np.random.default_rng(2)
    a, b, rec_a, rec_b, idt_a, idt_b = rng.uniform(-1, 1, (6, 2, 8, 8, 3)).astype(np.float32)
    la, lb = rng.normal(size=(2, 2, 3, 3, 1)).astype(np.float32)
    total, parts = losses.cycle_generators(
        "lsgan", la, lb, a, b, rec_a, rec_b, idt_a, idt_b, 10.0, 5.0, 0.5
    )
    l1 = lambda x, y: np.mean(np.abs(x - y))  # noqa: E731
    expected = (
        np.mean((la - 1) ** 2)
        + np.mean((lb - 1) ** 2)
        + 10.0 * l1(rec_a, a)
        + 5.0 * l1(rec_b, b)
        + 0.5 * (5.0 * l1(idt_a, b) + 10.0 * l1(idt_b, a))
    )
    np.testing.assert_allclose(total, expected, 1e-5)
    np.testing.assert_allclose(parts["identity_a"], l1(idt_a, b), 1e-6)
