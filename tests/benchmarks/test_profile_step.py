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


def test_operation_kinds_reads_instructions_of_tuple_shape():
    """A custom call of several results (the LSTM's) has a tuple shape, with spaces in it."""
    profile = load_benchmark("profile_step")
    hlo = "\n".join(
        [
            "  %ffi_call.15 = (f32[8,4]{1,0}, f32[4]{0}) custom-call(%a, %b), "
            'custom_call_target="jaxgen_onednn_lstm_bwd"',
            "  %fusion.3 = f32[2,3]{1,0} fusion(%x), kind=kLoop, calls=%f",
            "  %ynn_fusion = f32[4]{0} fusion(%y), kind=kCustom, "
            'backend_config={"fusion_config":{"kind":"__ynn_fusion"}}',
            "  ROOT %tuple.1 = (f32[8,4]{1,0}, f32[2,3]{1,0}) tuple(%ffi_call.15, %fusion.3)",
        ]
    )
    assert profile.operation_kinds(hlo) == {
        "ffi_call.15": "custom-call:jaxgen_onednn_lstm_bwd",
        "fusion.3": "fusion:kLoop",
        "ynn_fusion": "ynn_fusion",
        "tuple.1": "tuple",
    }
