"""`jaxgen train|eval|demo`: the one entry point.

  jaxgen train --config=experiments/NAME.py[:PRESET] --workdir=DIR [--config.KEY=VALUE ...]
  jaxgen eval --workdir=DIR
  jaxgen demo --workdir=DIR [--preset=PRESET]

argparse reads the subcommands; `--config=...` and `--config.KEY=VALUE` are read by
ml_collections.config_flags (absl flags) inside `jaxgen.config.load_config`, the same function
Python callers use. Bad input, a workdir that cannot be written and a full disk end with one
line on stderr and exit status 2; SIGINT (Ctrl-C) and SIGTERM (a pre-emption) stop training after
the step in flight, once its checkpoint is committed, with one line and exit status 130 or 143.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

from jaxgen.errors import Interrupted, UserError

EXIT_USER_ERROR = 2  # bad input, a workdir that cannot be written, a full disk
# Stopped by a signal: 128 + its number, the shell's convention (Interrupted.exit_status).
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, as for every other bad input
        raise UserError(f"{message} (see `jaxgen --help`)")


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = _Parser(prog="jaxgen", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train or resume an experiment")
    train.add_argument(
        "--config", required=True, help="experiments/NAME.py[:PRESET], then --config.KEY=VALUE ..."
    )
    train.add_argument("--workdir", required=True)
    evaluate = sub.add_parser("eval", help="re-evaluate the newest checkpoint of a workdir")
    evaluate.add_argument("--workdir", required=True)
    demo = sub.add_parser("demo", help="the embedded-data demo (denoising AE, PCA, anomaly)")
    demo.add_argument("--workdir", default="runs/demo")
    demo.add_argument("--preset", default="default")
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
    elif args.command == "demo":
        if overrides:
            raise UserError("demo takes no --config.KEY overrides; use --preset")
        demo(pathlib.Path(args.workdir), args.preset)


DEMO_RUNS = (
    ("denoising_conv_ae", "experiments/denoising_ae.py"),
    ("pca_vs_ae", "experiments/pca_vs_ae.py"),
    ("anomaly_one_class", "experiments/anomaly.py"),
)


def demo(workdir: pathlib.Path, preset: str) -> None:
    """Runs the embedded-data demo: each experiment in its own sub-workdir."""
    from jaxgen.config import load_config
    from jaxgen.train.loop import train

    overrides = {"anomaly_one_class": ["normal_classes=0"]}
    for name, path in DEMO_RUNS:
        print(f"== {name}: jaxgen train --config={path}:{preset} --workdir={workdir / name}")
        config = load_config(f"{REPO_ROOT / path}:{preset}", overrides.get(name, []))
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
