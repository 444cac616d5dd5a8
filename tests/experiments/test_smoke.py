"""Every experiment's smoke preset runs end to end and reports the keys the issues name."""

import math

import numpy as np
import pytest

from jaxgen.train.loop import train

from ..conftest import smoke_config


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_pca_vs_ae_reports_every_key(tmp_path):
    result = train(smoke_config("pca_vs_ae", progress="false"), tmp_path)
    for k in (2, 4):
        for name in (
            "pca_test_mse",
            "linear_ae_test_mse",
            "linear_ae_train_mse",
            "pca_train_mse",
            "ae_test_mse",
            "max_principal_angle_deg",
        ):
            assert math.isfinite(result[f"{name}_k{k}"])
        assert 0 <= result[f"max_principal_angle_deg_k{k}"] <= 90
    assert (tmp_path / "compression.png").exists()
    assert "](compression.png)" in (tmp_path / "report.md").read_text()


def test_anomaly_reports_auc_per_class_and_mean(tmp_path):
    result = train(smoke_config("anomaly", progress="false"), tmp_path)
    aucs = [result[f"anomaly_auc_class{c}"] for c in (0, 1)]
    assert all(0 <= a <= 1 for a in aucs)
    assert result["anomaly_auc_mean"] == pytest.approx(np.mean(aucs))
    assert 0 <= result["pca_anomaly_auc_mean"] <= 1
    assert (tmp_path / "anomaly_scores.png").exists()


def test_anomaly_replicas_train_like_separate_single_class_runs(tmp_path):
    # The vmapped bank of per-class models: replica r equals a run with only class r.
    both = train(smoke_config("anomaly", progress="false"), tmp_path / "both")
    one = train(smoke_config("anomaly", progress="false", normal_classes="1"), tmp_path / "one")
    assert one["anomaly_auc_class1"] == pytest.approx(both["anomaly_auc_class1"], abs=1e-6)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"objective.sparsity": "l1", "objective.sparsity_weight": "0.01"},
        {
            "objective.sparsity": "kl",
            "objective.sparsity_weight": "0.1",
            "model.code_activation": "sigmoid",
        },
        {"objective.contractive_weight": "0.01", "objective.reconstruction": "l1"},
        {"model.code_size": "2", "tsne_points": "100"},
    ],
)
def test_autoencoder_variants(tmp_path, overrides):
    result = train(smoke_config("autoencoder", progress="false", **overrides), tmp_path)
    assert math.isfinite(result["test_mse"])
    if "model.code_size" in overrides:
        assert (tmp_path / "codes_2d.png").exists() and (tmp_path / "codes_tsne.png").exists()


@pytest.mark.parametrize("upsample", ["nearest", "bilinear", "bed_of_nails", "max_unpool"])
def test_denoising_conv_decoders(tmp_path, upsample):
    downsample = "maxpool" if upsample == "max_unpool" else "stride"
    result = train(
        smoke_config(
            "denoising_ae",
            progress="false",
            steps=4,
            **{
                "model.upsample": upsample,
                "model.downsample": downsample,
                "objective.corruption": "gaussian",
                "objective.noise_level": "0.3",
            },
        ),
        tmp_path,
    )
    assert result["test_corrupted_input_mse"] > 0
    assert (tmp_path / "denoising.png").exists()
