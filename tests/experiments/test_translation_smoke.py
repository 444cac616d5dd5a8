"""Every translation experiment's smoke preset runs end to end and reports what the issue
names; CycleGAN resumes exactly after SIGKILL with its image pools in the state."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxgen.train.loop import train

from ..conftest import kill_after_checkpoints, smoke_config

PIX2PIX_KEYS = ("l1", "psnr", "ssim", "fid", "classifier_test_accuracy")
COMPLETION_KEYS = (
    "l1_missing",
    "psnr_missing",
    "completion_accuracy",
    "completion_accuracy_masked",
)
CYCLE_KEYS = (
    "cycle_l1_a",
    "cycle_l1_b",
    "fid_a2b",
    "fid_b2a",
    "label_preservation_a2b",
    "label_preservation_b2a",
    "label_preservation_a2b_untranslated",
    "label_preservation_b2a_untranslated",
)


@pytest.mark.parametrize(
    "name, keys, figures",
    [
        pytest.param(
            "pix2pix_completion",
            PIX2PIX_KEYS + COMPLETION_KEYS,
            ["translations"],
            marks=pytest.mark.slow,  # CI's budget: pix2pix_edges runs in `make test`
        ),
        ("pix2pix_edges", PIX2PIX_KEYS + ("accuracy", "accuracy_inputs"), ["translations"]),
    ],
)
def test_translation_experiment_smoke(tmp_path, name, keys, figures):
    result = train(smoke_config(name, progress="false"), tmp_path)
    for key in keys:
        assert math.isfinite(result[key]), key
    report = (tmp_path / "report.md").read_text()
    for figure in [*figures, "learning_curve"]:
        assert (tmp_path / f"{figure}.png").exists(), figure
        assert f"]({figure}.png)" in report
    # The model-selection table says how each test number was computed, with its counts.
    assert "protocol (test split)" in report
    n = smoke_config(name).eval_examples
    assert f"mean PSNR (dB, peak 1) per image, whole image, over the first {n} of" in report


def test_cyclegan_smoke_reports_and_resumes_exactly_after_sigkill_with_its_pools(tmp_path):
    import orbax.checkpoint as ocp

    reference = train(smoke_config("cyclegan_digits", progress="false"), tmp_path / "ref")
    for key in CYCLE_KEYS:
        assert math.isfinite(reference[key]), key
    report = (tmp_path / "ref" / "report.md").read_text()
    for figure in ["cycle_a", "cycle_b", "learning_curve"]:
        assert (tmp_path / "ref" / f"{figure}.png").exists(), figure
        assert f"]({figure}.png)" in report
    assert "protocol (test split)" in report and "cycle(a)| per pixel" in report
    assert "translations of domain A's test images against the first" in report

    victim = tmp_path / "victim"
    args = ["--config=experiments/cyclegan_digits.py:smoke", "--config.progress=false"]
    kill_after_checkpoints(["train", *args, f"--workdir={victim}"], victim, count=1)
    assert not (victim / "summary.json").exists(), "the run finished before it was killed"
    # The image pools are part of the checkpointed state, already filled with fakes.
    (saved,) = (victim / "checkpoints").glob("[0-9]*")
    state = ocp.StandardCheckpointer().restore(saved / "state")
    assert int(state["pools"]["a"]["count"]) > 0 and int(state["pools"]["b"]["count"]) > 0
    resumed = train(smoke_config("cyclegan_digits", progress="false"), victim)
    assert resumed["params_fingerprint"] == reference["params_fingerprint"]


def _write_folder(root, split_sizes, shape, seed, transform=None):
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in split_sizes.items():
        (root / split).mkdir(parents=True)
        for i in range(n):
            image = rng.integers(0, 256, shape, dtype=np.uint8)
            if transform is not None:
                image = transform(image)
            Image.fromarray(image).save(root / split / f"{i}.png")


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_pix2pix_trains_on_a_folder_of_side_by_side_pairs(tmp_path):
    # The pix2pix data format: A on the left, B on the right; B is A mirrored here.
    def side_by_side(image):
        return np.concatenate([image, image[:, ::-1]], axis=1)

    folder = tmp_path / "facades"
    _write_folder(folder, {"train": 8, "val": 2, "test": 3}, (8, 8, 3), 0, side_by_side)
    overrides = {"dataset": str(folder), "paired.kind": "side_by_side", "progress": "false"}
    result = train(smoke_config("pix2pix_completion", **overrides), tmp_path / "run")
    assert result["test_examples"] == 3 and math.isfinite(result["ssim"])
    assert "accuracy" not in result  # an unlabelled folder has no classifier


@pytest.mark.slow  # CycleGAN compiled afresh for 8x8x3 (2 min on CI); folders: test_image_folder.py
def test_cyclegan_trains_on_two_image_folders(tmp_path):
    _write_folder(tmp_path / "a", {"train": 8, "test": 3}, (8, 8, 3), 1)
    _write_folder(tmp_path / "b", {"train": 8, "test": 3}, (8, 8, 3), 2)
    overrides = {"domain_a": str(tmp_path / "a"), "domain_b": str(tmp_path / "b")}
    result = train(smoke_config("cyclegan_digits", progress="false", **overrides), tmp_path / "r")
    assert math.isfinite(result["cycle_l1_a"]) and "fid_a2b" not in result  # no labels
