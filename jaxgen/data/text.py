"""Text for character-level language models: corpora by name and truncated-BPTT batches.

Corpora (`load_text`):

- `"pydoc"`: the help topics that ship with CPython (`pydoc_data.topics`, ~465k characters of
  English documentation), the embedded default; nothing is downloaded.
- a path to a local UTF-8 text file (`file:PATH`, or any name that is an existing file).
- `"tiny_shakespeare"`: the TFDS data set, read offline from `$TFDS_DATA_DIR` (array_record).

For `pydoc` and local files the splits are by position: the last `test_fraction` of the
characters are the test text, and the last VALIDATION_FRACTION of the rest the validation text
(model selection), the remainder the training text. `tiny_shakespeare` keeps the TFDS splits
(its train, validation and test examples are the first 90%, the next 5% and the last 5% of the
file), so `test_fraction` does not apply to it.

Batches (`tbptt_dataset`) cut the training ids into `batch_size` contiguous streams; batch i
holds window i of every stream, so a model can carry its hidden state from one batch to the next.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib

import grain
import numpy as np

from jaxgen.data.datasets import VALIDATION_FRACTION, tfds_data_dir
from jaxgen.errors import UserError

NAMED_TEXTS = ("pydoc", "tiny_shakespeare")
# Target value of the padding after the last character in `eval_windows`: not a character.
IGNORE_TARGET = -1


@dataclasses.dataclass(frozen=True)
class TextCorpus:
    """A text with its character vocabulary and its train/test splits as int32 ids.

    vocab: the sorted unique characters of the whole text; id k is the character vocab[k].
    train_ids, validation_ids, test_ids: the three splits, encoded (read-only arrays).
    """

    name: str
    text: str
    vocab: tuple[str, ...]
    train_ids: np.ndarray
    validation_ids: np.ndarray
    test_ids: np.ndarray

    def split_ids(self, split: str) -> np.ndarray:
        """The ids of "train", "validation" or "test"."""
        return {"train": self.train_ids, "validation": self.validation_ids, "test": self.test_ids}[
            split
        ]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @functools.cached_property
    def _codepoints(self) -> np.ndarray:
        return np.array([ord(c) for c in self.vocab], dtype=np.uint32)

    def encode(self, text: str) -> np.ndarray:
        """The int32 ids of the characters of `text`; ValueError names any unknown characters."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        ids = np.searchsorted(self._codepoints, codes)
        known = ids < len(self.vocab)
        known[known] = self._codepoints[ids[known]] == codes[known]
        if not known.all():
            unknown = sorted({chr(c) for c in codes[~known]})
            raise ValueError(f"characters not in the vocabulary of {self.name!r}: {unknown!r}")
        return ids.astype(np.int32)

    def decode(self, ids) -> str:
        """The text whose character ids are `ids` (any integer array or sequence, flattened)."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.vocab)):
            raise ValueError(f"ids outside the vocabulary [0, {len(self.vocab)})")
        return self._codepoints[ids].astype("<u4").tobytes().decode("utf-32-le")


def _pydoc_text() -> str:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def _file_text(path: pathlib.Path) -> str:
    if not path.is_file():
        raise UserError(f"text file not found: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"text file {path} is not UTF-8: {err}") from None


def _tiny_shakespeare(root: pathlib.Path) -> tuple[str, str, str]:
    """(train, validation, test) texts of the TFDS set prepared in array_record under `root`."""
    import tensorflow_datasets as tfds

    how = (
        "prepare it on a machine with internet and TensorFlow with `tfds build tiny_shakespeare "
        "--file_format=array_record`, then copy its tiny_shakespeare/ directory into "
        f"{root} (or point TFDS_DATA_DIR at it)"
    )
    builder = tfds.builder("tiny_shakespeare", data_dir=str(root))
    if not builder.is_prepared():
        raise UserError(f"dataset 'tiny_shakespeare' is not prepared in {root}; {how}")
    if builder.info.file_format.value != "array_record":
        raise UserError(f"dataset 'tiny_shakespeare' in {root} is not array_record; {how}")

    def split_text(split: str) -> str:
        source = builder.as_data_source(split=split)
        return "".join(bytes(source[i]["text"]).decode("utf-8") for i in range(len(source)))

    return split_text("train"), split_text("validation"), split_text("test")


def _corpus(name: str, train: str, validation: str, test: str) -> TextCorpus:
    text = train + validation + test
    vocab = tuple(sorted(set(text)))
    empty = np.empty(0, np.int32)
    corpus = TextCorpus(name, text, vocab, empty, empty, empty)
    ids = [corpus.encode(part) for part in (train, validation, test)]
    for array in ids:
        array.setflags(write=False)
    return dataclasses.replace(corpus, train_ids=ids[0], validation_ids=ids[1], test_ids=ids[2])


@functools.lru_cache(maxsize=8)
def _load_text(name: str, test_fraction: float, root: str) -> TextCorpus:
    if name == "tiny_shakespeare":
        return _corpus(name, *_tiny_shakespeare(pathlib.Path(root)))
    if name == "pydoc":
        text = _pydoc_text()
    else:
        text = _file_text(pathlib.Path(name.removeprefix("file:")).expanduser())
    rest = len(text) - int(round(test_fraction * len(text)))
    train = rest - int(round(VALIDATION_FRACTION * rest))
    return _corpus(name, text[:train], text[train:rest], text[rest:])


def load_text(name: str, test_fraction: float = 0.1) -> TextCorpus:
    """A text corpus by name (see the module docstring), split into train, validation and test
    ids.

    The last `test_fraction` of the characters (by position) are the test split, except for
    `tiny_shakespeare`, which keeps its TFDS split. Results are cached in memory.
    """
    if not 0.0 < test_fraction < 1.0:
        raise UserError(f"test_fraction must be in (0, 1), got {test_fraction}")
    is_path = name.startswith("file:") or os.sep in name or os.path.isfile(name)
    if name not in NAMED_TEXTS and not is_path:
        raise UserError(
            f"unknown text dataset {name!r}; choices: {', '.join(NAMED_TEXTS)}, "
            "or a path to a UTF-8 text file (file:PATH)"
        )
    root = str(tfds_data_dir()) if name == "tiny_shakespeare" else ""
    return _load_text(name, float(test_fraction), root)


def _stream_layout(num_ids: int, batch_size: int, seq_len: int) -> tuple[int, int]:
    """(windows per epoch, largest epoch offset) for streams of equal length."""
    # Leave at least seq_len - 1 characters of slack so the epochs' offsets can move the
    # window boundaries to every position.
    windows = (num_ids - seq_len) // (batch_size * seq_len)
    if windows < 1:
        raise UserError(
            f"text of {num_ids} characters is too short for batch_size={batch_size} streams "
            f"of windows of seq_len={seq_len}"
        )
    return windows, num_ids - 1 - batch_size * windows * seq_len


@dataclasses.dataclass(frozen=True)
class _WindowBatch:
    """Global batch `index` -> this process's rows of (inputs, targets) windows."""

    ids: np.ndarray
    rows: np.ndarray  # global row (stream) indices that this process reads
    seq_len: int
    windows: int
    max_offset: int
    seed: int

    def offset(self, epoch: int) -> int:
        rng = np.random.default_rng([self.seed, epoch])
        return int(rng.integers(0, self.max_offset + 1))

    def __call__(self, index: int, _) -> dict[str, np.ndarray]:
        epoch, window = divmod(index, self.windows)
        stream_len = self.windows * self.seq_len
        starts = self.offset(epoch) + self.rows * stream_len + window * self.seq_len
        positions = starts[:, None] + np.arange(self.seq_len + 1)
        chunk = self.ids[positions].astype(np.int32)
        return {"inputs": chunk[:, :-1], "targets": chunk[:, 1:]}


