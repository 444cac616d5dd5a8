"""benchmarks/profile_step.py on a family of the step table: the operations of its compiled
step, timed under the profiler, add up to about the step's wall time."""

from __future__ import annotations

import json

from tests.benchmarks import load_benchmark


def test_profile_of_a_family_step_names_its_operations(capsys):
    profile = load_benchmark("profile_step")
    profile.main(["--quick", "--family", "autoencoder", "--steps", "20", "--top", "5"])
    record = json.loads(capsys.readouterr().out)
    assert record["family"] == "autoencoder" and "dense 784-32-784" in record["step"]
    operations = record["operations"]
    assert 0 < len(operations) <= 5
    assert all(op["ms_per_step"] >= 0 for op in operations), operations
    # Every operation of the compiled program runs each step; the runtime's events (kind
    # "other": a wait for the thread pool) need not, and on a loaded machine rank in the top 5.
    program = [op for op in operations if op["kind"] != "other"]
    assert program and all(op["calls_per_step"] >= 1 for op in program), operations
    # The dense autoencoder's step is matrix products and elementwise fusions, no convolution.
    kinds = set(record["by_kind"])
    assert any(k.startswith("fusion") or k in ("dot", "ynn_fusion") for k in kinds), kinds
    assert not any("onednn_conv" in k or k == "convolution" for k in kinds), kinds
    traced = sum(v["ms_per_step"] for v in record["by_kind"].values())
    assert 0 < traced < 3 * record["wall_ms_per_step"]
