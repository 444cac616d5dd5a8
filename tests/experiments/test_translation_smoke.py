"""Every translation experiment's smoke preset runs end to end and reports what the issue
names; CycleGAN resumes exactly after SIGKILL with its image pools in the state."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxgen.train.loop import train

from ..conftest import kill_after_checkpoints, run_cli, smoke_config, summary

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
        ("pix2pix_completion", PIX2PIX_KEYS + COMPLETION_KEYS, ["translations"]),
        ("pix2pix_edges", PIX2PIX_KEYS + ("accuracy", "accuracy_inputs"), ["translations"]),
        ("cyclegan_digits", CYCLE_KEYS, ["cycle_a", "cycle_b"]),
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


def test_cyclegan_resumes_exactly_after_sigkill_with_its_pools(tmp_path):
    args = [
        "--config=experiments/cyclegan_digits.py:smoke",
        "--config.steps=60",
        "--config.checkpoint_every=10",
        "--config.eval_every=60",
        "--config.log_every=10",
        "--config.progress=false",
    ]
    reference = run_cli("train", *args, f"--workdir={tmp_path / 'ref'}")
    assert reference.returncode == 0, reference.stderr
    victim = tmp_path / "victim"
    kill_after_checkpoints(["train", *args, f"--workdir={victim}"], victim, count=2)
    assert not (victim / "summary.json").exists(), "the run finished before it was killed"
    resumed = run_cli("train", *args, f"--workdir={victim}")
    assert resumed.returncode == 0, resumed.stderr
    assert summary(victim)["params_fingerprint"] == summary(tmp_path / "ref")["params_fingerprint"]


def test_the_pool_is_part_of_the_checkpointed_state(tmp_path):
    import jax

    from jaxgen.families import build_task

    config = smoke_config("cyclegan_digits", progress="false")
    task = build_task(config)
    state = task.init_state(jax.random.key(0))
    batch = jax.tree.map(np.asarray, task.train_dataset(0)[0])
    state, metrics = jax.jit(task.train_step)(state, batch, jax.random.key(1))
    assert int(state.pools["a"].count) == config.batch_size  # the first fakes were stored
    assert np.isfinite(float(metrics["generator_loss"]))


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


def test_cyclegan_trains_on_two_image_folders(tmp_path):
    _write_folder(tmp_path / "a", {"train": 8, "test": 3}, (8, 8, 3), 1)
    _write_folder(tmp_path / "b", {"train": 8, "test": 3}, (8, 8, 3), 2)
    overrides = {"domain_a": str(tmp_path / "a"), "domain_b": str(tmp_path / "b")}
    result = train(smoke_config("cyclegan_digits", progress="false", **overrides), tmp_path / "r")
    assert math.isfinite(result["cycle_l1_a"]) and "fid_a2b" not in result  # no labels
