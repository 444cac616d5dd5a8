"""Experiment configs: `experiments/NAME.py[:PRESET]` plus `--config.KEY=VALUE` overrides.

An experiment file defines `get_config(preset: str) -> ml_collections.ConfigDict`. Presets are
`smoke` (seconds, for tests), `default` (minutes on a laptop CPU) and `full` (accelerators).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import pathlib
from collections.abc import Sequence
from typing import Any

import ml_collections

from jaxgen.errors import UserError

PRESETS = ("smoke", "default", "full")

# Keys that may differ between a saved run and its resumption: they change the schedule or the
# logging, never what a step computes.
SCHEDULE_KEYS = frozenset({"steps", "eval_every", "checkpoint_every", "log_every", "progress"})

# Every experiment has these; experiment files add their own.
COMMON_DEFAULTS = {
    "seed": 0,
    "seeds": "",  # "" one run; "4" or "0,1,2,3": replicas in one program (train/replicas.py)
    "steps": 1000,
    "batch_size": 128,
    "dataset": "mnist5k",
    "eval_every": 500,
    "checkpoint_every": 500,
    "log_every": 50,
    "keep_checkpoints": 2,
    "progress": True,
    "learning_rate": 1e-3,
    "lr_schedule": "constant",
    "grad_clip_norm": 0.0,
}


def base_config(**overrides: Any) -> ml_collections.ConfigDict:
    """Returns a ConfigDict with the common keys, updated by `overrides` (which may add keys)."""
    config = ml_collections.ConfigDict(dict(COMMON_DEFAULTS))
    for key, value in overrides.items():
        config[key] = value
    return config


def smoke(config: ml_collections.ConfigDict, steps: int, batch_size: int, **overrides) -> None:
    """Turns `config` into a seconds-long test run on the 8x8 `digits` set: evaluates and
    checkpoints twice, logs every few steps."""
    half = max(steps // 2, 1)
    config.update(
        steps=steps,
        batch_size=batch_size,
        eval_every=half,
        checkpoint_every=half,
        log_every=max(half // 2, 1),
        **{"dataset": "digits", **overrides},
    )


def load_experiment_module(path: str):
    """Imports an experiment file by path; UserError if it is missing or has no get_config."""
    file = pathlib.Path(path)
    if not file.is_file():
        raise UserError(f"config file not found: {path}")
    spec = importlib.util.spec_from_file_location(f"jaxgen_experiment_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise UserError(f"config file {path} defines no get_config(preset)")
    return module


def load_config(spec: str, overrides: Sequence[str] = ()) -> ml_collections.ConfigDict:
    """Loads `path[:preset]` and applies `KEY=VALUE` overrides (KEY may be dotted).

    The experiment path and preset are recorded in the config (`experiment`, `preset`) so that a
    workdir alone says what ran.
    """
    path, _, preset = spec.partition(":")
    preset = preset or "default"
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r} in --config={spec}; choose one of {PRESETS}")
    module = load_experiment_module(path)
    config = module.get_config(preset)
    with config.unlocked():
        config.experiment = pathlib.Path(path).stem
        config.preset = preset
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"override --config.{item} needs the form --config.KEY=VALUE")
        set_key(config, key, value)
    config.lock()
    return config


def set_key(config: ml_collections.ConfigDict, dotted_key: str, text: str) -> None:
    """Sets an existing key from its command-line text, keeping the key's type."""
    *parents, leaf = dotted_key.split(".")
    node = config
    for name in parents:
        if name not in node or not isinstance(node[name], ml_collections.ConfigDict):
            raise UserError(f"unknown config key {dotted_key!r}")
        node = node[name]
    if leaf not in node:
        known = ", ".join(sorted(node.keys()))
        raise UserError(f"unknown config key {dotted_key!r}; known keys here: {known}")
    old = node[leaf]
    try:
        node[leaf] = parse_value(text, old)
    except (ValueError, TypeError, SyntaxError) as err:
        raise UserError(f"bad value for --config.{dotted_key}={text}: {err}") from None


def parse_value(text: str, like: Any) -> Any:
    """Parses command-line text into the type of `like` (the key's current value)."""
    if isinstance(like, bool):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise ValueError("expected true or false")
    if isinstance(like, int):
        return int(text)
    if isinstance(like, float):
        return float(text)
    if isinstance(like, str):
        return text
    if isinstance(like, tuple | list):
        items = [t for t in text.strip("()[] ").split(",") if t.strip()]
        element = like[0] if like else None
        parsed = [
            parse_value(t.strip(), element) if element is not None else ast.literal_eval(t)
            for t in items
        ]
        return type(like)(parsed)
    if like is None:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    raise ValueError(f"cannot set a key of type {type(like).__name__} from the command line")


def to_json_dict(config: ml_collections.ConfigDict) -> dict:
    """A plain, JSON-serialisable dict of the config (tuples become lists)."""
    return json.loads(config.to_json())


def read_json(path: pathlib.Path) -> dict:
    """Reads a saved config (or any JSON file), turning damage into a UserError."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f"cannot read {path}: {err}") from None


def check_resumable(saved: dict, new: dict) -> None:
    """Refuses to resume when anything but the schedule differs between two configs."""
    keys = (set(saved) | set(new)) - SCHEDULE_KEYS
    differing = sorted(k for k in keys if saved.get(k) != new.get(k))
    if differing:
        details = "; ".join(f"{k}: saved {saved.get(k)!r}, now {new.get(k)!r}" for k in differing)
        raise UserError(
            "the workdir holds a run with a different config (only "
            f"{', '.join(sorted(SCHEDULE_KEYS))} may change on resume): {details}"
        )
