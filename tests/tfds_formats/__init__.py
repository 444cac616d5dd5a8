"""Small data sets written in the real TFDS formats by TFDS's own builders, without TensorFlow
or a download: each builder keeps its features, version and file names, and only its
`_split_generators` is replaced by one that yields PNG/JPEG-encoded stand-in images (TFDS's
`Image` feature takes already-encoded bytes without TensorFlow). `load_split(NAME)` then reads
them from `$TFDS_DATA_DIR` exactly as it reads a set made by `tfds build NAME`."""

from __future__ import annotations

import io
import pathlib

import numpy as np
from PIL import Image


def encoded(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    """PIL-encoded bytes of a uint8 HxWxC image."""
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(buffer, fmt)
    return buffer.getvalue()


def _images(rng, n, shape):
    # Class c is a brighter or darker version of one random pattern: learnable labels.
    base = rng.integers(0, 256, shape)
    labels = np.arange(n) % 10
    noise = rng.integers(-20, 21, (n, *shape))
    images = np.clip(base[None] * (0.3 + 0.07 * labels[:, None, None, None]) + noise, 0, 255)
    return images.astype(np.uint8), labels


def _prepare(real, parts: dict, root: pathlib.Path) -> None:
    class Local(real, skip_registration=True):
        name = real.name
        pkg_dir_path = real._get_pkg_dir_path()

        def _split_generators(self, dl_manager):
            return {split: self._local_examples(examples) for split, examples in parts.items()}

        def _local_examples(self, examples):
            yield from enumerate(examples)

    Local(data_dir=str(root), file_format="array_record").download_and_prepare()


def write_mnist(root: pathlib.Path, train: int = 60, test: int = 20, seed: int = 0) -> None:
    """`mnist` (28x28x1 PNG images, 10 labels) in `root`."""
    from tensorflow_datasets.image_classification import mnist

    rng = np.random.default_rng(seed)
    parts = {}
    for split, n in (("train", train), ("test", test)):
        images, labels = _images(rng, n, (28, 28, 1))
        parts[split] = [
            {"image": encoded(x), "label": int(y)} for x, y in zip(images, labels, strict=True)
        ]
    _prepare(mnist.MNIST, parts, root)


def write_cifar10(root: pathlib.Path, train: int = 60, test: int = 20, seed: int = 0) -> None:
    """`cifar10` (32x32x3 PNG images, 10 labels, ids) in `root`."""
    from tensorflow_datasets.image_classification import cifar

    rng = np.random.default_rng(seed)
    parts = {}
    for split, n in (("train", train), ("test", test)):
        images, labels = _images(rng, n, (32, 32, 3))
        parts[split] = [
            {"id": f"{split}_{i:05d}", "image": encoded(x), "label": int(y)}
            for i, (x, y) in enumerate(zip(images, labels, strict=True))
        ]
    _prepare(cifar.Cifar10, parts, root)


def write_celeb_a(root: pathlib.Path, per_split: int = 12, seed: int = 0) -> None:
    """`celeb_a` (218x178x3 JPEG images with its 40 boolean attributes, landmarks and identity;
    its own train, validation and test splits) in `root`. `Eyeglasses` marks the brighter half
    of the images (learnable); the other attributes are coin flips."""
    from tensorflow_datasets.datasets.celeb_a import celeb_a_dataset_builder as celeb_a

    rng = np.random.default_rng(seed)
    parts = {}
    for split in ("train", "validation", "test"):
        images, _ = _images(rng, per_split, (218, 178, 3))
        bright = images.mean(axis=(1, 2, 3)) > np.median(images.mean(axis=(1, 2, 3)))
        parts[split] = [
            {
                "image": encoded(x, "JPEG"),
                "landmarks": {
                    k: int(v)
                    for k, v in zip(
                        celeb_a.LANDMARK_HEADINGS, rng.integers(0, 178, 10), strict=True
                    )
                },
                "attributes": {
                    k: bool(is_bright) if k == "Eyeglasses" else bool(rng.random() < 0.5)
                    for k in celeb_a.ATTR_HEADINGS
                },
                "identity": {"Identity_No": int(rng.integers(1, 100))},
            }
            for x, is_bright in zip(images, bright, strict=True)
        ]
    _prepare(celeb_a.Builder, parts, root)


def write_cycle_gan(
    root: pathlib.Path, config: str = "horse2zebra", size: int = 32, per_split: int = 10
) -> None:
    """`cycle_gan/CONFIG` (size x size x 3 JPEG images; splits trainA, trainB, testA, testB,
    labels A = 0 and B = 1) in `root`. Domain B is domain A's images mirrored and darkened: a
    real, learnable shift."""
    from tensorflow_datasets.image_classification import cycle_gan

    rng = np.random.default_rng(seed=len(config))
    parts = {}
    for phase in ("train", "test"):
        images, _ = _images(rng, 2 * per_split, (size, size, 3))
        domains = {
            "A": images[:per_split],
            "B": (images[per_split:, :, ::-1] * 0.6).astype(np.uint8),
        }
        for domain, pixels in domains.items():
            parts[f"{phase}{domain}"] = [
                {"image": encoded(x, "JPEG"), "label": domain} for x in pixels
            ]

    class Local(cycle_gan.CycleGAN, skip_registration=True):
        name = cycle_gan.CycleGAN.name
        pkg_dir_path = cycle_gan.CycleGAN._get_pkg_dir_path()

        def _split_generators(self, dl_manager):
            return {split: enumerate(examples) for split, examples in parts.items()}

    Local(config=config, data_dir=str(root), file_format="array_record").download_and_prepare()
