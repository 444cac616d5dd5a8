"""Every GAN experiment's smoke preset runs end to end and reports what the issue names; a GAN
run resumes exactly and keeps its best checkpoint by FID next to the newest."""

import json
import math
import re

import jax
import numpy as np
import pytest

from jaxgen.data import load_split
from jaxgen.train import replicas
from jaxgen.train.loop import restore_params, train

from ..conftest import smoke_config

TRAINING_FIGURES = ["d_of_x", "generator_gradient", "samples", "samples_over_training"]
MODE_KEYS = ("modes_covered", "high_quality_fraction", "mode_kl", "mode_overlap")
QUALITY_KEYS = (
    "fid",
    "fid_floor",
    "kid",
    "kid_std_error",
    "classifier_score",
    "precision",
    "recall",
)


def _check_report(workdir, figures):
    report = (workdir / "report.md").read_text()
    for figure in figures:
        assert (workdir / f"{figure}.png").exists(), figure
        assert f"]({figure}.png)" in report, figure
    return report


@pytest.mark.parametrize("name", ["gan_ring", "gan_grid", "gan_saturation", "wgan_gp"])
def test_mixture_experiment_smoke(tmp_path, name):
    result = train(smoke_config(name, progress="false"), tmp_path)
    assert 0 <= result["modes_covered"] <= result["num_modes"]
    assert 0 <= result["high_quality_fraction"] <= 1
    assert 0 <= result["mode_kl"] <= math.log(result["num_modes"]) + 1e-9
    assert result["report_samples"] == 200
    report = _check_report(tmp_path, TRAINING_FIGURES)
    assert "PacGAN protocol" in report
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if r["split"] == "train"]
    assert all(0 <= r["d_real"] <= 1 and 0 <= r["d_fake"] <= 1 for r in train_records)
    if name != "wgan_gp":  # the smoke presets that compare the two generator losses
        assert all("generator_grad_norm_minimax" in r for r in train_records)


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_image_experiment_smoke(tmp_path, name):
    result = train(smoke_config(name, progress="false"), tmp_path)
    for key in QUALITY_KEYS:
        assert math.isfinite(result[key]), key
    assert result["num_fake"] == 200 and result["num_real"] == 359
    # Real train images against the test split: the floor lies below an untrained generator.
    assert result["fid_floor"] < result["fid"]
    assert 0.9 < result["feature_classifier_test_accuracy"] <= 1
    assert ("label_accuracy" in result) == (name == "cgan")
    _check_report(tmp_path, [*TRAINING_FIGURES, "fid_over_training"])
    # Checkpoints: the newest two and the best by FID.
    evals = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    fids = {r["step"]: r["fid"] for r in evals if r["split"] == "validation"}
    assert result["best_checkpoint_step"] == min(fids, key=fids.get)


def test_gan_resume_is_exact_and_replicas_match_single_runs(tmp_path):
    straight = train(smoke_config("gan_ring", progress="false"), tmp_path / "a")
    train(smoke_config("gan_ring", progress="false", steps=6), tmp_path / "b")
    resumed = train(smoke_config("gan_ring", progress="false"), tmp_path / "b")
    assert resumed["params_fingerprint"] == straight["params_fingerprint"]
    # Two seeds in one program: seed 1's replica trains like a run with --config.seed=1.
    both = train(smoke_config("gan_ring", progress="false", seeds="0,1"), tmp_path / "c")
    one = train(smoke_config("gan_ring", progress="false", seed=1), tmp_path / "d")
    assert both["per_seed"]["1"]["modes_covered"] == one["modes_covered"]
    replica = replicas.replica(restore_params(tmp_path / "c"), 1)
    single = restore_params(tmp_path / "d")
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6), replica, single
    )


def _tables(report: str) -> list[list[list[str]]]:
    """Every markdown table of the report as rows of cells (the header row first)."""
    tables, current = [], []
    for line in [*report.splitlines(), ""]:
        if line.startswith("|"):
            if not line.startswith("|---"):
                current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif current:
            tables.append(current)
            current = []
    return tables


def test_every_fid_of_the_dcgan_report_names_its_sample_counts(tmp_path):
    # Two protocols, one checkpoint: the report's 200 generated images, the periodic
    # evaluation's 100 (the model-selection table); each FID says which it is.
    config = smoke_config("dcgan", progress="false")
    assert (config.report_samples, config.eval_samples) == (200, 100)
    sizes = {s: len(load_split("digits", s)) for s in ("validation", "test")}
    assert sizes == {"validation": 148, "test": 359}
    result = train(config, tmp_path / "two")
    report = (tmp_path / "two" / "report.md").read_text()
    printed = 0
    for header, *rows in _tables(report):
        for row in rows:
            if "fid" not in row[0].lower():
                continue
            for column, cell in zip(header[1:], row[1:], strict=True):
                try:
                    float(cell)
                except ValueError:
                    continue  # not a number: a protocol cell
                printed += 1
                # The count is in the column's header or in the row's protocol cell.
                where = column + " " + " ".join(row)
                assert re.search(r"\b\d+ (generated|real train)\b", where), (row, column)
                assert re.search(r"\b359 test images\b", where), (row, column)
    assert printed == 4  # the report's FID and its floor; the final and best checkpoints'
    assert "| metric | 200 generated vs 359 test images |" in report
    assert "floor: 200 real train vs 359 test images" in report
    assert "| fid | FID of 100 generated images against the 359 test images |" in report
    assert "on the validation split (FID of 100 generated images against the 148 validation" in (
        report.replace("\n", " ")
    )
    assert "not the one above (200 images)" in report
    assert result["final_test_fid"] != result["fid"]  # two protocols, two numbers
    # One protocol, one number: with 200 images in both, the same checkpoint's FID is one.
    same = train(smoke_config("dcgan", progress="false", eval_samples=200), tmp_path / "one")
    assert same["final_test_fid"] == same["fid"]
    report = (tmp_path / "one" / "report.md").read_text()
    assert "The model-selection table's FID of the final checkpoint is this number" in report
    assert "| fid | FID of 200 generated images against the 359 test images |" in report
