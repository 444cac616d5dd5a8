"""A split's images read from its TFDS array_record files on access, not held in memory.

`RecordImages` is random access (an index, a slice or an index array) over one split: each
image is read, decoded by TFDS's own `Image` feature (with OpenCV, which TFDS prefers when it
is installed and which decodes PNG 2-5x faster than PIL here: benchmarks/input_pipeline.py),
brought to uint8 HxWxC and centre-cropped and resized as `config.preprocess` says. The training
pipeline reads one example at a time through it, evaluation one chunk at a time, so a run's
memory is bounded by the batch and the prefetch, not by the data set.

A split small enough (`data_in_memory_mb`) is decoded once, whole, by the same code
(`materialize`), so a streamed and an in-memory split hold the same pixels.
"""

from __future__ import annotations

import functools

import numpy as np

from jaxgen.data import preprocess
from jaxgen.errors import UserError

# Labels are read in chunks of this many records, with the image bytes left undecoded.
LABEL_CHUNK = 4096


def to_uint8_image(image: np.ndarray) -> np.ndarray:
    """A decoded TFDS image as uint8 HxWxC: a channel axis for greyscale sets stored without
    one; 0/1 or [0, 1] values (binary or float sets) scaled to 0..255."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.dtype != np.uint8:
        image = np.clip(np.round(image.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    return image


class RecordImages:
    """uint8 images (N, H, W, C) of one split, decoded from its array_record files as they are
    indexed. Picklable: grain's worker processes reopen the files.

    builder_dir: the TFDS data set's versioned directory; split: its split name;
    indices: which of the split's records, in order (all of them when None); crop, image_size:
    `config.preprocess`'s, applied to every image as it is decoded.
    """

    ndim = 4
    dtype = np.dtype(np.uint8)

    def __init__(
        self,
        builder_dir: str,
        split: str,
        indices: np.ndarray | None = None,
        crop: str = "none",
        image_size: int = 0,
    ):
        if crop not in preprocess.CROPS:
            raise ValueError(f"unknown preprocess.crop {crop!r}; choose one of {preprocess.CROPS}")
        self.builder_dir, self.split = builder_dir, split
        self.crop, self.image_size = crop, int(image_size)
        self._source = None
        self.indices = np.arange(len(self.source)) if indices is None else np.asarray(indices)

    # ---- the files -------------------------------------------------------------------------

    @property
    def source(self):
        """TFDS's ArrayRecordDataSource over the split (opened on first use in each process)."""
        if self._source is None:
            import tensorflow_datasets as tfds

            builder = tfds.builder_from_directory(self.builder_dir)
            self._source = builder.as_data_source(split=self.split)
        return self._source

    def __getstate__(self):
        return {**self.__dict__, "_source": None}

    # ---- array-like ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.indices)

    @functools.cached_property
    def image_shape(self) -> tuple[int, int, int]:
        if not len(self):
            raise ValueError(f"split {self.split!r} of {self.builder_dir} has no images")
        return tuple(self._read([0])[0].shape)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self), *self.image_shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape))

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):  # the training pipeline's one example
            if not -len(self) <= key < len(self):
                raise IndexError(f"index {key} is out of range for {len(self)} images")
            return self._read([int(key) % len(self)])[0]
        positions = np.arange(len(self))[key]
        if positions.ndim != 1:
            raise IndexError(f"RecordImages takes an index, a slice or a 1-D index array: {key!r}")
        if not len(positions):
            return np.zeros((0, *self.image_shape), np.uint8)
        return np.stack(self._read(positions))

    def __array__(self, dtype=None, copy=None):
        images = self.materialize()
        return images if dtype is None else images.astype(dtype)

    def subset(self, positions) -> RecordImages:
        """The images at `positions` (an index array or a boolean mask), still on disk."""
        return self._with(self.indices[np.arange(len(self))[positions]])

    def with_preprocess(self, crop: str, image_size: int) -> RecordImages:
        """The same images centre-cropped (`crop="center"`) and resized (`image_size` > 0)."""
        if crop not in preprocess.CROPS:
            raise ValueError(f"unknown preprocess.crop {crop!r}; choose one of {preprocess.CROPS}")
        other = self._with(self.indices, keep_shape=False)
        other.crop, other.image_size = crop, int(image_size)
        return other

    def materialize(self, chunk: int = LABEL_CHUNK) -> np.ndarray:
        """All the images, decoded, as one read-only uint8 array."""
        out = np.empty(self.shape, np.uint8)
        for start in range(0, len(self), chunk):
            out[start : start + chunk] = self[start : start + chunk]
        out.setflags(write=False)
        return out

    def _with(self, indices, keep_shape: bool = True) -> RecordImages:
        other = object.__new__(RecordImages)
        other.__dict__.update(self.__dict__)
        other.indices = np.asarray(indices)
        if not (keep_shape and len(other.indices)):  # else: the same files and preprocessing
            other.__dict__.pop("image_shape", None)
        return other

    def _read(self, positions) -> list[np.ndarray]:
        keys = [int(self.indices[p]) for p in positions]
        # array_record's batched read starts a thread pool per call: 10x slower for one record.
        records = [self.source[keys[0]]] if len(keys) == 1 else self.source.__getitems__(keys)
        images = [to_uint8_image(record["image"]) for record in records]
        if self.crop == "center":
            images = [preprocess.center_crop(image[None])[0] for image in images]
        if self.image_size:
            images = [preprocess.resize_image(image, self.image_size) for image in images]
        shape = self.__dict__.get("image_shape", images[0].shape if images else None)
        for position, image in zip(positions, images, strict=True):
            if image.shape != tuple(shape):
                raise UserError(
                    f"images of {self.split!r} in {self.builder_dir} have different sizes "
                    f"({tuple(shape)} and {image.shape} at record {self.indices[position]}); "
                    "resize them all with --config.preprocess.image_size=N"
                )
        return images


