"""Folders of PNG/JPEG images as data sets: `--config.dataset=/path/to/folder`.

Layout: `train/`, `test/` (and optionally `validation/`, or `val/` as the pix2pix sets name it)
subfolders become those splits, else
every image is one pool with a seeded TEST_FRACTION of every class (rounded up) as the test split.
Inside a split, class subfolders give the labels (their sorted names); images with no class
subfolders are unlabelled. Images are found recursively below a class folder.

The folder is prepared once into a TFDS array_record set (jaxgen/data/builders/image_folder.py)
under `$JAXGEN_DATA_DIR/image_folders/`, keyed by the folder's file list and file sizes, so a
changed folder is prepared anew; then it loads like any TFDS set. All images must have one size;
grey images are kept grey unless the folder mixes grey and colour (then all become RGB).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib

import numpy as np

from jaxgen.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SPLIT_FOLDERS = ("train", "validation", "val", "test")  # val/: the pix2pix sets' name
_SPLIT_NAMES = {"val": "validation"}
TEST_FRACTION = 0.2
SPLIT_SEED = 0x1F


@dataclasses.dataclass(frozen=True)
class FolderLayout:
    """What a folder holds: per split, (image path, label or -1) pairs; the class names; the
    common image shape (H, W, C)."""

    root: pathlib.Path
    splits: dict[str, list[tuple[pathlib.Path, int]]]
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    # (crop, size) the images are brought to as they are prepared (a folder of mixed sizes).
    prepare: tuple[str, int] | None = None

    def fingerprint(self) -> str:
        """16 hex digits of sha256 over every file's path (relative to the root) and size."""
        digest = hashlib.sha256()
        for split, items in sorted(self.splits.items()):
            for path, label in items:
                entry = f"{split}\t{path.relative_to(self.root)}\t{path.stat().st_size}\t{label}"
                digest.update(entry.encode())
        return digest.hexdigest()[:16]


def is_image_folder(name: str) -> bool:
    return os.path.isdir(os.path.expanduser(name))


def _images_below(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _labelled(folder: pathlib.Path, class_names: tuple[str, ...]) -> list[tuple[pathlib.Path, int]]:
    if not class_names:
        return [(p, -1) for p in _images_below(folder)]
    loose = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if loose:
        raise UserError(
            f"{folder} has images both in class folders and at its top ({loose[0].name}); "
            "put every image in a class folder, or use no class folders"
        )
    return [(p, c) for c, name in enumerate(class_names) for p in _images_below(folder / name)]


def _class_names(folders: list[pathlib.Path]) -> tuple[str, ...]:
    names = {d.name for f in folders for d in f.iterdir() if d.is_dir() and _images_below(d)}
    return tuple(sorted(names))


def _held_out(items: list[tuple[pathlib.Path, int]]) -> tuple[list, list]:
    """(train, test): a seeded TEST_FRACTION of every class (of all when unlabelled) as test."""
    labels = np.asarray([label for _, label in items])
    rng = np.random.default_rng(SPLIT_SEED)
    test = set()
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        count = int(np.ceil(TEST_FRACTION * len(members))) if len(members) > 1 else 0
        test.update(rng.permutation(members)[:count].tolist())
    train = [item for i, item in enumerate(items) if i not in test]
    return train, [item for i, item in enumerate(items) if i in test]


def _image_shape(splits: dict[str, list[tuple[pathlib.Path, int]]], mixed_ok: bool):
    """(H, W, C, several sizes?): the folder's common size (the first image's when `mixed_ok`;
    else several sizes are a UserError); C is 1 when every image is grey, else 3."""
    from PIL import Image, UnidentifiedImageError

    sizes, grey = {}, True
    for items in splits.values():
        for path, _ in items:
            try:
                with Image.open(path) as image:
                    image.verify()
                with Image.open(path) as image:
                    sizes.setdefault(image.size, path)
                    grey = grey and image.mode in ("1", "L", "I;16", "I")
            except (OSError, UnidentifiedImageError, SyntaxError) as err:
                raise UserError(f"cannot read the image {path}: {err}") from None
            if len(sizes) > 1 and not mixed_ok:
                (w0, h0), (w1, h1) = list(sizes)[:2]
                first, second = sizes[(w0, h0)], sizes[(w1, h1)]
                raise UserError(
                    f"images of different sizes in the folder: {first} is {w0}x{h0}, {second} "
                    f"is {w1}x{h1}; give --config.preprocess.image_size=N (and "
                    "--config.preprocess.crop=center to keep their aspect) to bring them to one"
                )
    width, height = next(iter(sizes))
    return (height, width, 1 if grey else 3), len(sizes) > 1


def scan(folder: str | pathlib.Path, prepare: tuple[str, int] | None = None) -> FolderLayout:
    """The layout of an image folder; UserError for an empty folder, unreadable images or
    mixed sizes without `prepare` = (crop, size) to bring them to size x size."""
    root = pathlib.Path(folder).expanduser().absolute()
    split_dirs = [root / s for s in SPLIT_FOLDERS if (root / s).is_dir()]
    if split_dirs and not (root / "train").is_dir():
        raise UserError(f"{root} has {split_dirs[0].name}/ but no train/ folder")
    class_names = _class_names(split_dirs or [root])
    if split_dirs:
        splits = {_SPLIT_NAMES.get(d.name, d.name): _labelled(d, class_names) for d in split_dirs}
    else:
        pool = _labelled(root, class_names)
        splits = dict(zip(("train", "test"), _held_out(pool), strict=True)) if pool else {}
    if not any(splits.values()):
        raise UserError(f"no PNG or JPEG images in {root} (looked for {', '.join(IMAGE_SUFFIXES)})")
    empty = [s for s, items in splits.items() if not items]
    if empty:
        raise UserError(f"the {empty[0]} split of {root} has no images")
    shape, mixed = _image_shape(splits, mixed_ok=prepare is not None)
    if not mixed:
        return FolderLayout(root, splits, class_names, shape)
    crop, size = prepare
    return FolderLayout(root, splits, class_names, (size, size, shape[2]), (crop, size))
