import pytest

from jaxgen import config as config_lib
from jaxgen.errors import UserError
from jaxgen.train import saved_config

from .conftest import REPO


def test_overrides_keep_types():
    config = config_lib.load_config(
        f"{REPO}/experiments/autoencoder.py:smoke",
        ["steps=7", "learning_rate=0.5", "progress=false", "model.hidden=8,4", "dataset=mnist5k"],
    )
    assert config.steps == 7 and isinstance(config.steps, int)
    assert config.learning_rate == 0.5
    assert config.progress is False
    assert tuple(config.model.hidden) == (8, 4)
    assert config.dataset == "mnist5k"
    assert (config.experiment, config.preset) == ("autoencoder", "smoke")


@pytest.mark.parametrize(
    "spec, overrides, message",
    [
        ("experiments/autoencoder.py:nope", [], "unknown preset"),
        ("experiments/missing.py", [], "config file not found"),
        ("experiments/autoencoder.py", ["nokey=1"], "unknown config key 'nokey'"),
        ("experiments/autoencoder.py", ["model.nokey=1"], "unknown config key 'model.nokey'"),
        ("experiments/autoencoder.py", ["steps=many"], "bad value"),
        ("experiments/autoencoder.py", ["progress=maybe"], "bad value"),
    ],
)
def test_bad_configs_are_user_errors(spec, overrides, message):
    with pytest.raises(UserError, match=message):
        config_lib.load_config(f"{REPO}/{spec}", overrides)


def test_only_the_schedule_may_change_on_resume():
    saved = {"seed": 0, "steps": 10, "eval_every": 5, "model": {"code_size": 2}}
    saved_config.check_resumable(saved, {**saved, "steps": 20, "eval_every": 2})
    with pytest.raises(UserError, match="seed"):
        saved_config.check_resumable(saved, {**saved, "seed": 1})
    with pytest.raises(UserError, match="model"):
        saved_config.check_resumable(saved, {**saved, "model": {"code_size": 3}})


def test_a_refused_resume_names_the_keys_that_differ():
    saved = {"seed": 0, "steps": 10, "model": {"code_size": 32, "hidden": [8]}, "dataset": "x"}
    new = {"seed": 0, "steps": 20, "model": {"code_size": 8, "kind": "dense"}, "dataset": "x"}
    with pytest.raises(UserError) as caught:
        saved_config.check_resumable(saved, new)
    message = str(caught.value)
    assert message.startswith(
        "the workdir holds a run with a different config: model.code_size: 32 -> 8; "
        "model.hidden: [8] -> (absent); model.kind: (absent) -> 'dense' (only "
    )
    assert message.endswith(
        "may change on resume); to train this config, choose a new --workdir (or resume with "
        "the saved config's values)"
    )
    # Neither the keys that agree nor the schedule's are named; nor whole blocks.
    assert "seed" not in message and "dataset" not in message and "steps:" not in message
    assert "{" not in message and "\n" not in message


def test_a_refused_resume_stays_short_when_many_keys_differ():
    saved = {f"key{i:02d}": "x" * 100 for i in range(30)}
    new = {f"key{i:02d}": "y" * 100 for i in range(30)}
    with pytest.raises(UserError) as caught:
        saved_config.check_resumable(saved, new)
    message = str(caught.value)
    shown = saved_config.SHOWN_DIFFERENCES
    assert f"key{shown - 1:02d}: 'xxx" in message and f"key{shown:02d}" not in message
    assert f"and {30 - shown} more" in message and "\n" not in message
    assert len(message) < 800


def _load(spec, *overrides):
    return config_lib.load_config(f"{REPO}/{spec}", list(overrides))


def test_readme_override_forms():
    # A tuple from one value and from a comma list; a str key keeps its raw text.
    assert _load("experiments/autoencoder.py", "model.hidden=256").model.hidden == (256,)
    assert _load("experiments/autoencoder.py", "model.hidden=8,4").model.hidden == (8, 4)
    assert _load("experiments/autoencoder.py", "model.hidden=").model.hidden == ()
    assert _load("experiments/autoencoder.py", "seeds=3,5").seeds == "3,5"
    assert _load("experiments/autoencoder.py", "seeds=4").seeds == "4"
    config = _load("experiments/autoencoder.py", "dataset=/path/to/book.txt")
    assert config.dataset == "/path/to/book.txt"


