"""benchmarks/lstm_layer.py: every contender computes the scan's results, and each is timed."""

from __future__ import annotations

import json

from jaxgen.nn import onednn
from tests.benchmarks import load_benchmark


def test_lstm_layer_contenders_agree_and_are_timed(capsys):
    bench = load_benchmark("lstm_layer")
    bench.main(["--quick"])
    record = json.loads(capsys.readouterr().out)
    assert record["layer"] == {"steps": 10, "batch": 8, "inputs": 8, "hidden": 16}
    forward, train = record["cases"]["forward"], record["cases"]["train"]
    paths = {"scan"} | ({"onednn"} if onednn.available() else set())
    assert paths <= set(forward["ms_median"]) and paths <= set(train["ms_median"])
    for case in record["max_rel_diff"].values():
        assert all(diff < 1e-4 for diff in case.values()), case
    for case in (forward, train):
        assert all(ms > 0 for ms in case["ms_median"].values())
