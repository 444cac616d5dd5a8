"""Folders of IDX files (the original MNIST format) as data sets: `--config.dataset=/path`.

Layout: MNIST's four files, `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
`t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each optionally gzipped (`.gz`), as
MNIST, Fashion-MNIST, KMNIST and EMNIST's `mnist` subset ship. The IDX format: a big-endian
magic number (two zero bytes, the element type, 0x08 for uint8, then the number of
dimensions), each dimension as a big-endian int32, then the elements in C order. Images are
0x00000803 (N, rows, cols) and labels 0x00000801 (N,).

A folder is an IDX folder when it holds any of those files; it is prepared once into a TFDS
array_record set with the features of TFDS's own `mnist` builder (jaxgen/data/builders/idx.py:
PNG-encoded uint8 rows x cols x 1 images, a ClassLabel of 10 classes; splits train and test)
under `$JAXGEN_DATA_DIR/idx_folders/`, keyed by a hash of the files' bytes (other IDX sets have
files of the same sizes), and then loads like any TFDS set.

Two names fall back to IDX folders when TFDS's prepared set is absent: `fashion_mnist` to the
files of Debian's `dataset-fashion-mnist` package (FASHION_MNIST_DEBIAN), `mnist` to the folder
that `$JAXGEN_MNIST_IDX` names (no package installs the full MNIST).
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import os
import pathlib
import zlib

import numpy as np

from jaxgen.errors import UserError

# (split, kind) -> the file's name in MNIST's layout; each may also be gzipped, NAME.gz.
IDX_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
MAGIC = {"images": 0x00000803, "labels": 0x00000801}  # uint8, 3-D and 1-D
NUM_CLASSES = 10  # TFDS's `mnist` ClassLabel; labels above 9 widen it

# Where `apt-get install dataset-fashion-mnist` puts the four gzipped files (`dpkg -L`).
FASHION_MNIST_DEBIAN = pathlib.Path("/usr/share/datasets/fashion-mnist")
# TFDS's `fashion_mnist` class names, label 0 first.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MNIST_ENV = "JAXGEN_MNIST_IDX"  # a folder of MNIST's own IDX files, used by the name `mnist`
# sha256 of MNIST's four files as LeCun, Cortes and Burges published them, gzipped (the bytes
# that TFDS's tensorflow_datasets/url_checksums/mnist.txt lists): how an IDX folder is known to
# hold MNIST itself (`is_mnist_folder`), whatever its labels are called.
MNIST_SHA256 = {
    ("train", "images"): "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ("train", "labels"): "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ("test", "images"): "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ("test", "labels"): "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

_GZIP_MAGIC = b"\x1f\x8b"
_HASH_CHUNK = 1 << 20


def _candidates(folder: pathlib.Path, name: str) -> list[pathlib.Path]:
    return [p for p in (folder / name, folder / f"{name}.gz") if p.is_file()]


def is_idx_folder(name: str) -> bool:
    """Whether `name` is a folder holding any of MNIST's four IDX files (gzipped or not)."""
    folder = pathlib.Path(os.path.expanduser(name))
    return folder.is_dir() and any(_candidates(folder, n) for n in IDX_FILES.values())


def _read_bytes(path: pathlib.Path, count: int = -1) -> bytes:
    """The file's first `count` bytes (all when -1), gunzipped when it starts with gzip's magic
    (whatever its suffix)."""
    try:
        with open(path, "rb") as handle:
            zipped = handle.read(2) == _GZIP_MAGIC
        with (gzip.open if zipped else open)(path, "rb") as handle:
            return handle.read(count)
    except (OSError, EOFError, zlib.error) as err:  # EOFError: a truncated gzip stream
        raise UserError(f"cannot read the IDX file {path}: {err}") from None


