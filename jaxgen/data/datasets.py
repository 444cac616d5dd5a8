"""Data sets by name: the embedded ones (prepared once by jaxgen's own TFDS builders, offline),
any TFDS data set that has been prepared locally in array_record format, image folders and
folders of IDX files (jaxgen/data/idx.py; also `fashion_mnist` and `mnist` when TFDS's own
prepared sets are absent)."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import fcntl
import functools
import io
import os
import pathlib
import sys

import numpy as np

from jaxgen.data.records import Pixels, RecordImages, read_labels
from jaxgen.errors import UserError


def data_dir() -> pathlib.Path:
    """`$JAXGEN_DATA_DIR`, else `$XDG_CACHE_HOME/jaxgen/tensorflow_datasets` (~/.cache/...)."""
    if "JAXGEN_DATA_DIR" in os.environ:
        return pathlib.Path(os.environ["JAXGEN_DATA_DIR"]).expanduser()
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    return cache / "jaxgen" / "tensorflow_datasets"


def tfds_data_dir() -> pathlib.Path:
    """Where real TFDS sets are looked for: `$TFDS_DATA_DIR`, else ~/tensorflow_datasets."""
    return pathlib.Path(os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")).expanduser()


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of an image data set.

    images_NxHxWxC: uint8 pixels (0..255): an array in memory, or RecordImages read from the
    set's array_record files as they are indexed (a split larger than `data_in_memory_mb`).
    labels_N: int class labels, or None if the set has none (labels are always in memory).
    flip: whether training batches of it mirror each image with probability 1/2 (keyed).
    attributes_NxA, attribute_names: binary attributes of each image (CelebA's 40), or None.
    """

    dataset: str
    split: str
    images_NxHxWxC: np.ndarray | RecordImages
    labels_N: np.ndarray | None
    num_classes: int | None
    flip: bool = False
    attributes_NxA: np.ndarray | None = None
    attribute_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.images_NxHxWxC)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images_NxHxWxC.shape[1:])

    @property
    def streamed(self) -> bool:
        """Whether the images are read from disk as they are indexed (not held in memory)."""
        return isinstance(self.images_NxHxWxC, RecordImages)

    def int_labels(self) -> np.ndarray:
        """The labels as int32, or zeros if the set has none (for models that take a label)."""
        if self.labels_N is None:
            return np.zeros(len(self), np.int32)
        return self.labels_N.astype(np.int32)

    def pixels(self) -> np.ndarray | Pixels:
        """All images as float32 in [0, 1]: an array, or for a streamed split a view that
        decodes the images it is sliced at."""
        if self.streamed:
            return Pixels(self.images_NxHxWxC)
        return self.images_NxHxWxC.astype(np.float32) / 255.0

    def pixel_view(self) -> Pixels:
        """A view of the images as float32 in [0, 1] that converts (and, streamed, decodes)
        only the slices taken of it: what chunked evaluation reads."""
        return Pixels(self.images_NxHxWxC)

    def select(self, mask: np.ndarray) -> Split:
        """The examples where `mask` is true (a boolean or index array)."""
        labels = None if self.labels_N is None else self.labels_N[mask]
        attributes = None if self.attributes_NxA is None else self.attributes_NxA[mask]
        images = self.images_NxHxWxC
        return dataclasses.replace(
            self,
            images_NxHxWxC=images.subset(mask) if self.streamed else images[mask],
            labels_N=labels,
            attributes_NxA=attributes,
        )


@contextlib.contextmanager
def file_lock(path: pathlib.Path):
    # Two processes (pytest-xdist workers, two runs) may prepare the same set at once.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _embedded_builder(name: str):
    from jaxgen.data.builders import EMBEDDED_BUILDERS

    return _prepared_once(
        EMBEDDED_BUILDERS[name],
        data_dir(),
        lock=data_dir() / f".{name}.lock",
        what=f"the embedded set {name}",
    )


