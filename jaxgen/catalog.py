"""The experiments that ship with jaxgen: found by name from anywhere, listed with what they do
and their presets.

An experiment is a Python file defining `get_config(preset)` (jaxgen/config.py). Those that
ship live in `jaxgen/experiments/`, inside the installed package, so `--config=vae` works from
any folder; in a checkout, `experiments/` at the repository root points at the same files, so
`--config=experiments/vae.py` works from the root as the README's commands do. Any other file is
named by its path.

Descriptions and presets are read from the files' source (the module docstring; the names
`get_config` compares `preset` with), never by running them.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import pathlib
import re

from jaxgen.errors import UserError

EXPERIMENTS_DIR = pathlib.Path(__file__).resolve().parent / "experiments"
# Every experiment has these (get_config's default branch is `default`); a file may add more.
PRESETS = ("smoke", "default", "full")


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    path: pathlib.Path
    summary: str  # the first sentence of its docstring
    presets: tuple[str, ...]


def names() -> list[str]:
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.py") if not p.stem.startswith("_"))


def resolve(spec: str) -> pathlib.Path:
    """The file of `spec`: a path to a file, else the name of a shipped experiment (`vae`,
    `vae.py`). An unknown name is a UserError with the closest names."""
    path = pathlib.Path(spec).expanduser()
    if path.is_file():
        return path
    name = path.name.removesuffix(".py")
    shipped = EXPERIMENTS_DIR / f"{name}.py"
    if path.parent == pathlib.Path(".") and shipped.is_file():
        return shipped
    if path.parent != pathlib.Path("."):
        raise UserError(f"config file not found: {spec}")
    close = difflib.get_close_matches(name, names(), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UserError(
        f"no experiment or file named {spec!r}{hint} (`jaxgen list` shows the experiments)"
    )


def describe(path: pathlib.Path) -> Experiment:
    """The experiment in `path`, from its source: docstring and presets."""
    path = pathlib.Path(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    doc = " ".join((ast.get_docstring(tree) or "").split())
    return Experiment(path.stem, path, first_sentence(doc), presets(tree, path))


# A sentence ends at a full stop before a capital, except after the citations' "et al." and
# the abbreviations the docstrings use.
_SENTENCE_END = re.compile(r'(?<!\bal)(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)\.\s+(?=[A-Z0-9`"(])')


def first_sentence(text: str, width: int = 110) -> str:
    """The first sentence of `text`, cut at a word before `width` characters (" ...")."""
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0].rstrip(".")
    if len(sentence) > width:
        sentence = sentence[: width - 4].rsplit(" ", 1)[0] + " ..."
    return sentence


def presets(tree: ast.AST, path: pathlib.Path) -> tuple[str, ...]:
    """PRESETS, then the other names compared with `preset` (`preset == "cpu"`) in the file, and
    in the experiments it builds on (`sibling_experiment(__file__, "dcgan")`: the conditional GAN
    passes its preset to the DCGAN's get_config)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "sibling_experiment":
            sibling = node.args[1] if len(node.args) > 1 else None
            if isinstance(sibling, ast.Constant) and isinstance(sibling.value, str):
                found += describe(path.with_name(f"{sibling.value}.py")).presets
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        if not any(isinstance(o, ast.Name) and o.id == "preset" for o in operands):
            continue
        for operand in operands:
            values = operand.elts if isinstance(operand, ast.Tuple | ast.List) else [operand]
            found += [v.value for v in values if isinstance(v, ast.Constant)]
    extra = [p for p in dict.fromkeys(found) if isinstance(p, str) and p not in PRESETS]
    return PRESETS + tuple(extra)


def experiments() -> list[Experiment]:
    return [describe(EXPERIMENTS_DIR / f"{name}.py") for name in names()]
