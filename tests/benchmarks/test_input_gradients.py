"""benchmarks/input_gradients.py: every contender's input gradient is XLA's, and each is timed."""

from __future__ import annotations

import json

from jaxgen.nn import onednn
from tests.benchmarks import load_benchmark


def test_input_gradients_agree_and_are_timed(capsys):
    bench = load_benchmark("input_gradients")
    bench.main(["--quick", "--cases", "3x3_64to2_32px,3x3_64to8_32px"])
    record = json.loads(capsys.readouterr().out)
    assert set(record["cases"]) == {"3x3_64to2_32px", "3x3_64to8_32px"}
    for case in record["cases"].values():
        expected = {"xla"} | ({"onednn", "onednn_primitive"} if onednn.available() else set())
        assert expected <= set(case["ms_median"]), case["ms_median"]
        assert all(diff < 1e-4 for diff in case["max_rel_diff"].values())
        assert all(ms > 0 for ms in case["ms_median"].values())
