"""report.md: what ran, on what data, the numbers with their protocol, and the figures."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import platform

import jax
import ml_collections


@dataclasses.dataclass
class Report:
    """What a task's final evaluation produced.

    summary: flat name -> number, written to summary.json.
    sections: (title, markdown) pairs; markdown may reference figures by file name.
    """

    summary: dict
    sections: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub-flavoured markdown table; floats printed with 4 significant digits."""

    def cell(value) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_record(head: dict, report: Report, params) -> dict:
    """summary.json's object: `head`, the report's numbers as plain JSON values, then the
    params_fingerprint of `params`."""
    from jaxgen.train.fingerprint import params_fingerprint
    from jaxgen.train.logging import to_plain

    plain = {k: to_plain(v) for k, v in report.summary.items()}
    return {**head, **plain, "params_fingerprint": params_fingerprint(params)}


def _data_sets(config) -> str:
    """`dataset`, an unpaired translation's two domains, or the images a network is run in
    reverse on (with the data set only where a classifier trained on it is one of the networks)."""
    keys = ("content_image", "style_image", "start_image")
    images = [f"{k} `{config[k]}`" for k in keys if config.get(k)]
    if images:
        uses_data = "classifier" in (config.get("network"), config.get("check_network"))
        return ", ".join(images + ([f"`{config.dataset}`"] if uses_data else []))
    if not config.get("dataset") and config.get("domain_a"):
        return f"domain A `{config.domain_a}`, domain B `{config.domain_b}`"
    return f"`{config.dataset}`"


def _cpu_kernels(ynnpack_fusions_off: tuple[str, ...]) -> list[str]:
    """The report's line on what computed a CPU run: the convolutions' kernels, jaxgen's XLA
    flags and the train step's own options (all change float rounding, so a run's numbers
    depend on them)."""
    import os

    from jaxgen.nn import conv
    from jaxgen.runtime import chosen_flags, step_compiler_options

    xla_flags = os.environ.get("XLA_FLAGS", "").split()
    ours = [f for f in chosen_flags() if f in xla_flags]
    line = f"- convolutions: {conv.backend()}; jaxgen's XLA flags: {' '.join(ours) or 'none'}"
    step_options = step_compiler_options(ynnpack_fusions_off, "cpu")
    if step_options:
        options = " ".join(f"{name}={value!r}" for name, value in step_options.items())
        line += (
            f"; the train step's own: {options} (YNNPACK's {', '.join(ynnpack_fusions_off)} off)"
        )
    return [line]


def write_report(
    workdir: pathlib.Path,
    config: ml_collections.ConfigDict,
    summary: dict,
    report: Report,
    ynnpack_fusions_off: tuple[str, ...] = (),
) -> pathlib.Path:
    """Writes workdir/report.md; `ynnpack_fusions_off` is the task's (Task.ynnpack_fusions_off)."""
    devices = jax.devices()
    seeds = f"seeds {summary['seeds']}" if "seeds" in summary else f"seed {summary['seed']}"
    lines = [
        f"# {config.experiment} ({config.preset})",
        "",
        f"- data set: {_data_sets(config)}; {seeds}; {summary['step']} steps of batch "
        f"{config.batch_size}",
        f"- devices: {len(devices)} x {devices[0].device_kind} ({jax.process_count()} process(es));"
        f" jax {jax.__version__}; python {platform.python_version()}",
        *(_cpu_kernels(ynnpack_fusions_off) if devices[0].platform == "cpu" else []),
        f"- best checkpoint by the validation metric: step {summary.get('best_checkpoint_step')}",
        f"- params_fingerprint: `{summary['params_fingerprint']}`",
        "",
    ]
    for title, body in report.sections:
        lines += [f"## {title}", "", body.strip(), ""]
    lines += [
        "## Config",
        "",
        "```json",
        json.dumps(json.loads(config.to_json()), indent=2, sort_keys=True),
        "```",
        "",
    ]
    path = workdir / "report.md"
    path.write_text("\n".join(lines))
    return path
