"""benchmarks/step_order.py: its `--quick` run, in-process (the JSON it prints, both programs
timed, their states equal after the same steps), and the refusals: an unknown family, and a
process without jaxgen's native library (where run_after is the identity anyway)."""

from __future__ import annotations

import json

import pytest

from jaxgen.nn import onednn
from tests.benchmarks import load_benchmark
from tests.nn.test_onednn_conv import requires_onednn


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("step_order")


@requires_onednn
def test_quick_run_times_both_orders_and_they_end_in_the_same_state(bench, capsys):
    record = bench.main(["--quick", "--repeats", "1", "--warmup", "0"])
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(record))
    assert record["benchmark"] == "step_order"
    (family,) = record["families"].values()
    assert set(family["ms_per_step"]) == {"ordered", "unordered"}
    assert all(ms > 0 for ms in family["ms_per_step"].values())
    assert family["unordered_over_ordered"] > 0
    assert family["states_equal"] is True


def test_the_unordered_step_has_no_run_after(bench):
    """The identity is in force only inside the context, and the step traced there lacks the
    custom call that the ordered one has (when the library is built)."""

    def compiled_text(name):  # traces and compiles the step
        return bench.compiled_step(name)[0].fn.as_text()

    real = onednn.run_after
    with bench.run_after_as_identity():
        assert onednn.run_after is not real
        unordered = compiled_text("cgan")
    assert onednn.run_after is real
    ordered = compiled_text("cgan")
    assert "jaxgen_run_after" not in unordered
    assert ("jaxgen_run_after" in ordered) == onednn.available()


def test_unknown_family_is_refused(bench):
    with pytest.raises(SystemExit, match="unknown families"):
        bench.main(["--quick", "--families", "gan_ring"])


def test_without_the_library_it_says_why_and_stops(bench, monkeypatch):
    monkeypatch.setattr(onednn, "available", lambda: False)
    with pytest.raises(SystemExit, match="identity here"):
        bench.main(["--quick"])
