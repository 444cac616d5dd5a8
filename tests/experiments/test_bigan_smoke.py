"""The BiGAN smoke preset runs end to end through the training loop and reports every number
the issue names, finite, with its figures."""

import json
import math

from jaxgen.train.loop import train

from ..conftest import smoke_config

KEYS = (
    "final_test_fid",
    "final_test_reconstruction_fid",
    "final_test_reconstruction_l1",
    "reconstruction_fid",
    "reconstruction_l1",
    "fid_bigan",
    "bigan_label_agreement",
    "probe_accuracy_bigan",
    "probe_accuracy_pca",
    "probe_accuracy_pixels",
    "cluster_acc_bigan",
    "cluster_acc_pca",
    "cluster_acc_pixels",
    "nmi_bigan",
    "ari_bigan",
)
FIGURES = ("reconstructions", "samples", "samples_over_training", "fid_over_training", "d_of_x")


def test_bigan_smoke(tmp_path):
    result = train(smoke_config("bigan", progress="false"), tmp_path)
    for key in KEYS:
        assert math.isfinite(result[key]), key
    for key in (
        "bigan_label_agreement",
        "probe_accuracy_bigan",
        "probe_accuracy_pca",
        "cluster_acc_bigan",
        "nmi_bigan",
    ):
        assert 0 <= result[key] <= 1, key
    # Raw 8x8 pixels are linearly separable enough for any probe to beat chance by far, and
    # cluster well above chance (k-means on the digits' pixels: about 0.8).
    assert result["probe_accuracy_pixels"] > 0.8
    assert result["cluster_acc_pixels"] > 0.5 and result["cluster_k"] == 10
    assert result["report_samples"] == 200 and result["probe_test_examples"] == 359
    report = (tmp_path / "report.md").read_text()
    for figure in FIGURES:
        assert (tmp_path / f"{figure}.png").exists(), figure
        assert f"]({figure}.png)" in report, figure
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if r["split"] == "train"]
    assert train_records and all(0 <= r["d_real"] <= 1 for r in train_records)
    assert all(math.isfinite(r["encoder_generator_loss"]) for r in train_records)
    evals = {r["step"]: r["fid"] for r in records if r["split"] == "validation"}
    assert result["best_checkpoint_step"] == min(evals, key=evals.get)