def _header(path: pathlib.Path, data: bytes, kind: str) -> tuple[int, ...]:
    """The dimensions that the header at the start of `data` gives; UserError for a short
    header or a magic number other than `kind`'s."""
    expected = MAGIC[kind]
    ndim = expected & 0xFF
    if len(data) < 4 + 4 * ndim:
        raise UserError(f"the IDX file {path} is truncated: {len(data)} bytes, not even a header")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected:
        raise UserError(
            f"the IDX file {path} has the magic number 0x{magic:08x}, not 0x{expected:08x} "
            f"(uint8 {kind}, {ndim}-D)"
        )
    return tuple(int(d) for d in np.frombuffer(data, ">i4", ndim, offset=4))


def read_header(path: str | pathlib.Path, kind: str) -> tuple[int, ...]:
    """The dimensions of one IDX file, (N, rows, cols) for kind "images", (N,) for "labels",
    from its header alone (a gzipped file is not decompressed further)."""
    path = pathlib.Path(path)
    return _header(path, _read_bytes(path, 4 + 4 * (MAGIC[kind] & 0xFF)), kind)


def read_idx(path: str | pathlib.Path, kind: str) -> np.ndarray:
    """The uint8 array of one IDX file: (N, rows, cols) for kind "images", (N,) for "labels".
    UserError (one line naming the file) for a wrong magic number, a short header, no items,
    or data shorter or longer than the header's dimensions say."""
    path = pathlib.Path(path)
    data = _read_bytes(path)
    shape = _header(path, data, kind)
    header, size = 4 + 4 * len(shape), int(np.prod(shape))
    if len(data) - header != size:
        what = "truncated" if len(data) - header < size else "longer than its header says"
        dims = "x".join(map(str, shape))
        raise UserError(
            f"the IDX file {path} is {what}: its header says {dims} ({size} bytes of data), "
            f"it holds {len(data) - header}"
        )
    if not shape[0]:
        raise UserError(f"the IDX file {path} holds no {kind}")
    return np.frombuffer(data, np.uint8, size, offset=header).reshape(shape)


@dataclasses.dataclass(frozen=True)
class IdxLayout:
    """One IDX folder: its four files ((split, kind) -> path) and the class names of its labels
    (None: "0", "1", ... as TFDS's `mnist` has them). What the builder reads, lazily: the image
    shape (from the headers), the class names (from the labels) and the splits (every file
    read and checked: `load()`)."""

    root: pathlib.Path
    files: dict[tuple[str, str], pathlib.Path]
    names: tuple[str, ...] | None = None

    def fingerprint(self) -> str:
        """16 hex digits of sha256 over the four files' bytes (as stored) and the class names."""
        digest = hashlib.sha256(repr(self.names).encode())
        for key, path in sorted(self.files.items()):
            digest.update(f"\n{IDX_FILES[key]}\n".encode())
            with open(path, "rb") as handle:
                while chunk := handle.read(_HASH_CHUNK):
                    digest.update(chunk)
        return digest.hexdigest()[:16]

    @functools.cached_property
    def image_shape(self) -> tuple[int, int, int]:
        """(rows, cols, 1), from the train images' header (the test images must agree)."""
        return (*read_header(self.files["train", "images"], "images")[1:], 1)

    @functools.cached_property
    def class_names(self) -> tuple[str, ...]:
        """The given names, else "0" ... "9" (more when a label is above 9)."""
        if self.names is not None:
            return self.names
        top = max(int(labels.max()) for labels in self._labels.values())
        return tuple(str(c) for c in range(max(NUM_CLASSES, top + 1)))

    @functools.cached_property
    def splits(self) -> dict[str, list[tuple[np.ndarray, int]]]:
        """split -> (image rows x cols, label) pairs in file order: what the builder writes."""
        self.load()
        return {
            split: list(zip(self._images[split], self._labels[split].tolist(), strict=True))
            for split in self._labels
        }

    def load(self) -> IdxLayout:
        """Reads and checks every file (a UserError for the first bad one); returns self."""
        for split, images in self._images.items():
            labels = self._labels[split]
            if len(images) != len(labels):
                raise UserError(
                    f"the IDX file {self.files[split, 'labels']} holds {len(labels)} labels but "
                    f"{self.files[split, 'images'].name} holds {len(images)} images"
                )
            if images.shape[1:] != self.image_shape[:2]:
                rows, cols = images.shape[1:]
                raise UserError(
                    f"the IDX file {self.files[split, 'images']} holds {rows}x{cols} images, "
                    f"the train images are {self.image_shape[0]}x{self.image_shape[1]}"
                )
            if labels.max() >= len(self.class_names):
                raise UserError(
                    f"the IDX file {self.files[split, 'labels']} has the label {labels.max()}; "
                    f"this set has {len(self.class_names)} classes"
                )
        return self

    @functools.cached_property
    def _labels(self) -> dict[str, np.ndarray]:
        return {s: read_idx(self.files[s, "labels"], "labels") for s in ("train", "test")}

    @functools.cached_property
    def _images(self) -> dict[str, np.ndarray]:
        return {s: read_idx(self.files[s, "images"], "images") for s in ("train", "test")}