def _tfds_builder(name: str, also: str = ""):
    """TFDS's prepared set `name`; UserError when it is unknown, not prepared or not in
    array_record format, saying how to prepare it (and `also`: other ways to get it)."""
    import tensorflow_datasets as tfds

    root = tfds_data_dir()
    try:
        builder = tfds.builder(name, data_dir=str(root))
    except Exception as err:  # tfds raises several types for an unknown name
        raise UserError(
            f"unknown dataset {name!r}: not an embedded set (digits, mnist5k), an image or IDX "
            "folder nor a TFDS name "
            f"({type(err).__name__})"
        ) from None
    how = (
        f"prepare it once with `tfds build {name} --file_format=array_record "
        f"--data_dir={root}` (needs TensorFlow and internet: on another machine, then copy "
        "its ~/tensorflow_datasets here), or set TFDS_DATA_DIR"
    )
    how += f", {also}" if also else ""
    if not builder.is_prepared():
        raise UserError(f"dataset {name!r} is not prepared in {root}; {how}")
    if builder.info.file_format.value != "array_record":
        raise UserError(f"dataset {name!r} in {root} is not in array_record format; {how}")
    return builder


# The data sets of handwritten digits (grey images, one digit each) by name: the sets that
# measures of a digit's strokes (ink mass, slant: metrics/image_attributes.py) are defined on.
# Of TFDS's `emnist` only the `mnist` and `digits` configs are digits; the others hold letters.
DIGIT_SETS = ("digits", "mnist5k", "mnist", "emnist/mnist", "emnist/digits")


def is_digit_set(name: str) -> bool:
    """Whether the data set `name` is a set of handwritten digits: a name in DIGIT_SETS (a
    TFDS name with or without its version, `mnist:3.0.1`), or an IDX folder that holds MNIST
    itself (idx.is_mnist_folder). Anything else is not, whatever its labels are called:
    `fashion_mnist`, an image folder, any other IDX folder, a colour set."""
    from jaxgen.data import idx
    from jaxgen.data.image_folder import is_image_folder

    # Looked up in the order that `_builder` finds a set by its name.
    if name in embedded_names():
        return name in DIGIT_SETS
    if idx.is_idx_folder(name):
        return idx.is_mnist_folder(name)
    if is_image_folder(name):
        return False
    return name.split(":")[0] in DIGIT_SETS


def embedded_names() -> tuple[str, ...]:
    from jaxgen.data.builders import EMBEDDED_BUILDERS

    return tuple(EMBEDDED_BUILDERS)


# The validation split that model selection uses, held out from train when the set has none:
# this fraction of every class (of the whole split for unlabelled sets), drawn with a fixed seed
# so that every run and every seed trains on the same images.
VALIDATION_FRACTION = 0.1
VALIDATION_SEED = 0x5A1


# A split whose decoded pixels (after crop and resize) take at most this many MiB is decoded
# once and held in memory; a larger one is read from disk as it is indexed (config key
# `data_in_memory_mb`; 0 streams every split). Both give the same pixels and the same run.
IN_MEMORY_MB = 512


def config_splits(config) -> dict[str, Split]:
    """The "train", "validation" and "test" splits of `config.dataset`, preprocessed as
    `config.preprocess` says (crop and resize; flips on the train split's batches)."""
    from jaxgen.data.preprocess import preprocess_config

    p = config.get("preprocess") or preprocess_config()
    in_memory_mb = config.get("data_in_memory_mb", IN_MEMORY_MB)
    splits = {s: load_split(config.dataset, s, p.crop, p.image_size, in_memory_mb) for s in SPLITS}
    splits["train"] = dataclasses.replace(splits["train"], flip=bool(p.flip))
    return splits


SPLITS = ("train", "validation", "test")


