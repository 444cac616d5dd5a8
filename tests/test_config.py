import pytest

from jaxgen import config as config_lib
from jaxgen.errors import UserError

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
    config_lib.check_resumable(saved, {**saved, "steps": 20, "eval_every": 2})
    with pytest.raises(UserError, match="seed"):
        config_lib.check_resumable(saved, {**saved, "seed": 1})
    with pytest.raises(UserError, match="model"):
        config_lib.check_resumable(saved, {**saved, "model": {"code_size": 3}})