def scan(folder: str | pathlib.Path, names: tuple[str, ...] | None = None) -> IdxLayout:
    """The IDX folder's four files (the uncompressed one where both are there); UserError for
    a missing one. Nothing is read yet."""
    root = pathlib.Path(folder).expanduser().absolute()
    files = {}
    for key, name in IDX_FILES.items():
        found = _candidates(root, name)
        if not found:
            raise UserError(f"the IDX folder {root} has no {name} (nor {name}.gz)")
        files[key] = found[0]
    return IdxLayout(root, files, names)


def named_folder(name: str) -> tuple[pathlib.Path, tuple[str, ...] | None] | None:
    """The IDX folder that stands in for TFDS's `fashion_mnist` or `mnist` when its prepared set
    is absent, with its class names; None when there is none. UserError for a
    `$JAXGEN_MNIST_IDX` that is not a folder."""
    if name == "fashion_mnist" and is_idx_folder(str(FASHION_MNIST_DEBIAN)):
        return FASHION_MNIST_DEBIAN, FASHION_MNIST_CLASSES
    if name == "mnist" and os.environ.get(MNIST_ENV):
        folder = pathlib.Path(os.environ[MNIST_ENV]).expanduser()
        if not folder.is_dir():
            raise UserError(f"{MNIST_ENV}={folder} is not a folder (of MNIST's four IDX files)")
        return folder, None
    return None


def _sha256(path: pathlib.Path) -> str:
    # Reports ask `is_mnist_folder` several times per run; the files are read once per version
    # (a file rewritten in place has a new size or modification time, so a new key).
    stat = path.stat()
    return _sha256_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # only part of the cache key
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_mnist_folder(folder: str | pathlib.Path) -> bool:
    """Whether the IDX folder holds MNIST itself: it is the folder `$JAXGEN_MNIST_IDX` names
    (declared MNIST by the user), or each of the four files that `scan` reads is MNIST's
    published gzipped file (MNIST_SHA256). Other IDX sets (Fashion-MNIST, KMNIST, EMNIST's
    letters) have MNIST's layout and labels 0..9 too, so neither tells them apart; a copy of
    MNIST that was gunzipped or recompressed is only known through `$JAXGEN_MNIST_IDX`."""
    root = pathlib.Path(folder).expanduser()
    declared = os.environ.get(MNIST_ENV)
    if declared and pathlib.Path(declared).expanduser().resolve() == root.resolve():
        return True
    try:
        layout = scan(root)
    except UserError:
        return False
    return all(_sha256(path) == MNIST_SHA256[key] for key, path in layout.files.items())


FALLBACK_NAMES = ("fashion_mnist", "mnist")


def how_to_get(name: str) -> str:
    """The ways to get `fashion_mnist` or `mnist` other than TFDS's prepared set, for the
    one-line message that says it is absent."""
    files = ", ".join(f"{n}[.gz]" for n in IDX_FILES.values())
    if name == "fashion_mnist":
        return (
            "or install Debian's files with `apt-get install dataset-fashion-mnist` (read from "
            f"{FASHION_MNIST_DEBIAN}), or give --config.dataset=FOLDER of its four IDX files "
            f"({files})"
        )
    return (
        f"or set {MNIST_ENV}=FOLDER (or give --config.dataset=FOLDER) of MNIST's four IDX "
        f"files ({files})"
    )
