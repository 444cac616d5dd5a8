"""Keys that select among fixed values, checked when a config is read (jaxgen/config.py:
load_config): `task`, the keys every experiment has (train/base_config.py: common_choices) and
the keys each family enumerates (the function its registry entry names: `Family.choices`)."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator
from typing import Any

import ml_collections

from jaxgen.errors import UserError


class _Subconfig:
    def __repr__(self) -> str:
        return "SUBCONFIG"


# In a family's choices (below), the value of a key whose blocks are whole configs of their own
# families (a comparison's `members.NAME`): each is checked as the family its `task` names.
SUBCONFIG = _Subconfig()


def check_choices(config: ml_collections.ConfigDict, prefix: str = "") -> None:
    """UserError, in one line, unless every key of `config` that selects among fixed values holds
    one of them: `task` (a family of jaxgen/families), the keys every experiment has
    (train/base_config.py: common_choices) and the keys its family enumerates (the function its
    registry entry names: `Family.choices`). The allowed values are the ones the code that
    dispatches on a key looks up, so that a typo is refused when the config is read, before
    anything is built or written. A tuple's items are checked one by one; `prefix` is the
    dotted path of a nested config (a comparison's members).
    """
    # The registry's choices import the families' model code: only when a config is checked.
    from jaxgen import families
    from jaxgen.train.base_config import common_choices

    choices: dict[str, Collection[str] | _Subconfig] = dict(common_choices())
    if "task" in config:
        _check_value(f"{prefix}task", config.task, families.FAMILIES)
        choices.update(families.choices(config.task))
    for pattern, allowed in choices.items():
        for key, value in matching_keys(config, pattern):
            if allowed is SUBCONFIG:
                if isinstance(value, ml_collections.ConfigDict):
                    check_choices(value, f"{prefix}{key}.")
            else:
                _check_value(f"{prefix}{key}", value, allowed)


def matching_keys(config: ml_collections.ConfigDict, pattern: str) -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of each key of `config` that `pattern` names (none when it is absent);
    a `*` part stands for every key of a block (`nonlinear_models.*.activation`)."""
    head, _, rest = pattern.partition(".")
    names = list(config.keys()) if head == "*" else [head] if head in config else []
    for name in names:
        value = config[name]
        if not rest:
            yield name, value
        elif isinstance(value, ml_collections.ConfigDict):
            for key, leaf in matching_keys(value, rest):
                yield f"{name}.{key}", leaf


def _check_value(key: str, value: Any, allowed: Collection[str]) -> None:
    """UserError unless `value` (or, for a tuple or list, each item) is one of `allowed`."""
    choose = f"one of {', '.join(c if c else repr(c) for c in allowed)}"
    if isinstance(value, tuple | list):
        for item in value:
            if not _allowed(item, allowed):
                raise UserError(
                    f"bad value for --config.{key}={tuple(value)!r}: each item must be {choose}, "
                    f"not {item!r}{_close_match(item, allowed)}"
                )
    elif not _allowed(value, allowed):
        raise UserError(
            f"bad value for --config.{key}={value!r}: choose {choose}{_close_match(value, allowed)}"
        )


def _allowed(value: Any, allowed: Collection[str]) -> bool:
    return isinstance(value, str) and value in allowed


def _close_match(value: Any, allowed: Collection[str]) -> str:
    matches = difflib.get_close_matches(str(value), [c for c in allowed if c], n=1)
    return f"; did you mean {matches[0]}?" if matches else ""
