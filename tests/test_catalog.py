"""Experiments by name from anywhere, `jaxgen list` and `jaxgen show`."""

from __future__ import annotations

import json

import pytest

from jaxgen import catalog, cli
from jaxgen.config import load_config
from jaxgen.errors import UserError
from jaxgen.train.saved_config import to_json_dict

from .conftest import REPO


def test_the_shipped_experiments_are_the_checkouts_and_inside_the_package():
    # `experiments/` at the root of a checkout is the package's folder, not a copy.
    assert (REPO / "experiments").resolve() == catalog.EXPERIMENTS_DIR
    assert catalog.EXPERIMENTS_DIR.is_relative_to(REPO / "jaxgen")
    assert catalog.names() == sorted(p.stem for p in (REPO / "experiments").glob("*.py"))
    for entry in catalog.experiments():
        assert entry.summary and "\n" not in entry.summary, entry.name
        assert entry.presets[:3] == ("smoke", "default", "full")


def test_an_experiment_by_name_from_any_folder_is_the_one_by_path(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    by_path = to_json_dict(load_config("experiments/vae.py:smoke", ["steps=3"]))
    monkeypatch.chdir(tmp_path)
    for spec in ("vae:smoke", "vae.py:smoke"):
        assert to_json_dict(load_config(spec, ["steps=3"])) == by_path
    with pytest.raises(UserError, match="did you mean vae"):
        load_config("vaee")
    with pytest.raises(UserError, match="config file not found: nowhere/vae.py"):
        load_config("nowhere/vae.py")


def test_presets_beyond_the_three_are_read_from_the_file(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(
        '"""My experiment. More words."""\n'
        "from jaxgen.train.base_config import base_config\n\n"
        "def get_config(preset='default'):\n"
        "    config = base_config(task='minimal')\n"
        "    if preset == 'cpu':\n"
        "        config.steps = 7\n"
        "    elif preset in ('smoke', 'tiny'):\n"
        "        config.steps = 2\n"
        "    return config\n"
    )
    entry = catalog.describe(path)
    assert (entry.summary, entry.presets) == (
        "My experiment",
        ("smoke", "default", "full", "cpu", "tiny"),
    )
    assert load_config(f"{path}:cpu").steps == 7
    with pytest.raises(UserError, match=r"choose one of \('smoke', 'default', 'full', 'cpu'"):
        load_config(f"{path}:gpu")


def test_an_experiment_built_on_another_has_its_presets():
    # cgan.py is dcgan.py plus labels and passes its preset on: dcgan's `cpu` is cgan's too.
    assert "cpu" in catalog.describe(catalog.resolve("dcgan")).presets
    assert catalog.describe(catalog.resolve("cgan")).presets == (
        catalog.describe(catalog.resolve("dcgan")).presets
    )
    config = load_config("cgan:cpu")
    assert config.model.conditional and config.steps == load_config("dcgan:cpu").steps


def test_first_sentences_keep_citations_whole():
    text = "DCGAN (Radford et al. 2016) on mnist5k, e.g. Fashion. Second sentence."
    assert catalog.first_sentence(text) == "DCGAN (Radford et al. 2016) on mnist5k, e.g. Fashion"
    assert catalog.first_sentence("word " * 40, width=30) == "word word word word word ..."


def test_list_names_every_experiment_once(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli.main(["list"])
    lines = capsys.readouterr().out.splitlines()
    listed = [line.split()[0] for line in lines[1:-1]]
    assert listed == catalog.names()
    assert "run one: jaxgen train --config=NAME" in lines[-1]


def test_show_prints_the_resolved_config_and_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli.main(["show", "--config=dcgan:smoke", "--config.steps=7", "--config.model.latent_size=5"])
    shown = json.loads(capsys.readouterr().out)
    expected = to_json_dict(load_config("dcgan:smoke", ["steps=7", "model.latent_size=5"]))
    assert shown == expected and shown["steps"] == 7 and shown["preset"] == "smoke"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SystemExit) as caught:
        cli.main(["show", "--config=dcgan:smoke", "--config.stepz=7"])
    assert caught.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
