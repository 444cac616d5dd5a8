"""The benchmark table: harness.table_row, Benchmark.emit(table=...), TorchPlatform's names, and
benchmarks/table.py on synthetic benchmark JSON (no timing: every number here is made up)."""

from __future__ import annotations

import io
import json
import pathlib

import pytest

from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def harness():
    return load_benchmark("harness")


@pytest.fixture(scope="module")
def table():
    return load_benchmark("table")


TIMES = {"jaxgen": [0.010, 0.020, 0.040], "torch": [0.040, 0.050, 0.100]}  # s per step


def row(harness, **overrides):
    fields = dict(
        family="vae",
        experiment="experiments/conv_vae.py",
        step="batch 64 of 28x28x1 | one update",
        reference="PyTorch eager, 2 threads",
    )
    return harness.table_row(TIMES, **{**fields, **overrides})


def test_table_row_medians_ratio_and_platform(harness):
    r = row(harness, overrides=["batch_size=64"])
    assert tuple(k for k in r if k in harness.ROW_KEYS) == harness.ROW_KEYS
    assert r["jaxgen_steps_per_s"] == 50.0 and r["reference_steps_per_s"] == 20.0
    assert r["ratio"] == 2.5  # per round 4, 2.5, 2.5: the median of the per-round ratios
    assert r["ratio_of_medians"] == 2.5 and r["ratio_of_best_rounds"] == 4.0
    assert r["rounds"] == 3 and r["preset"] == "default" and r["overrides"] == ["batch_size=64"]
    assert r["platform"] == "cpu" and r["device"] == r["reference_device"]
    assert "load_average" not in r
    other = row(harness, contender="jaxgen", load_average={"before": [1, 2, 3], "after": [4, 5, 6]})
    assert other["ratio"] == 1.0 and other["load_average"]["after"] == [4, 5, 6]


def test_emit_checks_and_writes_the_rows(harness):
    bench = harness.Benchmark("demo", "doc", repeats=(3, 1))
    bench.parse([])
    out = io.StringIO()
    record = bench.emit(file=out, table=[row(harness)], results={})
    assert json.loads(out.getvalue())["table"] == record["table"]
    assert record["table"][0]["family"] == "vae"
    with pytest.raises(ValueError, match="lacks"):
        bench.emit(file=io.StringIO(), table=[{"family": "vae"}])
    assert "table" not in bench.record()


def test_torch_platform_on_the_cpu_names_its_threads(harness):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA machine")
    before = torch.get_num_threads()
    try:
        platform = harness.TorchPlatform(torch, threads=1)
        assert platform.name == "PyTorch eager, 1 thread" and torch.get_num_threads() == 1
        assert platform.device.type == "cpu" and platform.facts()["threads"] == 1
        platform.sync()  # nothing to wait for
        assert harness.TorchPlatform(torch).threads == harness.cores()
    finally:
        torch.set_num_threads(before)


def write_benchmarks(harness, folder: pathlib.Path) -> None:
    base = {"jax": "0.0", "torch": "2.0", "backend": "cpu", "cpu_model": "Test CPU", "cores": 2}
    first = {
        **base,
        "benchmark": "family_steps",
        "load_average_before": [1.0, 1.0, 1.0],
        "load_average_after": [2.0, 2.0, 2.0],
        "table": [
            row(harness, load_average={"before": [0.5, 0, 0], "after": [0.75, 0, 0]}),
            row(harness, family="gan", preset="smoke"),
        ],
    }
    second = {
        **base,
        "benchmark": "rnn_cells",  # no reference: no rows
        "load_average_before": [3.0, 3.0, 3.0],
        "load_average_after": [3.5, 3.0, 3.0],
    }
    (folder / "family_steps.json").write_text(json.dumps(first))
    (folder / "rnn_cells.json").write_text(json.dumps(second))
    (folder / "broken.json").write_text('{"benchmark": ')  # a benchmark that crashed mid-way
    (folder / "other.json").write_text("[1, 2]")
    (folder / "table.json").write_text('{"rows": []}')  # the last table: not read back


def test_table_collects_rows_and_writes_json_and_markdown(harness, table, tmp_path, capsys):
    write_benchmarks(harness, tmp_path)
    result = table.main([str(tmp_path)])
    out = capsys.readouterr().out
    assert [r["family"] for r in result["rows"]] == ["vae", "gan"]
    assert [r["benchmark"] for r in result["rows"]] == ["family_steps"] * 2
    # A row's own load averages, else its benchmark's.
    assert result["rows"][0]["load_average"]["before"] == [0.5, 0, 0]
    assert result["rows"][1]["load_average"]["before"] == [1.0, 1.0, 1.0]
    assert set(result["benchmarks"]) == {"family_steps", "rnn_cells"}
    assert result["benchmarks"]["rnn_cells"]["rows"] == 0
    assert result["benchmarks"]["rnn_cells"]["load_average_after"] == [3.5, 3.0, 3.0]
    assert result["machine"]["cpu_model"] == "Test CPU"
    written = json.loads((tmp_path / "table.json").read_text())
    assert written == json.loads(json.dumps(result))
    markdown = (tmp_path / "table.md").read_text()
    assert out == markdown
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(lines) == 2 + 2  # header, rule, two rows
    assert "Machine: Test CPU; backend cpu" in markdown
    assert "batch 64 of 28x28x1 \\| one update" in lines[2]  # the pipe escaped
    assert "| 50.0 | PyTorch eager, 2 threads (cpu) | 20.0 | 2.50 | 0.50 -> 0.75 |" in lines[2]
    assert "gan (experiments/conv_vae.py:smoke)" in lines[3] and "1.00 -> 2.00" in lines[3]


def test_table_of_no_rows_says_so(table, tmp_path, capsys):
    result = table.main([str(tmp_path)])
    assert result["rows"] == [] and result["machine"] == {}
    assert "no table rows" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        table.main([str(tmp_path / "missing")])


def test_cpu_name_gives_family_model_and_widest_vector_extension(harness, tmp_path):
    # Two processors' blocks, as /proc/cpuinfo writes them: only the first is read.
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
        "model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw\n\n"
        "processor\t: 1\nmodel name\t: Other CPU\nflags\t\t: fpu\n"
    )
    assert harness.cpu_name(str(cpuinfo)) == "AMD EPYC (family 25, model 17; AVX-512)"
    cpuinfo.write_text("cpu family\t: 25\nmodel\t: 1\nmodel name\t: AMD EPYC\nflags\t: avx avx2\n")
    assert harness.cpu_name(str(cpuinfo)) == "AMD EPYC (family 25, model 1; AVX2)"
    cpuinfo.write_text("model name\t: Plain CPU\n")
    assert harness.cpu_name(str(cpuinfo)) == "Plain CPU"
    assert harness.cpu_name(str(tmp_path / "missing")) in (
        harness.platform.processor() or harness.platform.machine(),
    )
