"""Keys that select among fixed values (issue 22): every one is checked when the config is read
(jaxgen/families/enumerated.py: check_choices), against the values the dispatching code takes."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import pytest

from jaxgen import catalog, families
from jaxgen import config as config_lib
from jaxgen.errors import UserError
from jaxgen.families import enumerated
from jaxgen.train.base_config import common_choices

from .conftest import REPO

# String keys that hold free text (names of data sets, files, images, layers; number lists) or
# are checked against other keys when the task is built (`order` names the members): never
# enumerated. Any other string key must be declared by its family's choices.
FREE_TEXT = {
    "experiment",
    "preset",
    "dataset",
    "seeds",
    "architecture",  # the classifier's description, for its report
    "order",
    "domain_a",
    "domain_b",
    "compare_runs",
    "sampling.prompt",
    "weights",
    "check_weights",
    "content_image",
    "style_image",
    "start_image",
    "content_layers",
    "style_layers",
    "check_content_layers",
    "check_style_layers",
    "dream_layers",
    "target_layer",
    "target_units",
    "multiscale_sizes",
    "octaves",
    "scales",
}


@functools.cache
def _configs() -> tuple[tuple[str, ml_collections.ConfigDict], ...]:
    """(experiment:preset, config) of every experiment at every preset."""
    return tuple(
        (f"{entry.name}:{preset}", config_lib.load_config(f"{entry.path}:{preset}"))
        for entry in catalog.experiments()
        for preset in entry.presets
    )


def _all_choices(task: str) -> dict:
    return {**common_choices(), **families.choices(task)}


def _family_configs():
    """(family, where, config) of every loaded config and of every whole config nested in one
    (a comparison's members)."""
    for where, config in _configs():
        todo = [(where, config)]
        while todo:
            where, block = todo.pop()
            yield block.task, where, block
            for pattern, allowed in families.choices(block.task).items():
                if allowed is enumerated.SUBCONFIG:
                    for key, member in enumerated.matching_keys(block, pattern):
                        todo.append((f"{where} {key}", member))


def _string_leaves(config: ml_collections.ConfigDict, prefix: str = ""):
    for key in config.keys():
        value = config[key]
        if isinstance(value, ml_collections.ConfigDict):
            yield from _string_leaves(value, f"{prefix}{key}.")
        elif isinstance(value, str) or (
            value and isinstance(value, tuple) and isinstance(value[0], str)
        ):
            yield f"{prefix}{key}", value


def _load(spec, *overrides):
    return config_lib.load_config(f"{REPO}/experiments/{spec}", list(overrides))


# ---- the examples, through the command line --------------------------------------------


@pytest.mark.parametrize(
    "spec, override, message",
    [
        ("char_lm.py:smoke", "cells=lstmm", "--config.cells=('lstmm',)"),
        ("denoising_ae.py:smoke", "model.upsample=foo", "--config.model.upsample='foo'"),
        ("denoising_ae.py:smoke", "model.activation=swishy", "--config.model.activation='swishy'"),
        # The default autoencoder is shallow: no hidden layer ever applied `activation`.
        ("autoencoder.py", "model.activation=swishy", "--config.model.activation='swishy'"),
    ],
)
def test_a_mistyped_value_is_one_line_and_exit_2(
    tmp_path, capsys, monkeypatch, spec, override, message
):
    from jaxgen import cli

    monkeypatch.chdir(REPO)
    workdir = tmp_path / "run"
    with pytest.raises(SystemExit) as caught:
        cli.main(
            [
                "train",
                f"--config=experiments/{spec}",
                f"--workdir={workdir}",
                f"--config.{override}",
            ]
        )
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert err.startswith("jaxgen: error: bad value for ") and err.count("\n") == 1
    assert message in err and ("choose one of" in err or "each item must be one of" in err)
    assert "Traceback" not in err
    assert not (workdir / "config.json").exists() and not workdir.exists()


def test_the_message_lists_the_choices_and_a_close_match():
    with pytest.raises(UserError) as caught:
        _load("autoencoder.py:smoke", "lr_schedule=cosin")
    assert str(caught.value) == (
        "bad value for --config.lr_schedule='cosin': choose one of constant, cosine, "
        "linear_decay; did you mean cosine?"
    )
    with pytest.raises(UserError, match=r"choose one of relu, elu, gelu, tanh, sigmoid, linear$"):
        _load("autoencoder.py:smoke", "model.code_activation=swishy")


def test_each_item_of_a_tuple_key_is_checked():
    assert _load("rnn_cells.py:smoke", "cells=gru,lstm").cells == ("gru", "lstm")
    with pytest.raises(UserError) as caught:
        _load("rnn_cells.py:smoke", "cells=rnn,lstmm")
    message = str(caught.value)
    assert message.startswith("bad value for --config.cells=('rnn', 'lstmm'): each item must be")
    assert message.endswith("not 'lstmm'; did you mean lstm?") and "\n" not in message


def test_nested_configs_are_checked_as_their_own_family():
    # A comparison's members are whole configs of other families, each with its own `task`.
    with pytest.raises(UserError, match=r"--config\.members\.vae\.model\.activation='swishy'"):
        _load("vae_vs_gan.py:smoke", "members.vae.model.activation=swishy")
    with pytest.raises(UserError, match=r"--config\.members\.dcgan\.objective\.loss='hinj'.*hinge"):
        _load("vae_vs_gan.py:smoke", "members.dcgan.objective.loss=hinj")
    with pytest.raises(UserError, match=r"--config\.members\.vae\.task='vea'.*did you mean vae"):
        _load("vae_vs_gan.py:smoke", "members.vae.task=vea")
    # The compression task's autoencoders are model blocks under names of the experiment's own.
    with pytest.raises(UserError, match=r"--config\.nonlinear_models\.dense\.upsample='nearst'"):
        _load("pca_vs_ae.py:smoke", "nonlinear_models.dense.upsample=nearst")
    assert _load("pca_vs_ae.py:smoke", "nonlinear_models.conv.upsample=nearest")


@pytest.mark.parametrize(
    "spec, override",
    [
        ("gan_ring.py:smoke", "model.kind=resnet"),
        ("vae.py:smoke", "objective.likelihood=poisson"),
        ("seq2seq_dates.py:smoke", "decode.method=sample"),  # the report's, not a headline's
        ("pix2pix_edges.py:smoke", "paired.direction=AtoC"),
        ("dbn.py:smoke", "binarize=static"),  # the RBM's, not the DBN's
        ("texture_synthesis.py:smoke", "check_network=resnet"),
        ("vae_vs_gan.py:smoke", "claims=vae_vs_pca"),
        ("autoencoder.py:smoke", "preprocess.crop=centre"),
    ],
)
def test_other_families_keys_are_refused_when_read(spec, override):
    key = override.partition("=")[0]
    with pytest.raises(UserError, match=f"bad value for --config.{key}="):
        _load(spec, override)


# ---- the declared choices against the configs ---------------------------------------------------


def test_every_experiment_at_every_preset_holds_allowed_values():
    # load_config checks them; this says which keys were checked, and that each was.
    for task, where, config in _family_configs():
        for pattern, allowed in _all_choices(task).items():
            if allowed is enumerated.SUBCONFIG:
                continue
            for key, value in enumerated.matching_keys(config, pattern):
                items = value if isinstance(value, tuple) else (value,)
                assert all(item in allowed for item in items), (where, key, value)


def test_each_declared_key_exists_in_its_familys_configs():
    # A renamed key would otherwise drop out of the check silently.
    found: dict[str, set[str]] = {}
    for task, _, config in _family_configs():
        for pattern in _all_choices(task):
            if any(True for _ in enumerated.matching_keys(config, pattern)):
                found.setdefault(task, set()).add(pattern)
    for name in families.FAMILIES:
        missing = set(_all_choices(name)) - found.get(name, set())
        assert not missing, f"family {name}: no config has {sorted(missing)}"


def test_every_other_string_key_is_free_text():
    # A new key that selects among fixed values must be declared in its family's choices.
    for task, where, config in _family_configs():
        declared = _all_choices(task)
        for key, _ in _string_leaves(config):
            declared_here = key == "task" or any(
                key in dict(enumerated.matching_keys(config, pattern)) for pattern in declared
            )
            nested = any(
                key.startswith(f"{k}.")
                for pattern, allowed in declared.items()
                if allowed is enumerated.SUBCONFIG
                for k, _ in enumerated.matching_keys(config, pattern)
            )
            assert declared_here or nested or key in FREE_TEXT, (where, key)


# ---- the declared choices against the code that dispatches on them -----------------------------


def _accepts_each_and_refuses_others(allowed, accept, errors=(ValueError,)):
    for value in allowed:
        accept(value)
    with pytest.raises(errors):
        accept("no_such_value")


def test_common_choices_are_what_the_schedule_and_preprocessing_take():
    from jaxgen.data import preprocess
    from jaxgen.train.state import learning_rate_schedule

    choices = common_choices()
    _accepts_each_and_refuses_others(
        choices["lr_schedule"],
        lambda v: learning_rate_schedule(
            ml_collections.ConfigDict({"lr_schedule": v, "steps": 10}), 0.1
        ),
    )
    assert choices["preprocess.crop"] is preprocess.CROPS  # records.py's check and dispatch


def test_autoencoder_choices_are_what_its_networks_and_loss_take():
    from jaxgen.families.autoencoder import corruption, losses, model
    from jaxgen.families.autoencoder.config import model_config, objective_config

    choices = families.choices("autoencoder")
    x = jnp.zeros((2, 8, 8, 1))

    def network(**block):
        net = model.build_autoencoder(model_config(**block), (8, 8, 1))
        jax.eval_shape(net.init, jax.random.key(0), x)  # runs setup and every layer

    _accepts_each_and_refuses_others(choices["model.kind"], lambda v: network(kind=v))
    for key in ("model.activation", "model.code_activation"):
        name = key.partition(".")[2]
        _accepts_each_and_refuses_others(
            choices[key], lambda v, n=name: network(kind="conv", **{n: v})
        )
    _accepts_each_and_refuses_others(
        choices["model.downsample"], lambda v: network(kind="conv", downsample=v)
    )
    _accepts_each_and_refuses_others(
        choices["model.upsample"],
        lambda v: network(kind="conv", upsample=v, downsample="maxpool"),
    )
    for key in ("objective.reconstruction", "objective.output", "objective.sparsity"):
        name = key.partition(".")[2]
        other = {"output": "sigmoid"} if name == "reconstruction" else {"reconstruction": "mse"}
        _accepts_each_and_refuses_others(
            choices[key],
            lambda v, n=name, o=other: losses.validate_objective(objective_config(**{n: v, **o})),
        )
    _accepts_each_and_refuses_others(
        choices["objective.corruption"],
        lambda v: corruption.corrupt(v, jax.random.key(0), x, 0.1),
    )
    assert families.choices("anomaly") == choices
    compression = families.choices("compression")
    assert compression["nonlinear_models.*.upsample"] is choices["model.upsample"]
    assert compression["nonlinear_reconstruction"] is choices["objective.reconstruction"]


def test_vae_choices_are_what_its_objective_takes():
    from jaxgen.families.vae.config import vae_objective_config
    from jaxgen.families.vae.losses import validate_objective

    choices = families.choices("vae")
    for key in ("objective.kind", "objective.likelihood", "objective.binarize"):
        name = key.partition(".")[2]
        _accepts_each_and_refuses_others(
            choices[key], lambda v, n=name: validate_objective(vae_objective_config(**{n: v}))
        )
    latent = families.choices("latent_codes")
    assert all(latent[k] is v for k, v in choices.items())


def test_gan_choices_are_what_its_players_and_losses_take():
    from jaxgen.families.gan import losses, model
    from jaxgen.families.gan.config import gan_model_config
    from jaxgen.families.vaegan.config import vaegan_objective_config
    from jaxgen.families.vaegan.losses import check_objective

    choices = families.choices("gan")
    shapes = {"mlp": (2,), "dcgan": (8, 8, 1)}
    _accepts_each_and_refuses_others(
        choices["model.kind"],
        lambda v: model.build_players(gan_model_config(v), shapes.get(v, (2,)), 0),
    )
    _accepts_each_and_refuses_others(choices["model.transposed_conv"], model.transposed_conv_layer)
    _accepts_each_and_refuses_others(choices["objective.loss"], losses.check_loss)
    for name in ("bigan", "vaegan"):
        assert families.choices(name)["model.transposed_conv"] is model.TRANSPOSED_CONVS
    _accepts_each_and_refuses_others(
        families.choices("vaegan")["objective.generator_loss"],
        lambda v: check_objective(vaegan_objective_config(generator_loss=v)),
    )


def test_sequence_choices_are_what_the_cells_and_tokenizer_take():
    from jaxgen.data import sequence_pairs
    from jaxgen.nn.cells import make_cell

    cells = families.choices("language_model")["cells"]
    _accepts_each_and_refuses_others(cells, lambda v: make_cell(v, 4, parent=None))
    choices = families.choices("seq2seq")
    assert choices["model.cell"] is cells
    _accepts_each_and_refuses_others(
        choices["tokens"], lambda v: sequence_pairs.tokenizer(v, ["a b", "c d"])
    )


def test_translation_choices_are_what_its_networks_losses_and_pairs_take():
    import numpy as np

    from jaxgen.data import image_pairs, masks
    from jaxgen.families.image_translation import losses, model, task
    from jaxgen.families.image_translation.config import translation_model_config

    choices = families.choices("image_translation")
    _accepts_each_and_refuses_others(
        choices["model.generator"],
        lambda v: task.build_generator(translation_model_config(generator=v), 16, 1),
    )
    _accepts_each_and_refuses_others(choices["model.norm"], lambda v: model.norm_layer(v, True))
    _accepts_each_and_refuses_others(choices["objective.gan_loss"], losses.check_mode)
    _accepts_each_and_refuses_others(choices["paired.kind"], image_pairs.PairMaker)
    _accepts_each_and_refuses_others(
        choices["paired.direction"], lambda v: image_pairs.PairMaker("side_by_side", direction=v)
    )
    _accepts_each_and_refuses_others(
        choices["completion.missing"], lambda v: masks.missing_mask(4, 4, v)
    )
    completion = families.choices("completion")["completion.missing"]
    assert set(completion) < set(masks.REGIONS)
    assert all(np.any(masks.missing_mask(4, 4, region)) for region in completion)


def test_rbm_reverse_and_comparison_choices_are_what_their_tasks_take():
    from jaxgen.families.comparison.config import CLAIM_SETS
    from jaxgen.families.comparison.report import CLAIMS
    from jaxgen.families.rbm.config import objective_block
    from jaxgen.families.rbm.task import check_objective
    from jaxgen.families.reverse.pixel_task import pixel_optimizer

    def rbm_objective(kind):
        block = objective_block()
        block.kind = kind
        check_objective(block)

    _accepts_each_and_refuses_others(families.choices("rbm")["objective.kind"], rbm_objective)
    assert families.choices("dbn")["objective.kind"] is families.choices("rbm")["objective.kind"]
    assert set(families.choices("dbn")["binarize"]) < set(families.choices("rbm")["binarize"])
    reverse = families.choices("reverse")
    config = ml_collections.ConfigDict({"learning_rate": 0.1, "adam_b1": 0.9, "adam_eps": 1e-8})

    def optimizer(name):
        config.optimizer = name
        pixel_optimizer(config)

    _accepts_each_and_refuses_others(reverse["optimizer"], optimizer, UserError)
    assert set(reverse["check_network"]) == {"", *reverse["network"]}
    # The report judges the claim sets the task accepts ("" judges none).
    assert set(CLAIM_SETS) == set(CLAIMS)
    assert families.choices("comparison")["claims"] == ("", *CLAIM_SETS)
