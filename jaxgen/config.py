"""Experiment configs: `NAME[:PRESET]` or `path/to/FILE.py[:PRESET]` plus `--config.KEY=VALUE`
overrides.

An experiment file defines `get_config(preset: str) -> ml_collections.ConfigDict`. Presets are
`smoke` (seconds, for tests), `default` (minutes on a laptop CPU) and `full` (paper scale), and
any other the file compares `preset` with (jaxgen/catalog.py reads them from its source). A bare
name is a shipped experiment (jaxgen/experiments/).

Loading the file and applying the overrides is `ml_collections.config_flags` (absl flags), as in
big_vision and the Flax examples: `load_config` runs `DEFINE_config_file` on a private
`absl.flags.FlagValues`, so `jaxgen train` and Python take the same path. The few places where
config_flags does not keep jaxgen's contract (every bad input is one `UserError` line; a key
keeps its type) are handled around it below, each with its reason.
"""

from __future__ import annotations

import ast
import pathlib
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import ml_collections
from absl import flags
from ml_collections import config_flags
from ml_collections.config_flags import config_path, tuple_parser

from jaxgen import catalog
from jaxgen.errors import UserError
from jaxgen.families.enumerated import check_choices

_FLAG = "config"  # --config=FILE[:PRESET], --config.KEY=VALUE
_MODULE = f"{_FLAG}_config"  # the module name config_flags imports the experiment file as


class _TupleParser(tuple_parser.TupleParser):
    """config_flags' tuple parser, plus bare comma lists of words.

    config_flags reads a tuple override with `ast.literal_eval`: `8,4` is (8, 4), `256` is (256,)
    and a bare word that is no literal, `gru`, falls back to ('gru',). A bare list of words,
    `--config.cells=gru,lstm`, is no literal either and falls back, silently, to the one string
    ('gru,lstm',). So such text is first quoted into the literal "('gru', 'lstm', )"; an empty
    value is (). Being a TupleParser, config_flags still takes the repeated form too
    (`--config.cells=gru --config.cells=lstm`).
    """

    def parse(self, argument):
        if isinstance(argument, str):
            argument = _tuple_literal(argument)
        return super().parse(argument)


def _is_literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _tuple_literal(text: str) -> str:
    if not text.strip():
        return "()"
    if "," not in text or _is_literal(text):
        return text
    items = [item.strip() for item in text.strip().strip("()[]").split(",")]
    return "(" + "".join(f"{i if _is_literal(i) else repr(i)}, " for i in items if i) + ")"


# config_flags keeps one parser per field type for the whole process; jaxgen's configs are the
# only config_flags users in a jaxgen process.
config_flags.register_flag_parser_for_type(tuple, _TupleParser())


def load_config(spec: str, overrides: Sequence[str] = ()) -> ml_collections.ConfigDict:
    """Loads `path[:preset]` and applies `KEY=VALUE` overrides (KEY may be dotted), exactly as
    `jaxgen train --config=path[:preset] --config.KEY=VALUE ...` does.

    The experiment path and preset are recorded in the config (`experiment`, `preset`) so that a
    workdir alone says what ran. Every key that selects among fixed values holds one of them
    (jaxgen/families/enumerated.py). The config comes back locked; bad input is a UserError.
    """
    name, _, preset = spec.partition(":")
    path = str(catalog.resolve(name))  # a file, or a shipped experiment by name
    preset = preset or "default"
    # config_flags hands any text after ':' to get_config, and get_config treats a name it does
    # not know as the default preset: a typo would run the wrong experiment.
    known = catalog.describe(path).presets
    if preset not in known:
        raise UserError(f"unknown preset {preset!r} in --config={spec}; choose one of {known}")
    for item in overrides:
        # absl reads `--config.progress` as progress=true and `--config.steps` as taking the next
        # argument for its value; jaxgen's overrides are always KEY=VALUE.
        if "=" not in item:
            raise UserError(f"override --config.{item} needs the form --config.KEY=VALUE")
    flag_values, config = _parse(f"{path}:{preset}", overrides)
    if not isinstance(config, ml_collections.ConfigDict):
        deferred = getattr(config, "_error", None)  # config_flags' placeholder for an OSError
        if isinstance(deferred, OSError):
            raise deferred  # raised inside the experiment file: a bug, keep its traceback
        raise UserError(f"get_config in {path} returned {type(config).__name__}, not a ConfigDict")
    _keep_types(config, flag_values, overrides)
    with config.unlocked():
        config.experiment = pathlib.Path(path).stem
        config.preset = preset
    config.lock()
    check_choices(config)
    return config


