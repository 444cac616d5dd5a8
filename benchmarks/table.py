"""The benchmark table: every `table` row of the step benchmarks' JSON files in one JSON file
and one markdown table (not a benchmark itself: `make bench` runs it after them).

    python benchmarks/table.py [FOLDER]    # default runs/bench

Reads FOLDER/*.json (each a benchmark's one JSON object; `table.json` itself, and files that
are not a benchmark's object, are skipped with a note on stderr), collects every row of their
`table` lists (harness.table_row: family, experiment, what one step contains, jaxgen's steps/s,
the reference and its steps/s, the ratio, the platform and device), and writes

- FOLDER/table.json: {"rows": the rows, each with its benchmark's name and the load averages
  around it; "machine": the facts of the machine (versions, backend, device, CPU, cores) as
  the first benchmark recorded them; "benchmarks": per benchmark its load averages before and
  after, flags, backend and device, and whether it wrote rows};
- FOLDER/table.md: a markdown table, one line per row: family, what one step contains,
  jaxgen steps/s, reference, reference steps/s, ratio (jaxgen's speed over the reference's,
  the median of the per-round ratios), the 1-minute load average before and after;

and prints the markdown on stdout. The load averages are a row's own when its benchmark
measured them around it (benchmarks/family_steps.py, one family at a time), else its
benchmark's.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from collections.abc import Sequence

MACHINE_KEYS = (
    "jax",
    "jaxlib",
    "flax",
    "torch",
    "backend",
    "device",
    "device_description",
    "cpu",
    "cpu_model",
    "cpu_count",
    "cores",
    "l3_cache",
    "xla_flags",
)
OUTPUTS = ("table.json", "table.md")


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def read_records(folder: pathlib.Path) -> list[dict]:
    """The benchmark JSON objects of `folder`, by file name; others skipped (logged)."""
    records = []
    for path in sorted(folder.glob("*.json")):
        if path.name in OUTPUTS:
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            log(f"skipping {path.name}: not one JSON object ({error})")
            continue
        if not isinstance(record, dict) or "benchmark" not in record:
            log(f"skipping {path.name}: not a benchmark's JSON object")
            continue
        record.setdefault("_file", path.name)
        records.append(record)
    return records


def collect(records: Sequence[dict]) -> dict:
    """{"rows", "machine", "benchmarks"} of the benchmark records (see the module docstring)."""
    rows, benchmarks = [], {}
    for record in records:
        name = record["benchmark"]
        load = {
            "before": record.get("load_average_before"),
            "after": record.get("load_average_after"),
        }
        table = record.get("table", [])
        benchmarks[name] = {
            "file": record.get("_file"),
            "load_average_before": load["before"],
            "load_average_after": load["after"],
            "flags": record.get("flags"),
            "backend": record.get("backend"),
            "device": record.get("device_description", record.get("device")),
            "rows": len(table),
        }
        if "torch_missing" in record:
            benchmarks[name]["torch_missing"] = record["torch_missing"]
        for row in table:
            rows.append({"benchmark": name, **row, "load_average": row.get("load_average", load)})
    machine = {}
    if records:
        machine = {key: records[0].get(key) for key in MACHINE_KEYS if key in records[0]}
        backends = sorted({str(r.get("backend")) for r in records})
        if len(backends) > 1:
            machine["note"] = f"the benchmarks ran on different backends: {backends}"
    return {"rows": rows, "machine": machine, "benchmarks": benchmarks}


def cell(value) -> str:
    """A markdown table cell: pipes escaped, no line breaks."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def number(value) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def load_text(load: dict) -> str:
    """The 1-minute load averages before -> after."""
    before, after = load.get("before"), load.get("after")
    if not before or not after:
        return "-"
    return f"{before[0]:.2f} -> {after[0]:.2f}"


def markdown(table: dict) -> str:
    """The rows as a markdown table, under a line naming the machine."""
    m = table["machine"]
    lines = []
    if m:
        where = m.get("device_description") or m.get("cpu_model") or m.get("cpu")
        versions = ", ".join(
            f"{key} {m[key]}" for key in ("jax", "jaxlib", "flax", "torch") if m.get(key)
        )
        lines.append(f"Machine: {where}; backend {m.get('backend')}; {versions}.")
        if m.get("note"):
            lines.append(f"Note: {m['note']}.")
        lines.append("")
    header = (
        "family",
        "what one step contains",
        "jaxgen steps/s",
        "reference",
        "reference steps/s",
        "ratio",
        "load avg before -> after",
    )
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---", "---", "--:", "---", "--:", "--:", "---"]) + "|")
    for row in table["rows"]:
        experiment = row["experiment"]
        if row.get("preset") not in (None, "", "default", "-"):
            experiment += f":{row['preset']}"
        cells = (
            f"{row['family']} ({experiment})",
            row["step"],
            number(row["jaxgen_steps_per_s"]),
            f"{row['reference']} ({row['platform']})" if row.get("platform") else row["reference"],
            number(row["reference_steps_per_s"]),
            f"{row['ratio']:.2f}",
            load_text(row["load_average"]),
        )
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    lines.append("")
    lines.append(
        "ratio: jaxgen's steps/s over the reference's, the median over rounds of the per-round "
        "ratio (above 1: jaxgen is faster); steps/s are medians over rounds."
    )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", nargs="?", default="runs/bench", help="the benchmarks' JSON")
    args = parser.parse_args(argv)
    folder = pathlib.Path(args.folder)
    if not folder.is_dir():
        parser.error(f"no folder {folder}")
    table = collect(read_records(folder))
    if not table["rows"]:
        log(f"no table rows in {folder}/*.json")
    (folder / "table.json").write_text(json.dumps(table, indent=1) + "\n")
    text = markdown(table)
    (folder / "table.md").write_text(text)
    print(text, end="")
    log(f"wrote {folder / 'table.json'} and {folder / 'table.md'} ({len(table['rows'])} rows)")
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
