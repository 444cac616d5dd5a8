"""The families: one folder a family (its model, losses, task, report and config builders), and
the registry that maps a family's name (`config.task`) to its task and its report.

Every task implements the protocol of jaxgen/train/protocol.py, the only thing the training loop
calls; a report is a function `report(task, params, history, workdir) -> Report` that reads the
numbers the loop hands it and the task's public capabilities (no task imports its report).
`build(config)` builds the task that `config.task` names and its report; with `--config.seeds`,
the task is wrapped into the R-replica task of jaxgen/train/replicated.py (same protocol) and
the report into the many-seed report of jaxgen/reports/seeds.py.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Collection

import ml_collections

from jaxgen.errors import UserError
from jaxgen.train.protocol import Task


@dataclasses.dataclass(frozen=True)
class Family:
    """Where a family's pieces live, imported on use so that a run loads only its own family.

    task: "module:name" of a Task class or a function of the config that returns a task.
    report: "module:name" of its report function.
    smoke: the experiment file whose smoke preset the conformance test runs
        (tests/test_conformance.py), relative to the repository root.
    heavy: its conformance test takes over a minute on CI's 2 cores (it trains several
        models, or large ones): `make test-all` runs it, `make test` does not.
    over_seeds: "module:name" of a function (seeds, per-seed summaries) -> (numbers,
        sections) that a many-seed run's report adds (a claim judged over seeds), or None.
    choices: "module:name" of a function () -> {dotted key: the values it may take} of the
        family's keys that select among fixed values (`model.activation`, `objective.loss`),
        each set the one its dispatching code looks up; a `*` part matches every key of a block
        and enumerated.SUBCONFIG marks blocks that are whole configs of their own `task`.
        load_config refuses any other value (families/enumerated.py: check_choices). None: the
        family enumerates no key beyond the common ones (train/base_config.py).
    """

    task: str
    report: str
    smoke: str
    heavy: bool = False
    over_seeds: str | None = None
    choices: str | None = None


def _family(
    name: str, task: str, smoke: str, heavy: bool = False, choices: str | None = "own"
) -> Family:
    """The entry of the family in jaxgen/families/NAME; `choices` "own" is its config.py's
    `choices`."""
    package = f"jaxgen.families.{name}"
    if choices == "own":
        choices = f"{package}.config:choices"
    return Family(
        f"{package}.task:{task}", f"{package}.report:report", smoke, heavy, choices=choices
    )


FAMILIES: dict[str, Family] = {
    "autoencoder": _family("autoencoder", "AutoencoderTask", "experiments/autoencoder.py"),
    "compression": _family("compression", "CompressionTask", "experiments/pca_vs_ae.py"),
    "anomaly": _family(
        "anomaly",
        "AnomalyTask",
        "experiments/anomaly.py",
        choices="jaxgen.families.autoencoder.config:choices",
    ),
    "vae": _family("vae", "VAETask", "experiments/vae.py"),
    "language_model": _family("language_model", "LanguageModelTask", "experiments/char_lm.py"),
    "gan": _family("gan", "build_gan_task", "experiments/gan_ring.py"),
    "bigan": _family("bigan", "BiGANTask", "experiments/bigan.py", heavy=True),
    "classifier": _family(
        "classifier", "ClassifierTask", "experiments/feature_classifier.py", choices=None
    ),
    "image_translation": _family(
        "image_translation", "build_translation_task", "experiments/pix2pix_edges.py", heavy=True
    ),
    "completion": _family(
        "completion", "CompletionTask", "experiments/cvae_completion.py", heavy=True
    ),
    "vaegan": _family("vaegan", "VAEGANTask", "experiments/vaegan.py", heavy=True),
    "latent_codes": _family("latent_codes", "LatentCodesTask", "experiments/clustering.py"),
    "comparison": _family("comparison", "ComparisonTask", "experiments/vae_vs_gan.py", heavy=True),
    "rbm": _family("rbm", "RBMTask", "experiments/rbm.py"),
    "dbn": dataclasses.replace(
        _family("dbn", "DBNTask", "experiments/dbn.py"),
        over_seeds="jaxgen.families.dbn.report:pretraining_verdict",
    ),
    "seq2seq": _family("seq2seq", "Seq2SeqTask", "experiments/seq2seq_addition.py"),
    "reverse": _family("reverse", "build_reverse_task", "experiments/style_transfer.py"),
    "minimal": _family("minimal", "GaussianTask", "experiments/minimal.py", choices=None),
}

Report = Callable  # report(task, params, history, workdir) -> reports.markdown.Report


def _load(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def family(name: str) -> Family:
    """The registry entry of `name`; UserError for an unknown one."""
    if name not in FAMILIES:
        raise UserError(f"unknown task {name!r}; choose one of {sorted(FAMILIES)}")
    return FAMILIES[name]


def choices(name: str) -> dict[str, Collection[str]]:
    """Family `name`'s enumerated keys and the values each may take (see Family.choices)."""
    entry = family(name)
    return {} if entry.choices is None else dict(_load(entry.choices)())


def build_task(config: ml_collections.ConfigDict) -> Task:
    """The task named by `config.task`, built from the config (replicated over
    `config.seeds` when that names several seeds)."""
    return build(config)[0]


def build(config: ml_collections.ConfigDict) -> tuple[Task, Report]:
    """(task, report function) of the family `config.task` names, for this config."""
    from jaxgen.reports.seeds import replicated_report
    from jaxgen.train import replicas
    from jaxgen.train.replicated import ReplicatedTask

    entry = family(config.task)
    builder, report = _load(entry.task), _load(entry.report)
    seeds = replicas.parse_seeds(config.get("seeds", ""), config.seed)
    try:
        task = builder(config)
    except ValueError as err:  # bad model/objective names and combinations
        raise UserError(f"bad config: {err}") from None
    if not seeds:
        return task, report
    over_seeds = None if entry.over_seeds is None else _load(entry.over_seeds)
    return ReplicatedTask(task, seeds, config), replicated_report(report, config, over_seeds)
