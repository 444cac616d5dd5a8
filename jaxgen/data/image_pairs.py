"""Data of the image-translation family: paired (input, target) sets for pix2pix and the
completion baselines, and unpaired domains A and B for CycleGAN.

Paired sets are made per example from an image split (`config.paired.kind`):

    completion    input: the image with `config.completion.missing` removed (set to 0, black);
                  target: the whole image (jaxgen/data/masks.py names the regions)
    edges         input: Canny edges of the image (scikit-image, `config.paired.edge_sigma`);
                  target: the image
    side_by_side  the pix2pix data format: each file holds A and B side by side (A on the
                  left); `config.paired.direction` "AtoB" maps the left half to the right one

Unpaired domains (`config.domain_a`, `config.domain_b`) are data-set names or folders, each
with its own train/validation/test splits, brought to one size (`config.preprocess`); a
`cycle_gan/*` TFDS set as `config.dataset` gives its domains A and B (labels 0 and 1). Labels
are never seen by training: they only score the translations.
"""

from __future__ import annotations

import dataclasses
import functools

import grain
import ml_collections
import numpy as np

from jaxgen.data import masks, preprocess
from jaxgen.data.datasets import SPLITS, Split, load_split
from jaxgen.data.pipeline import train_dataset
from jaxgen.errors import UserError

PAIRED_KINDS = ("completion", "edges", "side_by_side")
# `paired.direction` of side-by-side pairs: the left half to the right one, or back.
PAIRED_DIRECTIONS = ("AtoB", "BtoA")


