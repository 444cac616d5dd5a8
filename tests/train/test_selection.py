"""Model selection: periodic evaluation on the validation split ranks the checkpoints; the test
split is evaluated once, for the final and the best checkpoint."""

from __future__ import annotations

import json

import pytest

from jaxgen.families import build_task
from jaxgen.train.loop import restore_params, train

from ..conftest import smoke_config


def test_best_checkpoint_by_validation_and_its_test_numbers(tmp_path):
    config = smoke_config(
        "autoencoder", progress="false", steps=30, eval_every=5, checkpoint_every=5
    )
    result = train(config, tmp_path)
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evals = {r["step"]: r["mse"] for r in records if r["split"] == "validation"}
    assert sorted(evals) == [5, 10, 15, 20, 25, 30]
    best = min(evals, key=evals.get)
    assert result["best_checkpoint_step"] == best

    task = build_task(config)
    # The periodic numbers are the validation split's, not the test split's.
    final_params = restore_params(tmp_path)
    assert evals[30] == pytest.approx(task.evaluate(final_params, "validation")["mse"], rel=1e-6)
    assert result["final_test_mse"] == pytest.approx(
        task.evaluate(final_params, "test")["mse"], rel=1e-6
    )
    assert result["final_test_mse"] == pytest.approx(result["test_mse"], rel=1e-6)
    best_params = restore_params(tmp_path, best)
    assert result["best_test_mse"] == pytest.approx(
        task.evaluate(best_params, "test")["mse"], rel=1e-6
    )
    report = (tmp_path / "report.md").read_text()
    assert "## Model selection" in report
    # The learning curve draws the validation `mse` that ranked them and stars the chosen one.
    assert (
        f"ranked by validation `mse` (lower is better); the star marks the selected "
        f"checkpoint (step {best})" in report
    )


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_each_seed_s_report_starts_from_its_own_initialisation(tmp_path):
    # The language model's report scores the initial parameters: seed r's are seed r's.
    both = train(smoke_config("char_lm", progress="false", seeds="0,1"), tmp_path / "both")
    one = train(smoke_config("char_lm", progress="false", seed=1), tmp_path / "one")
    per_seed = both["per_seed"]
    assert per_seed["0"]["initial_bpc"] != per_seed["1"]["initial_bpc"]
    assert per_seed["1"]["initial_bpc"] == pytest.approx(one["initial_bpc"], rel=1e-5)


def test_evaluations_put_the_task_s_image_snapshots_in_tensorboard(tmp_path):
    import struct

    from tensorboardX.proto import event_pb2

    train(smoke_config("autoencoder", progress="false"), tmp_path)
    images = set()
    for path in tmp_path.glob("events.out.tfevents*"):
        data, i = path.read_bytes(), 0
        while i < len(data):  # TFRecord framing: length, its CRC, the event, its CRC
            (length,) = struct.unpack("Q", data[i : i + 8])
            event = event_pb2.Event.FromString(data[i + 12 : i + 12 + length])
            i += 12 + length + 4
            for value in event.summary.value:
                if value.HasField("image"):
                    images.add((value.tag, event.step, value.image.height, value.image.width))
    # 10 validation inputs above their reconstructions: two rows of 8x8 digits, 1-px gaps.
    assert images == {("validation/reconstructions", s, 17, 89) for s in (10, 20)}


def test_eval_of_a_workdir_from_an_older_config_is_one_line(tmp_path):
    from ..conftest import run_cli

    train(smoke_config("autoencoder", progress="false", steps=4), tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["tsne_points"]  # as if written before the key existed
    (tmp_path / "config.json").write_text(json.dumps(saved))
    bad = run_cli("eval", f"--workdir={tmp_path}")
    assert bad.returncode == 2 and "older jaxgen" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