class Pixels:
    """float32 pixels in [0, 1] of uint8 images (an array, or RecordImages decoded as they are
    indexed), converted chunk by chunk as they are sliced: `Split.pixel_view()`. Evaluation
    slices it in chunks, so neither a float copy of a split nor (streamed) its uint8 pixels are
    ever whole in memory: a float32 copy of 20,000 64x64x3 images alone is 0.9 GiB."""

    ndim = 4
    dtype = np.dtype(np.float32)

    def __init__(self, images: RecordImages | np.ndarray):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self.images.shape

    def __getitem__(self, key) -> np.ndarray:
        return np.asarray(self.images[key], np.float32) / 255.0

    def __array__(self, dtype=None, copy=None):
        return self[:].astype(dtype or np.float32, copy=False)


def read_labels(builder_dir: str, split: str, features) -> dict[str, np.ndarray | None]:
    """The split's "label" and CelebA-style boolean "attributes" of every record, read in
    chunks with the image bytes left undecoded (fast, and never the images in memory)."""
    import tensorflow_datasets as tfds

    keys = features.keys()
    builder = tfds.builder_from_directory(builder_dir)
    source = builder.as_data_source(split=split, decoders={"image": tfds.decode.SkipDecoding()})
    names = tuple(features["attributes"].keys()) if "attributes" in keys else ()
    labels, attributes = [], []
    for start in range(0, len(source), LABEL_CHUNK):
        records = source.__getitems__(range(start, min(start + LABEL_CHUNK, len(source))))
        if "label" in keys:
            labels.extend(int(r["label"]) for r in records)
        if names:
            attributes.extend([bool(r["attributes"][a]) for a in names] for r in records)
    return {
        "labels": np.asarray(labels, np.int32) if "label" in keys else None,
        "attributes": np.asarray(attributes, bool).reshape(-1, len(names)) if names else None,
        "attribute_names": names,
    }