def canny_edges(image_HxWxC: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 0/255 edges (H, W, 1) of an image's grey levels by scikit-image's Canny."""
    from skimage.feature import canny

    grey = image_HxWxC.astype(np.float64).mean(axis=-1) / 255.0
    return (canny(grey, sigma=sigma).astype(np.uint8) * 255)[..., None]


@dataclasses.dataclass(frozen=True)
class PairMaker:
    """The (input, target) pair of one uint8 image, by `kind` (see the module docstring)."""

    kind: str
    missing: str = "given3"
    edge_sigma: float = 1.0
    direction: str = "AtoB"

    def __post_init__(self):
        if self.kind not in PAIRED_KINDS:
            raise ValueError(f"unknown paired.kind {self.kind!r}; choose one of {PAIRED_KINDS}")
        if self.direction not in PAIRED_DIRECTIONS:
            raise ValueError(
                f"paired.direction must be one of {', '.join(PAIRED_DIRECTIONS)}, "
                f"got {self.direction!r}"
            )

    def mask(self, height: int, width: int) -> np.ndarray:
        """(H, W) True where the completion input misses pixels (all False otherwise)."""
        if self.kind != "completion":
            return np.zeros((height, width), bool)
        return masks.missing_mask(height, width, self.missing)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "completion":
            removed = np.where(self.mask(*image.shape[:2])[..., None], 0, image)
            return removed.astype(np.uint8), image
        if self.kind == "edges":
            return canny_edges(image, self.edge_sigma), image
        half = image.shape[1] // 2
        left, right = image[:, :half], image[:, half : 2 * half]
        return (left, right) if self.direction == "AtoB" else (right, left)

    def shapes(self, image_shape) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(input shape, target shape) for images of `image_shape`."""
        x, y = self(np.zeros(image_shape, np.uint8))
        return x.shape, y.shape


def pair_maker(config: ml_collections.ConfigDict) -> PairMaker:
    paired = config.paired
    return PairMaker(paired.kind, config.completion.missing, paired.edge_sigma, paired.direction)


class _PairSource:
    """grain random-access source of {"input", "target", "label"} uint8 pairs of a split."""

    def __init__(self, split: Split, make: PairMaker):
        self.split, self.make = split, make
        self.labels = split.int_labels()

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        x, y = self.make(np.asarray(self.split.images_NxHxWxC[index]))
        return {"input": x, "target": y, "label": np.int32(self.labels[index])}


def _to_unit(batch: dict) -> dict:
    return {
        "input": batch["input"].astype(np.float32) / 255.0,
        "target": batch["target"].astype(np.float32) / 255.0,
        "label": batch["label"],
    }


def paired_train_dataset(split: Split, make: PairMaker, batch_size: int, seed: int):
    """Endless shuffled batches of pairs in [0, 1] (reshuffled every epoch, seeded; flips of
    the split, when on, mirror input and target alike). One process's share of the global batch
    is not taken here: the translation family runs on one process."""
    source = grain.MapDataset.source(_PairSource(split, make)).seed(seed).shuffle().repeat(None)
    if split.flip:
        flip = functools.partial(preprocess.random_flip, keys=("input", "target"))
        source = source.random_map(flip, seed=seed)
    return source.batch(batch_size, drop_remainder=True).map(_to_unit)


def pairs(split: Split, make: PairMaker, start: int = 0, stop: int | None = None):
    """(inputs, targets) in [0, 1] of examples [start, stop) of the split (evaluation chunks)."""
    images = np.asarray(split.images_NxHxWxC[start:stop])
    made = [make(image) for image in images]
    x = np.stack([m[0] for m in made]).astype(np.float32) / 255.0
    y = np.stack([m[1] for m in made]).astype(np.float32) / 255.0
    return x, y


# ---- unpaired domains ----------------------------------------------------------------------


def domain_splits(config: ml_collections.ConfigDict) -> dict[str, dict[str, Split]]:
    """{"a": {split: Split}, "b": {split: Split}}: each domain's train/validation/test."""
    p = config.preprocess
    limit = config.get("data_in_memory_mb", 512)
    if config.dataset:  # a two-domain set: cycle_gan/*
        splits = {s: load_split(config.dataset, s, p.crop, p.image_size, limit) for s in SPLITS}
        if splits["train"].num_classes != 2:
            raise UserError(
                f"dataset {config.dataset!r} is not a two-domain set (a cycle_gan/* set, labels "
                "A and B); give the domains as --config.domain_a and --config.domain_b instead"
            )
        return {
            d: {s: split.select(split.int_labels() == i) for s, split in splits.items()}
            for i, d in enumerate("ab")
        }
    domains = {}
    for d, name in (("a", config.domain_a), ("b", config.domain_b)):
        domains[d] = {s: load_split(name, s, p.crop, p.image_size, limit) for s in SPLITS}
    shapes = {d: domains[d]["train"].image_shape for d in domains}
    if shapes["a"][:2] != shapes["b"][:2]:
        raise UserError(
            f"domains A and B have image sizes {shapes['a']} and {shapes['b']}; bring both to "
            "one size with --config.preprocess.image_size=N"
        )
    return domains


def domain_names(config: ml_collections.ConfigDict) -> dict[str, str]:
    """The data set behind each domain: what its feature classifier trains on."""
    if config.dataset:
        return {"a": config.dataset, "b": config.dataset}
    return {"a": config.domain_a, "b": config.domain_b}


def unpaired_train_dataset(domains: dict, batch_size: int, seed: int):
    """Endless batches {"a": (B, H, W, C_a), "b": (B, H, W, C_b)} in [0, 1]: the two domains
    shuffled independently (seeds `seed` and `seed + 1`), so no pairing is ever implied."""
    parts = [train_dataset(domains[d]["train"], batch_size, seed + i) for i, d in enumerate("ab")]
    return grain.experimental.ZipMapDataset(parts).map(
        lambda both: {"a": both[0]["image"], "b": both[1]["image"]}
    )


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Images with `channels` channels: grey repeated to colour, colour averaged to grey, or
    as they are."""
    if images.shape[-1] == channels:
        return images
    if channels == 1:
        return images.mean(axis=-1, keepdims=True)
    return np.repeat(images, channels, axis=-1)