@functools.lru_cache(maxsize=32)
def load_split(
    name: str, split: str, crop: str = "none", image_size: int = 0, in_memory_mb=IN_MEMORY_MB
) -> Split:
    """One split by data-set name (embedded, image or IDX folder, prepared TFDS set), centre-cropped
    (`crop="center"`) and resized to image_size x image_size (when > 0); in memory when its
    pixels take at most `in_memory_mb` MiB, else streamed from its files; cached.

    `split` is "train", "validation" or "test". A set without its own validation split (the
    digit sets, MNIST, CIFAR-10) gets one held out from its TFDS train split: VALIDATION_FRACTION
    of every class, seeded; "train" is then the rest. Model selection (periodic evaluation,
    best checkpoints, chosen budgets) uses "validation"; "test" is for the final report only.
    """
    from jaxgen.data.idx import is_idx_folder
    from jaxgen.data.image_folder import is_image_folder

    # An image folder of mixed sizes is cropped and resized as it is prepared.
    folder = is_image_folder(name) and not is_idx_folder(name)
    prepare = (crop, int(image_size)) if folder and image_size else None
    builder = _builder(name, prepare)
    available = _splits(builder)
    if split in ("train", "validation") and "validation" not in available:
        train = _read_split(name, "train", prepare)
        held_out = validation_indices(train.labels_N, len(train))
        keep = np.zeros(len(train), bool)
        keep[held_out] = True
        records = train.select(keep if split == "validation" else ~keep)
    elif split in available:
        records = _read_split(name, split, prepare)
    else:
        raise UserError(f"dataset {name!r} has no split {split!r}; it has {sorted(available)}")
    images = records.images_NxHxWxC.with_preprocess(crop, image_size)
    if images.nbytes <= in_memory_mb * 2**20:
        images = images.materialize()
    return dataclasses.replace(records, split=split, images_NxHxWxC=images)


def clear_caches() -> None:
    """Forgets the splits read in this process (an image folder that changed is read anew)."""
    load_split.cache_clear()
    _read_split.cache_clear()


def validation_indices(labels: np.ndarray | None, count: int) -> np.ndarray:
    """Sorted indices of the held-out validation examples among `count` train examples:
    ceil(VALIDATION_FRACTION * n_c) of every class c, by a seeded permutation within the class
    (of all examples when there are no labels)."""
    rng = np.random.default_rng(VALIDATION_SEED)
    groups = (
        [np.arange(count)]
        if labels is None
        else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    )
    chosen = [
        rng.permutation(group)[: int(np.ceil(VALIDATION_FRACTION * len(group)))] for group in groups
    ]
    return np.sort(np.concatenate(chosen))


def _builder(name: str, prepare: tuple[str, int] | None = None):
    from jaxgen.data import idx
    from jaxgen.data.image_folder import is_image_folder

    if name in embedded_names():
        return _embedded_builder(name)
    if idx.is_idx_folder(name):
        return _idx_folder_builder(idx.scan(name))
    if is_image_folder(name):
        return _image_folder_builder(name, prepare)
    if name in idx.FALLBACK_NAMES:
        return _tfds_or_idx_builder(name)
    return _tfds_builder(name)


def _tfds_or_idx_builder(name: str):
    """TFDS's prepared `fashion_mnist` or `mnist`, else the IDX folder that stands in for it
    (Debian's Fashion-MNIST files, `$JAXGEN_MNIST_IDX`), else a UserError naming every way."""
    from jaxgen.data import idx

    try:
        return _tfds_builder(name, also=idx.how_to_get(name))
    except UserError:
        found = idx.named_folder(name)
        if found is None:
            raise
        return _idx_folder_builder(idx.scan(*found))


def _idx_folder_builder(layout):
    """The IDX folder prepared once into an array_record set keyed by its files' bytes; every
    file is read and checked (one-line UserErrors) before anything is written."""
    from jaxgen.data.builders.idx import IdxFolder

    root = data_dir() / "idx_folders" / f"{layout.root.name}-{layout.fingerprint()}"
    builder_type = functools.partial(IdxFolder, layout=layout)
    return _prepared_once(
        builder_type, root, check=layout.load, what=f"the IDX folder {layout.root}"
    )


