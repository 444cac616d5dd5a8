"""The deep belief network: its classifier is the top RBM's exact conditional, its label units
are one softmax group, its variational bound is the one enumeration gives, its phases train one
layer at a time, and the claim "pretraining helps" is judged over seeds."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from jaxgen.families import build_task
from jaxgen.families.dbn import model as dbn
from jaxgen.families.dbn.report import pretraining_verdict
from jaxgen.families.rbm import model, partition
from jaxgen.train.loop import train

from ..conftest import smoke_config
from .test_rbm import tiny_rbm


def states(width):
    return np.array(list(itertools.product([0, 1], repeat=width)), np.float32)


def test_label_logits_are_the_top_rbm_s_exact_conditional_of_the_label():
    features, labels, hidden = 3, 4, 3
    top = tiny_rbm(3, features + labels, hidden)
    x = states(features)
    h = states(hidden)
    w = np.asarray(top["weights"], np.float64)
    b, c = np.asarray(top["visible_bias"], np.float64), np.asarray(top["hidden_bias"], np.float64)
    # p(y | x) from the joint over (x, y, h), every hidden state enumerated.
    log_joint = np.zeros((len(x), labels))
    for y in range(labels):
        v = np.concatenate([x, np.tile(np.eye(labels)[y], (len(x), 1))], axis=1)
        energy = (v @ b)[:, None] + (h @ c)[None] + v @ w @ h.T  # -E(v, h)
        log_joint[:, y] = logsumexp(energy, axis=1)
    expected = softmax(log_joint, axis=1)
    got = softmax(np.asarray(dbn.label_logits(top, jnp.asarray(x), labels), np.float64), axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_label_units_are_one_softmax_draw_or_stay_clamped():
    top = tiny_rbm(4, 2 + 5, 3)
    h = jnp.tile(jnp.asarray([[1.0, 0.0, 1.0]]), (40000, 1))
    v = dbn.sample_labelled_visible(top, h, jax.random.key(0), num_labels=5)
    labels = np.asarray(v[:, 2:])
    assert np.all(labels.sum(1) == 1)  # exactly one label unit on
    expected = softmax(np.asarray(model.visible_logits(top, h[:1]))[0, 2:])
    np.testing.assert_allclose(labels.mean(0), expected, atol=0.01)
    clamp = jax.nn.one_hot(jnp.full(40000, 3), 5)
    clamped = dbn.sample_labelled_visible(top, h, jax.random.key(1), 5, clamped=clamp)
    assert np.all(np.asarray(clamped[:, 2:]) == np.asarray(clamp))


def test_the_variational_bound_is_enumeration_s_and_lies_below_log_p():
    rbm1, rbm2 = tiny_rbm(5, 5, 4), tiny_rbm(6, 4, 3)
    v = states(5)[[1, 7, 18, 30]]
    h1 = states(4)
    log_z2 = partition.log_z_exact(rbm2)
    # log p(v | h1) + log p(h1) for every h1, the DBN's joint, enumerated.
    log_joint = np.stack(
        [
            np.asarray(dbn.log_bernoulli(row, model.visible_logits(rbm1, h1)))
            - np.asarray(model.free_energy(rbm2, h1))
            - log_z2
            for row in v
        ]
    )
    log_p = logsumexp(log_joint, axis=1)
    q = jax.nn.sigmoid(model.hidden_logits(rbm1, v))
    log_q = np.asarray(
        h1 @ np.log(q).T + (1 - h1) @ np.log1p(-q).T, np.float64
    ).T  # log Q(h1 | v): rows v, columns h1
    exact_bound = np.sum(np.exp(log_q) * (log_joint - log_q), axis=1)
    keys = jax.random.split(jax.random.key(0), len(v))
    estimate = np.asarray(dbn.variational_bound_terms(rbm1, rbm2, v, keys, 20000)) - log_z2
    np.testing.assert_allclose(estimate, exact_bound, atol=0.03)
    assert np.all(exact_bound <= log_p + 1e-6)


def test_generation_clamped_to_a_label_gives_images_of_pixel_probabilities():
    params = dbn.init_params(jax.random.key(0), 6, (4, 3, 5), 3)
    for free in (False, True):
        images = dbn.generate(params, jax.random.key(1), 10, jnp.arange(7) % 3, 3, free)
        assert images.shape == (7, 6)
        assert np.all((np.asarray(images) > 0) & (np.asarray(images) < 1))


def _phase_steps(task, state, phase_index, steps, seed=0):
    phase = task.phases()[phase_index]
    dataset = task.train_dataset(seed)
    step = jax.jit(phase.train_step)
    for i in range(steps):
        state, _ = step(state, dataset[i], jax.random.key(i))
    return state


def test_each_phase_trains_its_own_layer_and_fine_tuning_leaves_the_dbn_alone():
    task = build_task(smoke_config("dbn"))
    state = task.init_state(jax.random.key(0))
    start = state.params
    state = _phase_steps(task, state, 0, 3)
    assert not np.allclose(state.params["rbm1"]["weights"], start["rbm1"]["weights"])
    for name in ("rbm2", "rbm3"):
        np.testing.assert_array_equal(state.params[name]["weights"], start[name]["weights"])
    after_first = state.params
    phases = task.phases()
    state = phases[2].enter(phases[1].enter(state, jax.random.key(1)), jax.random.key(2))
    assert state.chains.shape == (task.config.batch_size, 12 + 10)  # rbm3: rbm2's units, labels
    assert np.all(np.asarray(state.chains[:, 12:]).sum(1) == 1)
    state = _phase_steps(task, state, 2, 3)
    np.testing.assert_array_equal(state.params["rbm1"]["weights"], after_first["rbm1"]["weights"])
    assert not np.allclose(state.params["rbm3"]["weights"], start["rbm3"]["weights"])

    pretrained = state.params
    state = phases[3].enter(state, jax.random.key(3))
    np.testing.assert_array_equal(
        state.classifiers["pretrained"]["rbm2"]["weights"], pretrained["rbm2"]["weights"]
    )
    random_init = state.classifiers["random_init"]
    assert np.all(np.asarray(random_init["rbm1"]["hidden_bias"]) == 0)
    assert not np.allclose(random_init["rbm1"]["weights"], pretrained["rbm1"]["weights"])
    tuned = _phase_steps(task, state, 3, 2)
    for name in pretrained:  # the generative DBN is what pretraining left
        np.testing.assert_array_equal(tuned.params[name]["weights"], pretrained[name]["weights"])
    for arm in ("pretrained", "random_init"):
        assert not np.allclose(
            tuned.classifiers[arm]["rbm1"]["weights"], state.classifiers[arm]["rbm1"]["weights"]
        )


@pytest.mark.parametrize(
    "override, message",
    [
        ({"pretrain": {"steps": (5, 5)}}, "one a layer"),
        ({"model": {"num_hidden": (16,)}, "pretrain": {"steps": (5,)}}, "at least two"),
        ({"binarize": "static"}, "dynamically"),
    ],
)
def test_a_bad_stack_is_refused_with_one_line(override, message):
    config = smoke_config("dbn")
    for key, value in override.items():
        if isinstance(value, dict):
            config[key].update(value)
        else:
            config[key] = value
    with pytest.raises(Exception, match=message):
        build_task(config)


def test_the_verdict_over_seeds_pairs_each_seed_s_two_starts():
    summaries = [
        {"test_error": e, "test_error_random_init": r, "pretraining_gain": r - e}
        for e, r in [(0.05, 0.07), (0.06, 0.065), (0.04, 0.06)]
    ]
    numbers, sections = pretraining_verdict((0, 1, 2), summaries)
    assert numbers["pretraining_helps_seeds"] == 3
    gains = np.array([0.02, 0.005, 0.02])
    t = gains.mean() / (gains.std(ddof=1) / np.sqrt(3))  # the paired t statistic, by hand
    from scipy.stats import t as student

    assert numbers["pretraining_gain_p_value"] == pytest.approx(student.sf(t, df=2))
    assert "supported" in sections[0][1]
    mixed = [dict(s) for s in summaries]
    mixed[1]["test_error_random_init"] = 0.05
    assert (
        "mixed: pretraining lowered the test error on 2 of 3"
        in pretraining_verdict((0, 1, 2), mixed)[1][0][1]
    )


@pytest.mark.slow  # the verdict's wiring: tests/train/test_replicas.py
def test_a_two_seed_run_judges_pretraining_and_reports_the_bound(tmp_path):
    config = smoke_config(
        "dbn", seeds="2", steps=12, eval_every=12, checkpoint_every=12, progress="false"
    )
    config.pretrain.steps = (3, 3, 3)
    config.ais.num_temperatures = 101
    summary = train(config, tmp_path)
    assert summary["seeds"] == [0, 1]
    assert 0 <= summary["pretraining_helps_seeds"] <= 2
    assert "## Does pretraining help?" in (tmp_path / "report.md").read_text()
    seed = summary["per_seed"]["1"]
    for key in ("test_error", "test_error_random_init", "test_nll_nats_bound", "rbm2_log_z_exact"):
        assert np.isfinite(seed[key])
    # With the exact log Z2 the bound differs from AIS's only by AIS's error in log Z2.
    gap = seed["test_nll_nats_bound"] - seed["test_nll_nats_bound_exact"]
    assert gap == pytest.approx(seed["rbm2_log_z_ais"] - seed["rbm2_log_z_exact"])