def _parse(spec: str, overrides: Sequence[str]) -> tuple[flags.FlagValues, Any]:
    """config_flags on `--config=spec --config.KEY=VALUE ...`: the flag values and the config."""
    argv = ["jaxgen", f"--{_FLAG}={spec}", *[f"--{_FLAG}.{item}" for item in overrides]]
    flag_values = flags.FlagValues()
    holder = config_flags.DEFINE_config_file(
        _FLAG, flag_values=flag_values, sys_argv=argv, lock_config=True
    )
    # config_flags imports every file under the one module name with the deprecated
    # `load_module`, which executes a new file into the module the previous one left: a file
    # without get_config would silently get the last file's. Start from no module.
    sys.modules.pop(_MODULE, None)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "the load_module", DeprecationWarning)
            flag_values(argv)
    except flags.IllegalFlagValueError as err:
        if not flag_values[_FLAG].present:
            raise  # get_config raised TypeError or ValueError: a bug in the file
        # An override's text does not parse as its key's type.
        raise UserError(f"bad value for {_value_error(err)}") from None
    except flags.Error as err:  # a key of an unsupported type, --config.a after --config.a.b
        message = _one_line(err).partition(" Currently supported types")[0]
        raise UserError(f"bad override: {message}") from None
    except (KeyError, AttributeError, IndexError, TypeError, ValueError) as err:
        if isinstance(err, AttributeError) and err.name == "get_config":
            if getattr(err.obj, "__name__", None) == _MODULE:
                raise UserError(
                    f"config file {spec.partition(':')[0]} defines no get_config(preset)"
                ) from None
        if not overrides:
            raise
        if flag_values[_FLAG].present:
            # Every key was found and parsed; setting it failed (an item: --config.channels[0]=8).
            raise UserError(f"cannot apply the overrides: {_one_line(err)}") from None
        # config_flags lets the bare lookup error of an unknown key out of its key-path walk,
        # without saying which override it was: look the keys up in the file's config.
        unknown = _unknown_key(spec, overrides)
        if unknown is None:
            raise  # not an override: raised by the experiment file, a bug
        raise unknown from None
    return flag_values, holder.value


def _unknown_key(spec: str, overrides: Sequence[str]) -> UserError | None:
    _, config = _parse(spec, ())
    for item in overrides:
        key = item.partition("=")[0]
        try:
            config_path.get_type(key, config)
        except (KeyError, AttributeError, IndexError, TypeError, ValueError) as err:
            return UserError(f"unknown config key {key!r}{_did_you_mean(err)}")
    return None


def _did_you_mean(err: BaseException) -> str:
    """ConfigDict's spelling hint from a KeyError (which may sit inside an AttributeError)."""
    while err.args and isinstance(err.args[0], BaseException):
        err = err.args[0]
    text = str(err.args[0]) if err.args else ""
    hint = text.partition("Did you mean ")[2].partition(" instead")[0]
    return f"; did you mean {hint}?" if hint else ""


def _value_error(err: flags.IllegalFlagValueError) -> str:
    """absl's "flag --config.KEY=TEXT: REASON" as "--config.KEY=TEXT: REASON" in words: its
    boolean parser gives the reason as a raw tuple ("('Non-boolean argument to boolean flag',
    'yes')")."""
    text = _one_line(err).removeprefix("flag ")
    flag, _, reason = text.partition(": ")
    if "Non-boolean argument" in reason:
        reason = "expected true or false (or 1 or 0)"
    return f"{flag}: {reason}"


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _keep_types(config, flag_values: flags.FlagValues, overrides: Sequence[str]) -> None:
    """Refuses what config_flags lets through but would change a key's type.

    - config_flags' TupleParser takes any items ("of different type than the original"):
      `--config.model.channels=32,x` would give (32, 'x') and fail deep inside the model. A tuple
      whose items share one type keeps it (ints widen to floats: `temperatures=1` is (1.0,)).
    - A dict literal for a block (`--config.model={'kind': 'conv'}`) replaces the whole block,
      dropping every key it does not name.
    """
    for key, text in dict(item.split("=", 1) for item in overrides).items():
        value = config_path.get_value(key, config)
        if isinstance(value, ml_collections.ConfigDict):
            raise UserError(
                f"--config.{key} is a block of keys; set them one by one: --config.{key}.KEY=VALUE"
            )
        flag = flag_values[f"{_FLAG}.{key}"]
        if not isinstance(flag.parser, tuple_parser.TupleParser):
            continue
        kinds = {type(item) for item in flag.default or ()}
        if len(kinds) != 1 or not kinds <= {int, float, bool, str}:
            continue
        (kind,) = kinds
        if kind is float:
            value = tuple(float(v) if type(v) is int else v for v in value)
        wrong = [v for v in value if type(v) is not kind]
        if wrong:
            raise UserError(
                f"bad value for --config.{key}={text}: expected {kind.__name__} items, "
                f"got {wrong[0]!r}"
            )
        config_path.set_value(key, config, value)