def _image_folder_builder(folder: str, prepare: tuple[str, int] | None):
    """The folder prepared once into an array_record set keyed by its file list and sizes (and
    by the crop and size it was prepared at, when its images have several sizes)."""
    from jaxgen.data.builders.image_folder import ImageFolder
    from jaxgen.data.image_folder import scan

    layout = scan(folder, prepare)
    name = f"{layout.root.name}-{layout.fingerprint()}"
    if layout.prepare:
        name += f"-{layout.prepare[0]}{layout.prepare[1]}"
    root = data_dir() / "image_folders" / name
    builder_type = functools.partial(ImageFolder, layout=layout)
    return _prepared_once(builder_type, root, what=f"the image folder {layout.root}")


# Whether preparing a set shows TFDS's progress bars and one line when it is done: a run's
# `progress` key (train/loop.py sets it for the run with `preparation_progress`).
_SHOW_PREPARATION = contextvars.ContextVar("show_preparation", default=True)


@contextlib.contextmanager
def preparation_progress(show: bool):
    """Within this block, preparing a set shows its progress (or, with False, prints nothing)."""
    token = _SHOW_PREPARATION.set(bool(show))
    try:
        yield
    finally:
        _SHOW_PREPARATION.reset(token)


@contextlib.contextmanager
def _tfds_progress_bar(show: bool):
    """TFDS's progress bars on or off for the block, then back as they were: the switch is a
    process-wide global (`tfds.display_progress_bar`), and a notebook that prepares one set
    quietly should not lose the bars of everything it prepares afterwards."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.utils import tqdm_utils

    # TFDS has a setter and no getter; its module global is the only record of the state.
    before = getattr(tqdm_utils, "_active", True)
    tfds.display_progress_bar(show)
    try:
        yield
    finally:
        tfds.display_progress_bar(before)


def _prepared_once(builder_type, root: pathlib.Path, *, what: str, lock=None, check=None):
    """`builder_type(data_dir=root)`, prepared unless it already is; under a file lock, so that
    two processes (pytest-xdist workers, two runs) prepare it once. `check` runs just before
    preparing (an IDX folder reads and validates every file before anything is written).

    TFDS ends a preparation by printing "Dataset NAME downloaded and prepared to ..." on stdout,
    wrong for local files (nothing is downloaded) and unasked-for with `progress=false`: its
    stdout is swallowed and jaxgen says in its own line what was prepared where."""

    def builder():
        return builder_type(data_dir=str(root), file_format="array_record")

    prepared = builder()
    if prepared.is_prepared():
        return prepared
    with file_lock(lock or root / ".lock"):
        prepared = builder()
        if not prepared.is_prepared():
            if check is not None:
                check()
            show = _SHOW_PREPARATION.get()
            with _tfds_progress_bar(show), contextlib.redirect_stdout(io.StringIO()):
                prepared.download_and_prepare()
            if show:
                print(f"prepared {what} once into {prepared.data_dir}", file=sys.stderr)
    return prepared


# Splits made of two domains' TFDS splits (`cycle_gan/*`: trainA, trainB, testA, testB, labels
# A = 0, B = 1): an image family trains on both domains, an image translation reads each.
DOMAIN_SPLITS = {"train": "trainA+trainB", "test": "testA+testB"}


def _splits(builder) -> set[str]:
    """The split names `load_split` takes for this set: its TFDS splits, and "train" and
    "test" where DOMAIN_SPLITS makes them of the domains' splits."""
    names = set(builder.info.splits)
    for split, union in DOMAIN_SPLITS.items():
        if split not in names and set(union.split("+")) <= names:
            names.add(split)
    return names


@functools.lru_cache(maxsize=16)
def _read_split(name: str, split: str, prepare: tuple[str, int] | None = None) -> Split:
    """One TFDS split of the set: its labels and attributes read into memory, its images left
    on disk (RecordImages)."""
    builder = _builder(name, prepare)
    features = builder.info.features
    if split not in builder.info.splits:
        split = DOMAIN_SPLITS[split]
    labels = read_labels(builder.data_dir, split, features)
    num_classes = None
    if labels["labels"] is not None:
        num_classes = getattr(features["label"], "num_classes", None)
    images = RecordImages(builder.data_dir, split)
    return Split(
        name,
        split,
        images,
        labels["labels"],
        num_classes,
        False,
        labels["attributes"],
        labels["attribute_names"],
    )