EXPERIMENT = """
import ml_collections


def get_config(preset: str = "default"):
    return ml_collections.ConfigDict(
        dict(
            steps=10,
            cells=("lstm",),
            normal_classes=(0, 1),
            temperatures=(0.5, 1.0),
            model=dict(generator_channels=(128, 64, 32), kind="mlp"),
            note=preset,
        )
    )
"""


def _experiment(tmp_path, text=EXPERIMENT, name="toy"):
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return str(path)


def test_tuple_overrides_keep_their_item_types(tmp_path):
    path = _experiment(tmp_path)

    def load(*overrides):
        return config_lib.load_config(f"{path}:smoke", list(overrides))

    assert load().note == "smoke"  # config_flags hands the preset to get_config
    assert load("cells=gru").cells == ("gru",)  # a tuple of strings from one bare word
    assert load("cells=gru,lstm").cells == ("gru", "lstm")
    assert load("cells=gru", "cells=rnn").cells == ("gru", "rnn")  # absl's repeated form
    assert load("normal_classes=3").normal_classes == (3,)
    assert load("model.generator_channels=256,128,64").model.generator_channels == (256, 128, 64)
    temperatures = load("temperatures=1").temperatures
    assert temperatures == (1.0,) and isinstance(temperatures[0], float)
    config = load("steps=3")
    assert (config.experiment, config.preset, config.steps) == ("toy", "smoke", 3)
    with pytest.raises(UserError, match="bad value for --config.normal_classes=3,x"):
        load("normal_classes=3,x")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["steps"], "needs the form --config.KEY=VALUE"),
        (["steps=1", "nokey.deeper=1"], "unknown config key 'nokey.deeper'"),
        (["model.kind.x=1"], "unknown config key 'model.kind.x'"),
        (["stepz=1"], 'did you mean "steps"'),
        (["steps=1.5"], "bad value"),
        (["model={'kind': 'dcgan'}"], "block of keys"),
        (["experiment=other"], "unknown config key 'experiment'"),
    ],
)
def test_bad_overrides_are_one_line_user_errors(tmp_path, overrides, message):
    path = _experiment(tmp_path)
    with pytest.raises(UserError, match=message) as caught:
        config_lib.load_config(path, overrides)
    assert "\n" not in str(caught.value)


def test_a_file_without_get_config_is_a_user_error(tmp_path):
    # Right after another file: config_flags imports both under one module name.
    config_lib.load_config(_experiment(tmp_path), [])
    path = _experiment(tmp_path, "X = 1\n", name="empty")
    for overrides in ([], ["steps=1"]):
        with pytest.raises(UserError, match="defines no get_config"):
            config_lib.load_config(path, overrides)


def test_a_bug_in_an_experiment_file_keeps_its_traceback(tmp_path):
    path = _experiment(tmp_path, "def get_config(preset='default'):\n    return {}['x']\n")
    for overrides in ([], ["steps=1"]):
        with pytest.raises(KeyError):
            config_lib.load_config(path, overrides)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config=experiments/autoencoder.py:nope"], "unknown preset"),
        (["--config=experiments/autoencoder.py", "--config.steps=many"], "bad value"),
        (["--config=experiments/autoencoder.py", "--config.model.nokey=1"], "'model.nokey'"),
        (["--config=experiments/autoencoder.py", "--config.steps"], "--config.KEY=VALUE"),
        # The space form: the value would otherwise reach argparse as a stray argument.
        (["--config=experiments/autoencoder.py", "--config.steps", "10"], ": --config.steps=10"),
        # absl's boolean parser gives its reason as a raw tuple.
        (["--config=experiments/autoencoder.py", "--config.progress=yes"], "expected true or"),
        (["--config.steps=1"], "--config"),
    ],
)
def test_cli_config_errors_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, message):
    from jaxgen import cli

    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit) as caught:
        cli.main(["train", f"--workdir={tmp_path / 'run'}", *args])
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert err.startswith("jaxgen: error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "run").exists()
