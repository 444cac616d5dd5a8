"""The vae_vs_gan comparison: its smoke preset reports every number and figure the issue names;
a member of a comparison trains exactly as its own experiment does alone; a comparison (and so
each member's state: the VAE-GAN's three players, the VAE's optimizer) resumes exactly."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from jaxgen.errors import UserError
from jaxgen.families.comparison.config import SHARED_KEYS, comparison_config, member_config
from jaxgen.train import replicas
from jaxgen.train.loop import restore_params, train

from ..conftest import smoke_config

MEMBERS = ("vae", "vaegan", "dcgan", "bigan")
PER_MEMBER = ("fid", "kid", "precision", "recall", "classifier_score", "sharpness_ratio")
FIGURES = [f"samples_{m}" for m in MEMBERS] + [
    "samples_side_by_side",
    "reconstructions",
    "fid_over_training",
]


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_vae_vs_gan_smoke_reports_every_member(tmp_path):
    result = train(smoke_config("vae_vs_gan", progress="false"), tmp_path)
    for member in MEMBERS:
        for key in PER_MEMBER:
            assert math.isfinite(result[f"{key}_{member}"]), (key, member)
        assert result[f"sharpness_ratio_{member}"] > 0
    # An encoder gives a reconstruction error; only the VAE has a likelihood.
    assert {m for m in MEMBERS if f"recon_mse_{m}" in result} == {"vae", "vaegan", "bigan"}
    assert [m for m in MEMBERS if f"nll_nats_{m}" in result] == ["vae"]
    assert result["nll_nats_vae"] > 0
    assert result["fid_floor"] < min(result[f"fid_{m}"] for m in MEMBERS)
    assert result["report_samples"] == 200
    report = (tmp_path / "report.md").read_text()
    for figure in FIGURES:
        assert (tmp_path / f"{figure}.png").exists(), figure
        assert f"]({figure}.png)" in report, figure
    # One table, its rows in the configured order, and a verdict on every claim.
    rows = [line.split("|")[1].strip() for line in report.splitlines() if line.startswith("| ")]
    assert rows[1 : 1 + len(MEMBERS)] == list(MEMBERS)
    claims = report.split("## The claims")[1].split("##")[0]
    assert claims.count("supported") >= 4
    # The periodic evaluation follows every member's FID (the VAE's computed by the comparison).
    for member in MEMBERS:
        assert math.isfinite(result[f"final_test_{member}/fid"]), member


def _pair_config(**overrides):
    """A two-member comparison (a VAE and a VAE-GAN, the smoke recipes) on digits."""
    members = {
        "vae": smoke_config("conv_vae", progress="false"),
        "vaegan": smoke_config("vaegan", progress="false"),
    }
    # A constant rate: a cosine schedule follows `steps`, which the resume test changes.
    members["vae"].lr_schedule = "constant"
    config = comparison_config(
        members,
        dataset="digits",
        steps=6,
        batch_size=16,
        eval_every=3,
        checkpoint_every=3,
        log_every=3,
        report_samples=100,
        eval_samples=100,
        progress=False,
    )
    config.update(experiment="pair", preset="smoke", **overrides)
    return config


def test_a_member_trains_exactly_as_its_own_run_and_a_comparison_resumes_exactly(tmp_path):
    config = _pair_config()
    straight = train(config, tmp_path / "pair")
    together = restore_params(tmp_path / "pair")
    for name in ("vae", "vaegan"):
        solo_config = member_config(config, name)
        # What the member takes from the comparison: the shared keys, not its recipe's.
        assert solo_config.steps == 6 and solo_config.batch_size == 16
        assert not SHARED_KEYS & set(config.members[name].keys())
        solo_config.update(experiment=name, preset="smoke")
        train(solo_config, tmp_path / name)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
            together[name],
            restore_params(tmp_path / name),
        )
    # Stopped at step 3 and run on: every member's state (the VAE-GAN's three players, the
    # VAE's optimizer) comes back exactly.
    train(_pair_config(steps=3), tmp_path / "resumed")
    resumed = train(_pair_config(), tmp_path / "resumed")
    assert resumed["params_fingerprint"] == straight["params_fingerprint"]
    assert resumed["fid_vaegan"] == straight["fid_vaegan"]


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_many_seeds_replicate_the_whole_comparison(tmp_path):
    # Seed 1's replica of the comparison is the comparison run with seed 1.
    both = train(_pair_config(seeds="0,1"), tmp_path / "both")
    one = train(_pair_config(seed=1), tmp_path / "one")
    assert both["per_seed"]["1"]["fid_vaegan"] == pytest.approx(one["fid_vaegan"], rel=1e-3)
    replica = replicas.replica(restore_params(tmp_path / "both"), 1)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6),
        replica,
        restore_params(tmp_path / "one"),
    )


def test_a_comparison_refuses_bad_configs_before_training(tmp_path):
    members = {"ae": smoke_config("autoencoder"), "vae": smoke_config("conv_vae")}
    config = comparison_config(members, dataset="digits", progress=False)
    config.update(experiment="bad", preset="smoke")
    with pytest.raises(UserError, match="draws no images"):
        train(config, tmp_path / "a")
    with pytest.raises(UserError, match="unknown claims"):  # before any step is trained
        train(_pair_config(claims="vae_vs_pca"), tmp_path / "c")
    assert not (tmp_path / "c" / "checkpoints").exists()