def windows_per_epoch(num_ids: int, batch_size: int, seq_len: int) -> int:
    """How many batches `tbptt_dataset` gives before its streams start again (one epoch)."""
    return _stream_layout(num_ids, batch_size, seq_len)[0]


def tbptt_dataset(
    ids: np.ndarray,
    batch_size: int,
    seq_len: int,
    seed: int,
    process_index: int = 0,
    process_count: int = 1,
) -> grain.MapDataset:
    """Endless truncated-BPTT batches: element i is training batch i, this process's rows.

    Each element is {"inputs", "targets"}: int32 (batch_size / process_count, seq_len), targets
    being the inputs shifted one character on. The ids are cut into `batch_size` contiguous
    streams of equal length (the remainder dropped); batch i holds window i of every stream, so
    row b of batch i + 1 continues row b of batch i exactly. Every epoch (one pass over the
    windows) shifts all stream starts by an offset drawn from (seed, epoch), so epochs differ
    and every batch is a pure function of (seed, i). Process p gets the p-th contiguous slice
    of rows of the global batch, as `pipeline.train_dataset` does.
    """
    if batch_size % process_count:
        raise ValueError(f"batch_size {batch_size} is not divisible by {process_count} processes")
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index {process_index} not in [0, {process_count})")
    ids = np.asarray(ids)
    windows, max_offset = _stream_layout(len(ids), batch_size, seq_len)
    local = batch_size // process_count
    rows = np.arange(process_index * local, (process_index + 1) * local)
    fn = _WindowBatch(ids, rows, seq_len, windows, max_offset, seed)
    return grain.MapDataset.range(windows).repeat(None).map_with_index(fn)


def eval_windows(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """The ids as one stream (batch 1) cut into consecutive windows, for held-out scoring.

    Returns (inputs, targets), int32 (num_windows, 1, seq_len): window k predicts characters
    k*seq_len + 1 .. (k+1)*seq_len from the ones before, so carrying the state across the
    windows in order scores each of the len(ids) - 1 characters after the first exactly once.
    The last window is padded: its padded targets are IGNORE_TARGET (-1), to be masked out.
    """
    ids = np.asarray(ids, dtype=np.int32)
    if len(ids) < 2:
        raise UserError(f"a text of {len(ids)} characters has nothing to score")
    num_windows = -(-(len(ids) - 1) // seq_len)
    inputs = np.zeros(num_windows * seq_len, np.int32)
    targets = np.full(num_windows * seq_len, IGNORE_TARGET, np.int32)
    inputs[: len(ids) - 1] = ids[:-1]
    targets[: len(ids) - 1] = ids[1:]
    return inputs.reshape(num_windows, 1, seq_len), targets.reshape(num_windows, 1, seq_len)
