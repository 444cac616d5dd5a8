"""The latent-code experiments (experiments/latent_sampling.py, experiments/clustering.py): both
smoke presets train the AE and the VAE side by side end to end and report every number the
issue names, finite."""

from __future__ import annotations

import math

import pytest

from jaxgen.train.loop import train

from ..conftest import smoke_config

SOURCES = ("ae_prior", "ae_fitted", "vae_prior", "vae_fitted")
SAMPLING_KEYS = [
    f"{name}_{source}"
    for source in SOURCES
    for name in ("fid", "precision", "recall", "classifier_score")
] + ["interpolation_leave_rate_ae", "interpolation_leave_rate_vae", "fid_floor"]
CLUSTER_KEYS = [
    f"{name}_{features}"
    for features in ("pixels", "pca", "ae", "vae")
    for name in ("cluster_acc", "nmi", "ari")
]
TEST_KEYS = ["test_ae_bce_nats", "test_vae_bce_nats", "test_vae_neg_elbo_nats"]


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_latent_sampling_smoke(tmp_path):
    result = train(smoke_config("latent_sampling", progress="false"), tmp_path)
    for key in [*SAMPLING_KEYS, *TEST_KEYS]:
        assert math.isfinite(result[key]), key
    for model in ("ae", "vae"):
        assert 0.0 <= result[f"interpolation_leave_rate_{model}"] <= 1.0
    report = (tmp_path / "report.md").read_text()
    for figure in [f"samples_{s}" for s in SOURCES] + ["interpolations"]:
        assert (tmp_path / f"{figure}.png").exists(), figure
        assert f"]({figure}.png)" in report
    assert "decodes poorly away from its codes" in report


def test_clustering_smoke(tmp_path):
    result = train(smoke_config("clustering", progress="false"), tmp_path)
    for key in [*CLUSTER_KEYS, *TEST_KEYS]:
        assert math.isfinite(result[key]), key
    for features in ("pixels", "pca", "ae", "vae"):
        assert 0.1 <= result[f"cluster_acc_{features}"] <= 1.0
    report = (tmp_path / "report.md").read_text()
    assert "53.2%" in report and "81.8%" in report and "84.3%" in report
    assert "the DEC paper (Xie et al. 2016, Table 2)" in report


def test_published_clustering_figures_are_the_data_sets_own(tmp_path):
    from PIL import Image

    from jaxgen.families.latent_codes import report

    for name in ("digits", "mnist5k", "mnist", "mnist:3.0.1"):
        assert report.published_anchors(name) is report.MNIST_ANCHORS, name
    assert report.published_anchors("fashion_mnist") is report.FASHION_MNIST_ANCHORS
    folder = tmp_path / "shapes" / "a"
    folder.mkdir(parents=True)
    Image.new("L", (8, 8)).save(folder / "0.png")
    for name in (str(tmp_path / "shapes"), "cifar10"):
        assert report.published_anchors(name) is None, name
