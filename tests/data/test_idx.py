"""IDX folders (MNIST's original files) as data sets: the prepared set is the files' images and
labels in TFDS's `mnist` form, cached by the files' bytes; bad files are one-line UserErrors;
`fashion_mnist` and `mnist` by name fall back to IDX folders; training on them, and on Debian's
real Fashion-MNIST files when they are installed."""

from __future__ import annotations

import gzip
import json
import pathlib
import struct

import numpy as np
import pytest

from jaxgen.data import idx, load_split
from jaxgen.data.datasets import clear_caches
from jaxgen.errors import UserError

from ..conftest import run_cli, smoke_config

SPLITS = ("train", "validation", "test")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file written independently of jaxgen: the magic number (0x08 uint8, then the
    number of dimensions), each dimension as a big-endian int32, the bytes in C order."""
    magic = 0x0800 | array.ndim
    dims = struct.pack(f">{array.ndim}i", *array.shape)
    return struct.pack(">I", magic) + dims + array.astype(np.uint8).tobytes()


def write_idx(folder, sizes=(("train", 40), ("test", 12)), gz=(True, False), seed=0) -> dict:
    """MNIST's four files in `folder` (the train pair gzipped, the test pair not, by default):
    distinct random 28x28 images, labels 0..9 in turn. Returns split -> (images, labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for (split, count), zipped in zip(sizes, gz, strict=True):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = np.arange(count, dtype=np.uint8) % 10
        for name, array in zip(FILES[split], (images, labels), strict=True):
            data = idx_bytes(array)
            if zipped:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
        written[split] = images, labels
    return written


def by_pixels(images: np.ndarray, labels: np.ndarray) -> dict[bytes, int]:
    return {x.tobytes(): int(y) for x, y in zip(images, labels, strict=True)}


@pytest.fixture(autouse=True)
def _own_dirs(tmp_path, monkeypatch):
    # No real TFDS sets, no prepared cache, no $JAXGEN_MNIST_IDX from the caller.
    monkeypatch.setenv("JAXGEN_DATA_DIR", str(tmp_path / "prepared"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "no_tfds"))
    monkeypatch.delenv(idx.MNIST_ENV, raising=False)
    clear_caches()
    yield
    clear_caches()


def test_the_prepared_set_is_the_files_images_and_labels_in_tfds_mnist_form(tmp_path):
    from tensorflow_datasets.image_classification import mnist

    from jaxgen.data.datasets import _builder

    from ..tfds_formats import _prepare, encoded

    folder = tmp_path / "digits"
    written = write_idx(folder)
    splits = {s: load_split(str(folder), s) for s in SPLITS}
    assert [len(splits[s]) for s in SPLITS] == [30, 10, 12]  # 10% of every class held out
    assert {(s.image_shape, s.num_classes) for s in splits.values()} == {((28, 28, 1), 10)}
    found = {s: by_pixels(x.images_NxHxWxC[..., 0], x.labels_N) for s, x in splits.items()}
    assert found["test"] == by_pixels(*written["test"])  # PNG is lossless: the very pixels
    assert {**found["train"], **found["validation"]} == by_pixels(*written["train"])
    assert not found["train"].keys() & found["validation"].keys()
    assert np.bincount(splits["validation"].labels_N).tolist() == [1] * 10
    # TFDS's own mnist builder, given the same images, has the same features and writes the
    # same records in the same order (the same keys, so the same shuffle).
    parts = {
        s: [
            {"image": encoded(x[..., None]), "label": int(y)}
            for x, y in zip(*written[s], strict=True)
        ]
        for s in ("train", "test")
    }
    _prepare(mnist.MNIST, parts, tmp_path / "no_tfds")
    clear_caches()
    ours, theirs = _builder(str(folder)).info, _builder("mnist").info
    assert ours.features.to_json() == theirs.features.to_json()
    assert ours.file_format == theirs.file_format and ours.supervised_keys == theirs.supervised_keys
    for split in SPLITS:
        tfds_split = load_split("mnist", split)
        assert np.array_equal(tfds_split.images_NxHxWxC, splits[split].images_NxHxWxC)
        assert np.array_equal(tfds_split.labels_N, splits[split].labels_N)


def test_the_prepared_set_is_cached_by_the_files_bytes(tmp_path, monkeypatch):
    from jaxgen.data.builders.idx import IdxFolder

    folder = tmp_path / "digits"
    written = write_idx(folder, gz=(False, False))
    load_split(str(folder), "test")
    prepared = tmp_path / "prepared" / "idx_folders"
    (first,) = prepared.iterdir()

    def refuse(self, *args, **kwargs):
        raise AssertionError("prepared again")

    clear_caches()
    with monkeypatch.context() as patch:
        patch.setattr(IdxFolder, "download_and_prepare", refuse)
        assert len(load_split(str(folder), "test")) == 12  # unchanged: read from the cache
    # One pixel changed: the same file sizes, other bytes, a new preparation.
    images, labels = written["test"]
    images[3, 5, 7] ^= 0xFF
    (folder / FILES["test"][0]).write_bytes(idx_bytes(images))
    clear_caches()
    test = load_split(str(folder), "test")
    assert len(list(prepared.iterdir())) == 2
    assert by_pixels(test.images_NxHxWxC[..., 0], test.labels_N) == by_pixels(images, labels)


def _rewrite(folder, name, change):
    """Replaces the file NAME (gzipped or not) of `folder` by change(its IDX bytes)."""
    (path,) = [p for p in (folder / name, folder / f"{name}.gz") if p.exists()]
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    path.unlink()
    (folder / name).write_bytes(change(data))


BAD_FILES = {
    "wrong magic": (
        lambda f: _rewrite(f, FILES["train"][0], lambda d: b"\x00\x00\x08\x04" + d[4:]),
        "train-images-idx3-ubyte has the magic number 0x00000804, not 0x00000803",
    ),
    "labels as images": (
        lambda f: _rewrite(f, FILES["test"][1], lambda d: b"\x00\x00\x08\x03" + d[4:]),
        "t10k-labels-idx1-ubyte has the magic number 0x00000803, not 0x00000801",
    ),
    "fewer labels": (
        lambda f: _rewrite(f, FILES["train"][1], lambda d: idx_bytes(np.zeros(39, np.uint8))),
        "train-labels-idx1-ubyte holds 39 labels but train-images-idx3-ubyte.gz holds 40",
    ),
    "truncated images": (
        lambda f: _rewrite(f, FILES["test"][0], lambda d: d[:-100]),
        "t10k-images-idx3-ubyte is truncated: its header says 12x28x28 .9408 bytes",
    ),
    "truncated gzip": (
        lambda f: (f / f"{FILES['train'][0]}.gz").write_bytes(
            (f / f"{FILES['train'][0]}.gz").read_bytes()[:-500]
        ),
        "cannot read the IDX file .*train-images-idx3-ubyte.gz",
    ),
    "short header": (
        lambda f: (f / FILES["test"][1]).write_bytes(b"\x00\x00\x08"),
        "t10k-labels-idx1-ubyte is truncated: 3 bytes",
    ),
    "other image size": (
        lambda f: _rewrite(
            f, FILES["test"][0], lambda d: idx_bytes(np.zeros((12, 27, 27), np.uint8))
        ),
        "t10k-images-idx3-ubyte holds 27x27 images, the train images are 28x28",
    ),
    "a file missing": (
        lambda f: (f / FILES["test"][1]).unlink(),
        "has no t10k-labels-idx1-ubyte .nor t10k-labels-idx1-ubyte.gz.",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_are_one_line_user_errors_naming_the_file(tmp_path, case):
    make, message = BAD_FILES[case]
    folder = tmp_path / "bad"
    write_idx(folder)
    make(folder)
    with pytest.raises(UserError, match=message) as err:
        load_split(str(folder), "train")
    assert "\n" not in str(err.value)
    assert not list((tmp_path / "prepared").glob("idx_folders/*/*/*/dataset_info.json"))


def test_fashion_mnist_and_mnist_by_name_fall_back_to_idx_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "FASHION_MNIST_DEBIAN", tmp_path / "absent")
    with pytest.raises(UserError) as err:
        load_split("fashion_mnist", "train")
    for way in (
        "apt-get install dataset-fashion-mnist",
        "tfds build fashion_mnist --file_format=array_record",
        "copy its ~/tensorflow_datasets here",
        "--config.dataset=FOLDER of its four IDX files (train-images-idx3-ubyte[.gz]",
    ):
        assert way in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(UserError, match=f"tfds build mnist .*set {idx.MNIST_ENV}=FOLDER"):
        load_split("mnist", "train")
    # Debian's folder (a small stand-in) gives fashion_mnist, with TFDS's class names.
    written = write_idx(tmp_path / "debian", gz=(True, True))
    monkeypatch.setattr(idx, "FASHION_MNIST_DEBIAN", tmp_path / "debian")
    test = load_split("fashion_mnist", "test")
    assert test.dataset == "fashion_mnist" and test.num_classes == 10
    assert by_pixels(test.images_NxHxWxC[..., 0], test.labels_N) == by_pixels(*written["test"])
    from jaxgen.data.datasets import _builder

    assert _builder("fashion_mnist").info.features["label"].names[9] == "Ankle boot"
    # $JAXGEN_MNIST_IDX gives mnist; one that is not a folder is refused.
    monkeypatch.setenv(idx.MNIST_ENV, str(tmp_path / "debian"))
    assert len(load_split("mnist", "validation")) == 10
    clear_caches()
    monkeypatch.setenv(idx.MNIST_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match="JAXGEN_MNIST_IDX=.*nowhere is not a folder"):
        load_split("mnist", "train")


def test_training_on_an_idx_folder_and_its_bad_files_on_the_command_line(tmp_path):
    folder = tmp_path / "digits"
    write_idx(folder, sizes=(("train", 80), ("test", 20)))
    env = {"JAXGEN_DATA_DIR": str(tmp_path / "prepared")}
    args = ["--config=experiments/autoencoder.py:smoke", "--config.progress=false"]
    args += [f"--config.dataset={folder}", "--config.steps=5"]
    ok = run_cli("train", *args, f"--workdir={tmp_path / 'w'}", env=env)
    assert ok.returncode == 0, ok.stderr
    summary = json.loads((tmp_path / "w" / "summary.json").read_text())
    assert summary["step"] == 5 and np.isfinite(summary["test_mse"])
    (folder / FILES["test"][1]).write_bytes(idx_bytes(np.zeros(19, np.uint8)))
    bad = run_cli("train", *args, f"--workdir={tmp_path / 'x'}", env=env)
    assert bad.returncode == 2 and "holds 19 labels but t10k-images-idx3-ubyte" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(
    not idx.is_idx_folder(str(idx.FASHION_MNIST_DEBIAN)),
    reason=f"{idx.FASHION_MNIST_DEBIAN} absent (apt-get install dataset-fashion-mnist)",
)
def test_a_few_steps_on_debian_s_real_fashion_mnist_by_name(tmp_path):
    from jaxgen.data import config_splits
    from jaxgen.train.loop import train

    config = smoke_config("autoencoder", dataset="fashion_mnist", progress="false", steps=5)
    result = train(config, tmp_path / "w")
    assert result["dataset"] == "fashion_mnist" and np.isfinite(result["test_mse"])
    splits = config_splits(config)  # the run's own splits, from the cache
    assert [len(splits[s]) for s in SPLITS] == [54000, 6000, 10000]
    # Fashion-MNIST has 6,000 train and 1,000 test images of each of its 10 classes.
    assert np.bincount(splits["validation"].labels_N).tolist() == [600] * 10
    assert np.bincount(splits["test"].labels_N).tolist() == [1000] * 10
    assert splits["test"].image_shape == (28, 28, 1)


def test_an_idx_folder_is_a_digit_set_only_when_it_holds_mnist_itself(tmp_path, monkeypatch):
    import hashlib

    import tensorflow_datasets

    from jaxgen.data.datasets import is_digit_set

    # The constants are MNIST's published files as TFDS lists them (url, size, sha256, name).
    listed = pathlib.Path(tensorflow_datasets.__file__).parent / "url_checksums" / "mnist.txt"
    published = {}
    for line in listed.read_text().splitlines():
        _, _, sha256, name = line.split("\t")
        published[name] = sha256
    assert {f"{idx.IDX_FILES[key]}.gz": h for key, h in idx.MNIST_SHA256.items()} == published

    folder = tmp_path / "ten_classes"
    write_idx(folder)  # labels 0..9 like MNIST's, but not MNIST's files
    assert not is_digit_set(str(folder))
    layout = idx.scan(folder)
    own = {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in layout.files.items()}
    monkeypatch.setattr(idx, "MNIST_SHA256", own)  # as if these were MNIST's files
    assert is_digit_set(str(folder))
    (folder / f"{FILES['test'][1]}").write_bytes(idx_bytes(np.ones(12, np.uint8)))
    assert not is_digit_set(str(folder))  # one file differs
    monkeypatch.setenv(idx.MNIST_ENV, str(folder))  # declared MNIST by the user
    assert is_digit_set(str(folder))


def test_digit_sets_by_name_and_not_by_their_labels(tmp_path):
    from PIL import Image

    from jaxgen.data.datasets import is_digit_set

    for name in ("digits", "mnist5k", "mnist", "mnist:3.0.1", "emnist/digits", "emnist/mnist"):
        assert is_digit_set(name), name
    for name in ("fashion_mnist", "kmnist", "emnist/letters", "emnist", "cifar10", "svhn"):
        assert not is_digit_set(name), name
    for i in range(3):  # a folder of digit-named class folders is still just images
        (tmp_path / "folder" / str(i)).mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "folder" / str(i) / "a.png")
    assert not is_digit_set(str(tmp_path / "folder"))
    if idx.is_idx_folder(str(idx.FASHION_MNIST_DEBIAN)):  # Fashion-MNIST's real files by path
        assert not is_digit_set(str(idx.FASHION_MNIST_DEBIAN))
