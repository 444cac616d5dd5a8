"""The config a workdir holds (`config.json`): written as JSON, read back, and compared with a
new config when a run resumes."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import ml_collections

from jaxgen.errors import UserError

# Keys that may differ between a saved run and its resumption: they change the schedule, the
# logging or how the input pipeline reads ahead, never what a step computes.
SCHEDULE_KEYS = frozenset(
    {
        "steps",
        "eval_every",
        "checkpoint_every",
        "log_every",
        "progress",
        "prefetch_batches",
        "data_workers",
        "data_in_memory_mb",
    }
)


def to_json_dict(config: ml_collections.ConfigDict) -> dict:
    """A plain, JSON-serialisable dict of the config (tuples become lists)."""
    return json.loads(config.to_json())


def read_json(path: pathlib.Path) -> dict:
    """Reads a saved config (or any JSON file), turning damage into a UserError."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f"cannot read {path}: {err}") from None


# A refused resume names at most this many differing keys, each value cut to VALUE_CHARS.
SHOWN_DIFFERENCES = 8
VALUE_CHARS = 24


def check_resumable(saved: dict, new: dict) -> None:
    """Refuses to resume when anything but the schedule (the top-level SCHEDULE_KEYS) differs
    between two configs (nested dicts, as config.json holds them): one line naming the dotted
    keys that differ, `model.code_size: 32 -> 8` (`(absent)` for a key on one side only), at
    most SHOWN_DIFFERENCES of them, and what to do instead."""
    before, after = (
        _flatten({k: v for k, v in config.items() if k not in SCHEDULE_KEYS})
        for config in (saved, new)
    )
    differing = sorted(k for k in before.keys() | after.keys() if _get(before, k) != _get(after, k))
    if not differing:
        return
    shown = "; ".join(
        f"{k}: {_show(_get(before, k))} -> {_show(_get(after, k))}"
        for k in differing[:SHOWN_DIFFERENCES]
    )
    if len(differing) > SHOWN_DIFFERENCES:
        shown += f"; and {len(differing) - SHOWN_DIFFERENCES} more"
    raise UserError(
        f"the workdir holds a run with a different config: {shown} (only "
        f"{', '.join(sorted(SCHEDULE_KEYS))} may change on resume); to train this config, choose "
        "a new --workdir (or resume with the saved config's values)"
    )


_ABSENT = object()  # a key that one of two configs lacks


def _flatten(config: dict, prefix: str = "") -> dict[str, Any]:
    """{dotted key: value} of the leaves of a nested dict (an empty dict is a leaf)."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _get(flat: dict[str, Any], key: str) -> Any:
    return flat.get(key, _ABSENT)


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = " ".join(repr(value).split())
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 3] + "..."
