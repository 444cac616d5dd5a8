"""`jaxgen train|eval|list|show|demo`: the one entry point.

  jaxgen train --config=NAME[:PRESET] --workdir=DIR [--config.KEY=VALUE ...]
  jaxgen eval --workdir=DIR
  jaxgen list                 # the experiments, what each does, its presets
  jaxgen show --config=NAME[:PRESET] [--config.KEY=VALUE ...]   # the resolved config, as JSON
  jaxgen demo --workdir=DIR [--preset=PRESET]

NAME is a shipped experiment (`vae`, see `jaxgen list`) or the path of an experiment file
(`experiments/vae.py` from a checkout's root, or your own).

argparse reads the subcommands; `--config=...` and `--config.KEY=VALUE` are read by
ml_collections.config_flags (absl flags) inside `jaxgen.config.load_config`, the same function
Python callers use. Bad input, a workdir that cannot be written and a full disk end with one
line on stderr and exit status 2; SIGINT (Ctrl-C) and SIGTERM (a pre-emption) stop training after
the step in flight, once its checkpoint is committed, with one line and exit status 130 or 143.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

from jaxgen.errors import Interrupted, UserError

EXIT_USER_ERROR = 2  # bad input, a workdir that cannot be written, a full disk
# Stopped by a signal: 128 + its number, the shell's convention (Interrupted.exit_status).
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, as for every other bad input
        raise UserError(f"{message} (see `jaxgen --help`)")


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = _Parser(prog="jaxgen", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    config_help = "NAME[:PRESET] or PATH.py[:PRESET], then --config.KEY=VALUE ..."
    keys_help = "`jaxgen list` names the experiments; `jaxgen show --config=NAME` their keys."
    train = sub.add_parser("train", help="train or resume an experiment", epilog=keys_help)
    train.add_argument("--config", required=True, help=config_help)
    train.add_argument("--workdir", required=True)
    sub.add_parser("list", help="the experiments, what each does and its presets")
    show = sub.add_parser(
        "show", help="print an experiment's config (preset and overrides applied) as JSON"
    )
    show.add_argument("--config", required=True, help=config_help)
    evaluate = sub.add_parser("eval", help="re-evaluate the newest checkpoint of a workdir")
    evaluate.add_argument("--workdir", required=True)
    demo = sub.add_parser("demo", help="the embedded-data demo (denoising AE, PCA, anomaly)")
    demo.add_argument("--workdir", default="runs/demo")
    demo.add_argument("--preset", default="default")
    for arg, following in zip(argv, [*argv[1:], None], strict=True):
        if arg.startswith("--config.") and "=" not in arg:
            # `--config.steps 10` would otherwise end in argparse's "unrecognized arguments: 10".
            hint = "" if following is None or following.startswith("-") else f": {arg}={following}"
            raise UserError(f"override {arg} needs the form --config.KEY=VALUE{hint}")
    # --config.KEY=VALUE overrides are config_flags' (in load_config), not argparse options:
    # collect them first, in order.
    overrides = [a[len("--config.") :] for a in argv if a.startswith("--config.")]
    rest = [a for a in argv if not a.startswith("--config.")]
    return parser.parse_args(rest), overrides


def run(argv: list[str]) -> None:
    args, overrides = _parse(argv)
    from jaxgen.train.sharding import maybe_initialize_distributed

    maybe_initialize_distributed()
    if args.command == "train":
        from jaxgen.config import load_config
        from jaxgen.train.loop import train

        config = load_config(args.config, overrides)
        train(config, args.workdir)
        print(f"report: {pathlib.Path(args.workdir) / 'report.md'}")
    elif args.command == "eval":
        if overrides:
            raise UserError("eval takes no --config.KEY overrides; it uses the workdir's config")
        from jaxgen.train.loop import evaluate

        evaluate(args.workdir)
        print(f"report: {pathlib.Path(args.workdir) / 'report.md'}")
    elif args.command == "list":
        if overrides:
            raise UserError("list takes no --config.KEY overrides")
        list_experiments()
    elif args.command == "show":
        from jaxgen.config import load_config
        from jaxgen.train.saved_config import to_json_dict

        config = load_config(args.config, overrides)
        print(json.dumps(to_json_dict(config), indent=2, sort_keys=True))
    elif args.command == "demo":
        if overrides:
            raise UserError("demo takes no --config.KEY overrides; use --preset")
        demo(pathlib.Path(args.workdir), args.preset)


def list_experiments() -> None:
    """One line an experiment: name, presets beyond smoke/default/full, what it does."""
    from jaxgen import catalog

    entries = catalog.experiments()
    width = max(len(e.name) for e in entries)
    print(f"{len(entries)} experiments (presets smoke, default, full unless more are named):")
    for entry in entries:
        extra = [p for p in entry.presets if p not in catalog.PRESETS]
        presets = f" [+{', '.join(extra)}]" if extra else ""
        print(f"  {entry.name:<{width}}  {entry.summary}{presets}")
    print("run one: jaxgen train --config=NAME[:PRESET] --workdir=DIR [--config.KEY=VALUE ...]")


DEMO_RUNS = (  # (sub-workdir, experiment)
    ("denoising_conv_ae", "denoising_ae"),
    ("pca_vs_ae", "pca_vs_ae"),
    ("anomaly_one_class", "anomaly"),
)


def demo(workdir: pathlib.Path, preset: str) -> None:
    """Runs the embedded-data demo: each experiment in its own sub-workdir."""
    from jaxgen.config import load_config
    from jaxgen.train.loop import train

    overrides = {"anomaly_one_class": ["normal_classes=0"]}
    for name, experiment in DEMO_RUNS:
        print(f"== {name}: jaxgen train --config={experiment}:{preset} --workdir={workdir / name}")
        config = load_config(f"{experiment}:{preset}", overrides.get(name, []))
        train(config, workdir / name)
    lines = ["# jaxgen demo", ""] + [f"- [{n}]({n}/report.md)" for n, _ in DEMO_RUNS]
    (workdir / "README.md").write_text("\n".join(lines) + "\n")
    print("demo finished; reports:")
    for name, _ in DEMO_RUNS:
        print(f"  {workdir / name / 'report.md'}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from absl import logging as absl_logging

    # Orbax and TFDS log through absl; keep stderr for our own messages.
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        run(argv)
    except UserError as err:  # a full disk too: one line that names the file and the resume
        print(f"jaxgen: error: {err}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except Interrupted as err:  # SIGINT or SIGTERM, honoured by the loop after a checkpoint
        print(f"jaxgen: {err}", file=sys.stderr)
        sys.exit(err.exit_status)
    except KeyboardInterrupt:
        print("jaxgen: interrupted; resume by running the same command again", file=sys.stderr)
        sys.exit(EXIT_SIGINT)
