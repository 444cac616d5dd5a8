"""The report of a many-seed run: every number's mean and spread over seeds, and the links to
each seed's own report."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Sequence

import jax

from jaxgen.reports.markdown import Report, markdown_table, summary_record, write_report
from jaxgen.train.protocol import History
from jaxgen.train.replicas import mean_over_replicas, replica
from jaxgen.train.replicated import ReplicatedTask, seed_history


def replicated_report(report, config, over_seeds=None):
    """The report of a many-seed run of a family whose report is `report`: each seed's own
    report in `seedS/` (from its parameters and its history), and the mean and standard
    deviation over seeds of every number; `over_seeds(seeds, summaries) -> (numbers,
    sections)`, when given, adds what the family judges over seeds (families/__init__.py)."""

    def many_seeds(task: ReplicatedTask, params, history: History, workdir: pathlib.Path):
        summaries = []
        for r, seed in enumerate(task.seeds):
            seed_dir = pathlib.Path(workdir) / f"seed{seed}"
            seed_dir.mkdir(parents=True, exist_ok=True)
            seed_params = replica(params, r)
            seed_report = report(task.task, seed_params, seed_history(history, seed), seed_dir)
            seed_summary = summary_record(
                {"seed": seed, "step": history.step}, seed_report, seed_params
            )
            if jax.process_index() == 0:
                write_report(seed_dir, config, seed_summary, seed_report, task.ynnpack_fusions_off)
            summaries.append(seed_summary)
        combined = summarize_seeds(task.seeds, summaries)
        if over_seeds is not None:
            numbers, sections = over_seeds(task.seeds, summaries)
            combined.summary.update(numbers)
            combined.sections[1:1] = sections  # after the table over seeds
        return combined

    return many_seeds


def summarize_seeds(seeds: Sequence[int], summaries: Sequence[dict]) -> Report:
    """A report whose summary holds the mean and standard deviation over seeds of every number
    the replicas' reports gave and the per-seed summaries under `per_seed`, and whose section
    tabulates them."""
    numeric = [
        k
        for k, v in summaries[0].items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k != "seed"
    ]
    summary, rows = {}, []
    for name in numeric:
        values = [s[name] for s in summaries]
        stats = mean_over_replicas({name: values})
        summary.update(stats)
        std = stats.get(f"{name}_std", math.nan)
        rows.append([name, stats[name], std, ", ".join(f"{v:.6g}" for v in values)])
    summary["seeds"] = list(seeds)
    summary["per_seed"] = {str(s): summaries[r] for r, s in enumerate(seeds)}
    protocol = (
        f"{len(seeds)} independent replicas (seeds {', '.join(map(str, seeds))}) trained in one "
        "program by `vmap` over the replica axis; each number is the mean over seeds with the "
        "sample standard deviation (ddof=1). Every seed's own report, with its figures and "
        "protocol, is linked below."
    )
    if "report_samples" in summaries[0]:
        # FID and KID depend on the sample count: the table's must carry it, as every FID does.
        protocol += (
            f" The sample-quality numbers (FID, KID, precision, recall) of each seed come from "
            f"{summaries[0]['report_samples']} generated images against the test split, in the "
            "feature classifier's space that each seed's report names."
        )
    table = markdown_table(["metric", "mean", "std", "per seed"], rows)
    links = "\n".join(f"- seed {s}: [seed{s}/report.md](seed{s}/report.md)" for s in seeds)
    return Report(summary, [("Over seeds", protocol + "\n\n" + table), ("Seeds", links)])
