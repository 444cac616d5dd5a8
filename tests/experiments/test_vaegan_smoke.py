"""The VAE-GAN smoke preset runs end to end through the training loop and reports its numbers
and figures."""

import json
import math

from jaxgen.train.loop import train

from ..conftest import smoke_config

KEYS = (
    "fid",
    "fid_floor",
    "kid",
    "precision",
    "recall",
    "classifier_score",
    "recon_mse",
    "fid_vaegan",
    "sharpness_ratio_vaegan",
)
FIGURES = (
    "reconstructions",
    "samples",
    "samples_over_training",
    "learning_curves",
    "d_of_x",
    "fid_over_training",
)


def test_vaegan_smoke(tmp_path):
    result = train(
        smoke_config("vaegan", progress="false", **{"objective.equilibrium": "true"}), tmp_path
    )
    for key in KEYS:
        assert math.isfinite(result[key]), key
    assert result["fid_vaegan"] == result["fid"]
    assert result["sharpness_ratio_vaegan"] > 0 and 0 <= result["recon_mse"] <= 1
    assert result["num_fake"] == 200
    report = (tmp_path / "report.md").read_text()
    for figure in FIGURES:
        assert (tmp_path / f"{figure}.png").exists(), figure
        assert f"]({figure}.png)" in report, figure
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if r["split"] == "train"]
    for name in ("loss", "llike", "prior_nats", "discriminator_loss", "d_real", "d_fake"):
        assert all(math.isfinite(r[name]) for r in train_records), name
    assert all(r["discriminator_updated"] in (0.0, 1.0) for r in train_records)
    evals = {r["step"]: r["fid"] for r in records if r["split"] == "validation"}
    assert result["best_checkpoint_step"] == min(evals, key=evals.get)


def test_vaegan_resumes_exactly_with_the_equilibrium_rule(tmp_path):
    # The rule skips discriminator updates: the kept parameters, Adam moments and weight
    # averages are all in the checkpointed state.
    overrides = {"objective.equilibrium": "true", "progress": "false", "steps": "20"}
    straight = train(smoke_config("vaegan", **overrides), tmp_path / "straight")
    train(smoke_config("vaegan", **{**overrides, "steps": "10"}), tmp_path / "resumed")
    resumed = train(smoke_config("vaegan", **overrides), tmp_path / "resumed")
    assert resumed["params_fingerprint"] == straight["params_fingerprint"]
    assert resumed["fid"] == straight["fid"]
