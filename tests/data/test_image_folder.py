"""Image folders as data sets: layouts, labels, channels, the array_record cache, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from jaxgen.data import load_split
from jaxgen.data.datasets import clear_caches
from jaxgen.data.image_folder import scan
from jaxgen.errors import UserError

from ..conftest import run_cli


def _write(path, shape=(6, 5, 3), seed=0, suffix=".png"):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(pixels.squeeze()).save(path.with_suffix(suffix))
    return pixels


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXGEN_DATA_DIR", str(tmp_path / "prepared"))
    clear_caches()
    yield
    clear_caches()


def test_class_folders_give_labels_and_a_seeded_split(tmp_path):
    folder = tmp_path / "pets"
    written = {}
    for c, name in enumerate(("dog", "cat")):  # labels follow the sorted names: cat 0, dog 1
        for i in range(10):
            written[_write(folder / name / f"{i}", seed=10 * c + i).tobytes()] = 1 - c
    train, test = load_split(str(folder), "train"), load_split(str(folder), "test")
    validation = load_split(str(folder), "validation")
    assert train.image_shape == (6, 5, 3) and train.num_classes == 2
    assert (len(train), len(validation), len(test)) == (14, 2, 4)  # 20% test, 10% validation
    for split in (train, validation, test):
        assert np.bincount(split.labels_N).tolist() == [len(split) // 2] * 2
        for image, label in zip(split.images_NxHxWxC, split.labels_N, strict=True):
            assert written[image.tobytes()] == label  # PNG is lossless: the very pixels


def test_train_and_test_folders_unlabelled_grey_images(tmp_path):
    folder = tmp_path / "scans"
    for split, count in (("train", 6), ("test", 3)):
        for i in range(count):
            _write(folder / split / f"sub{i % 2}" / f"{i}", shape=(4, 4, 1), seed=i)
    layout = scan(folder)
    assert layout.image_shape == (4, 4, 1) and layout.class_names == ("sub0", "sub1")
    for i in range(3):  # loose images, no class folders: unlabelled
        _write(tmp_path / "loose" / "train" / f"{i}", shape=(4, 4, 1))
        _write(tmp_path / "loose" / "test" / f"{i}", shape=(4, 4, 1))
    test = load_split(str(tmp_path / "loose"), "test")
    assert len(test) == 3 and test.labels_N is None and test.image_shape == (4, 4, 1)


def test_grey_and_colour_mixed_become_rgb_and_jpegs_load(tmp_path):
    folder = tmp_path / "mixed"
    grey = _write(folder / "a", shape=(8, 8, 1))
    _write(folder / "b", shape=(8, 8, 3), suffix=".jpg")
    for i in range(3):
        _write(folder / f"c{i}", shape=(8, 8, 3), seed=i)
    images = np.concatenate(
        [load_split(str(folder), s).images_NxHxWxC for s in ("train", "validation", "test")]
    )
    assert images.shape == (5, 8, 8, 3)
    assert any(np.array_equal(x, np.repeat(grey, 3, axis=-1)) for x in images)


def test_the_prepared_cache_is_keyed_by_the_file_list(tmp_path):
    folder = tmp_path / "set"
    for i in range(5):
        _write(folder / f"{i}", seed=i)
    load_split(str(folder), "train")
    prepared = tmp_path / "prepared" / "image_folders"
    (first,) = prepared.iterdir()
    clear_caches()
    load_split(str(folder), "train")  # unchanged: the same entry
    assert list(prepared.iterdir()) == [first]
    _write(folder / "5", seed=5)
    clear_caches()
    splits = ("train", "validation", "test")
    assert sum(len(load_split(str(folder), s)) for s in splits) == 6
    assert len(list(prepared.iterdir())) == 2


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda f: f.mkdir(), "no PNG or JPEG images"),
        (lambda f: (_write(f / "a"), (f / "b.png").write_bytes(b"not a png")), "cannot read"),
        (lambda f: (_write(f / "a", (4, 4, 3)), _write(f / "b", (5, 4, 3))), "different sizes"),
        (lambda f: (_write(f / "x" / "a"), _write(f / "b")), "both in class folders"),
        (lambda f: (_write(f / "test" / "a"),), "no train/ folder"),
    ],
)
def test_bad_folders_are_user_errors(tmp_path, make, message):
    folder = tmp_path / "bad"
    make(folder)
    with pytest.raises(UserError, match=message):
        load_split(str(folder), "train")


def test_training_on_a_folder_and_its_bad_input_on_the_command_line(tmp_path):
    folder = tmp_path / "colour"
    for c in ("a", "b"):
        for i in range(6):
            _write(folder / c / f"{i}", shape=(8, 8, 3), seed=i + (10 if c == "a" else 0))
    env = {"JAXGEN_DATA_DIR": str(tmp_path / "prepared")}
    args = ["--config=experiments/denoising_ae.py:smoke", "--config.progress=false"]
    ok = run_cli(
        "train", *args, f"--config.dataset={folder}", f"--workdir={tmp_path / 'w'}", env=env
    )
    assert ok.returncode == 0, ok.stderr
    # progress=false: preparing the folder prints nothing (TFDS's bars and its "downloaded and
    # prepared" line included); the run's only output is where its report is.
    assert ok.stdout.strip().splitlines() == [f"report: {tmp_path / 'w' / 'report.md'}"]
    assert "prepared" not in ok.stderr and "Generating" not in ok.stderr, ok.stderr
    # A Bernoulli VAE binarizes pixels: asked for on colour images, it is refused in one line.
    bad = run_cli(
        "train",
        "--config=experiments/vae.py:smoke",
        f"--config.dataset={folder}",
        "--config.objective.likelihood=bernoulli",
        f"--workdir={tmp_path / 'v'}",
        env=env,
    )
    assert bad.returncode == 2 and "colour images" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    (folder / "a" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    bad = run_cli(
        "train", *args, f"--config.dataset={folder}", f"--workdir={tmp_path / 'x'}", env=env
    )
    assert bad.returncode == 2 and "cannot read the image" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_preparing_a_folder_says_so_in_one_line_unless_progress_is_off(tmp_path, capfd):
    from jaxgen.data.datasets import preparation_progress

    for i in range(4):
        _write(tmp_path / "quiet" / "x" / f"{i}", seed=i)
        _write(tmp_path / "shown" / "x" / f"{i}", seed=i + 10)
    from tensorflow_datasets.core.utils import tqdm_utils

    with preparation_progress(False):
        load_split(str(tmp_path / "quiet"), "train")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert tqdm_utils._active  # TFDS's process-wide switch is back as it was
    with preparation_progress(True):
        load_split(str(tmp_path / "shown"), "train")
    out, err = capfd.readouterr()
    assert out == "" and "downloaded" not in err
    assert f"prepared the image folder {tmp_path / 'shown'} once into" in err
    load_split(str(tmp_path / "shown"), "test")  # prepared already: nothing more to say
    assert capfd.readouterr() == ("", "")


def test_a_gan_on_an_unlabelled_folder_reports_what_it_can(tmp_path):
    from jaxgen.train.loop import train

    from ..conftest import smoke_config

    for split, count in (("train", 40), ("test", 10)):
        for i in range(count):
            _write(tmp_path / "faces" / split / f"{i}", shape=(8, 8, 3), seed=i)
    result = train(
        smoke_config("dcgan", progress="false", dataset=str(tmp_path / "faces")), tmp_path / "w"
    )
    assert "fid" not in result and result["best_checkpoint_step"] is None
    assert 0 <= result["d_real"] <= 1 and 0 <= result["d_fake"] <= 1
    report = (tmp_path / "w" / "report.md").read_text()
    assert "has no labels" in report and "](samples.png)" in report


def test_a_folder_of_mixed_sizes_is_cropped_and_resized_as_it_is_prepared(tmp_path):
    folder = tmp_path / "photos"
    for i, shape in enumerate([(10, 14, 3), (12, 12, 3), (20, 9, 3), (8, 8, 3), (9, 30, 3)]):
        _write(folder / f"{i}", shape=shape, seed=i)
    with pytest.raises(UserError, match="preprocess.image_size"):
        load_split(str(folder), "train")
    splits = [load_split(str(folder), s, "center", 6) for s in ("train", "validation", "test")]
    assert {s.image_shape for s in splits} == {(6, 6, 3)} and sum(map(len, splits)) == 5
