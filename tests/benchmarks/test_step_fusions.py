"""benchmarks/step_fusions.py: its `--quick` run, in-process (the JSON it prints, both programs
timed, the option it compared), and the refusals: an unknown family, a fusion type jaxlib does
not list, and a process where jaxgen's flag for the fusions is not in force."""

from __future__ import annotations

import json

import pytest

from jaxgen import runtime
from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("step_fusions")


def test_quick_run_times_the_step_under_both_programs(bench, capsys):
    record = bench.main(["--quick", "--repeats", "1", "--warmup", "0"])
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(record))
    assert record["benchmark"] == "step_fusions" and record["off"] == ["REDUCE"]
    assert record["compiler_options"] == {
        runtime.YNN_FUSION_OPTION: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"
    }
    (family,) = record["families"].values()
    assert set(family["ms_per_step"]) == {"flags", "off"}
    assert all(ms > 0 for ms in family["ms_per_step"].values())
    assert family["flags_over_off"] > 0


@pytest.mark.parametrize(
    "args, message",
    [(["--families", "nope"], "unknown families"), (["--off", "ELTWISE"], "ELTWISE")],
)
def test_bad_arguments_are_refused(bench, args, message):
    with pytest.raises((SystemExit, ValueError), match=message):
        bench.main(["--quick", *args])


def test_without_jaxgen_s_flag_it_says_why_and_stops(bench, monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "")  # as if the user had set XLA's flags themselves
    with pytest.raises(SystemExit, match="not in force here"):
        bench.main(["--quick"])
