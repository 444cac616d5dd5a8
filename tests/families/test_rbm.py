"""The RBM family: its update is the CD rule, its Gibbs sampler has the model's distribution, its
smoke run's AIS brackets the exact log Z, and what it writes reads back without jaxgen."""

import itertools
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.rbm import model, partition
from jaxgen.families.rbm.task import RBMTask
from jaxgen.train.loop import train

from ..conftest import REPO, smoke_config


def tiny_rbm(seed=0, num_visible=4, num_hidden=3):
    rng = np.random.default_rng(seed)
    return {
        "weights": jnp.asarray(rng.normal(size=(num_visible, num_hidden)), jnp.float32),
        "visible_bias": jnp.asarray(rng.normal(size=num_visible) * 0.5, jnp.float32),
        "hidden_bias": jnp.asarray(rng.normal(size=num_hidden) * 0.5, jnp.float32),
    }


def test_the_surrogate_s_gradient_is_the_contrastive_divergence_update():
    params = tiny_rbm(1, 6, 4)
    rng = np.random.default_rng(0)
    data = (rng.random((8, 6)) < 0.5).astype(np.float32)
    negatives = (rng.random((8, 6)) < 0.5).astype(np.float32)
    grads = jax.grad(model.contrastive_divergence)(params, data, negatives)

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    w, b, c = (
        np.asarray(params[k], np.float64) for k in ("weights", "visible_bias", "hidden_bias")
    )
    h_data, h_neg = sigmoid(data @ w + c), sigmoid(negatives @ w + c)
    # Descending the surrogate is ascending <v h>_data - <v h>_model (Hinton's guide, eq. 9).
    update_w = (data.T @ h_data - negatives.T @ h_neg) / 8
    np.testing.assert_allclose(-np.asarray(grads["weights"]), update_w, atol=1e-5)
    np.testing.assert_allclose(
        -np.asarray(grads["visible_bias"]), (data - negatives).mean(0), atol=1e-6
    )
    np.testing.assert_allclose(
        -np.asarray(grads["hidden_bias"]), (h_data - h_neg).mean(0), atol=1e-6
    )


def test_block_gibbs_sampling_has_the_model_s_distribution():
    params = tiny_rbm(2)
    states = np.array(list(itertools.product([0, 1], repeat=4)), np.float32)
    log_p = -np.asarray(model.free_energy(params, jnp.asarray(states))) - partition.log_z_exact(
        params
    )
    v = jnp.zeros((20000, 4))
    samples = np.asarray(jax.jit(model.gibbs)(params, v, jax.random.key(0), 50))
    index = samples @ (2 ** np.arange(3, -1, -1))  # itertools.product's order
    frequency = np.bincount(index.astype(int), minlength=16) / len(samples)
    np.testing.assert_allclose(frequency, np.exp(log_p), atol=0.015)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("rbm")
    config = smoke_config("rbm", progress="false")
    train(config, workdir)
    return config, workdir, json.loads((workdir / "summary.json").read_text())


def test_the_smoke_preset_s_ais_interval_holds_the_exact_log_z(smoke_run):
    _, _, s = smoke_run
    assert s["ais_temperatures"] < partition.SCHEDULE_LENGTH  # the shortened schedule
    assert s["log_z_ais_low"] <= s["log_z_exact"] <= s["log_z_ais_high"]
    assert abs(s["log_z_ais"] - s["log_z_exact"]) < 0.1
    assert s["test_nll_nats"] == pytest.approx(s["test_nll_nats_exact"], abs=0.1)
    # The periodic evaluation uses the exact log Z for 12 hidden units.
    assert s["test_nll_nats_periodic_protocol"] == pytest.approx(s["test_nll_nats_exact"], abs=1e-6)
    for key in ("test_nll_nats_raise", "pseudo_log_likelihood", "free_energy_gap"):
        assert np.isfinite(s[key])


def test_a_trained_rbm_beats_the_base_rate_model_it_started_from(smoke_run):
    config, workdir, s = smoke_run
    task = RBMTask(config)
    rates = task.pixel_rates
    v = task.images["test"]
    base_nll = -np.mean(v @ np.log(rates) + (1 - v) @ np.log1p(-rates))
    assert s["test_nll_nats_exact"] < base_nll


def test_the_checkpoint_is_plain_arrays_that_a_bare_orbax_restore_reads(smoke_run):
    _, workdir, _ = smoke_run
    code = (
        "import sys, orbax.checkpoint as ocp; "
        "s = ocp.StandardCheckpointer().restore(sys.argv[1]); p = s['params']; "
        "print(p['weights'].shape, p['visible_bias'].shape, p['hidden_bias'].shape, "
        "s['chains'].shape)"
    )
    path = workdir / "checkpoints" / "40" / "state"
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert out.stdout.split("\n")[0] == "(64, 12) (64,) (12,) (32, 64)", out.stderr[-2000:]


def test_the_report_has_its_figures_and_the_likelihood_table(smoke_run):
    _, workdir, _ = smoke_run
    text = (workdir / "report.md").read_text()
    for name in ("filters.png", "gibbs_chains.png", "reconstructions.png", "free_energy.png"):
        assert (workdir / name).exists() and name in text
    assert "| exact |" in text and "RAISE" in text


def test_pcd_carries_its_chains_and_cd_starts_from_the_batch():
    config = smoke_config("rbm", progress="false")
    task = RBMTask(config)
    state = task.init_state(jax.random.key(0))
    batch = {"image": jnp.asarray(task.images["validation"][:32].reshape(32, 8, 8, 1))}
    new, metrics = jax.jit(task.train_step)(state, batch, jax.random.key(1))
    assert not np.array_equal(np.asarray(new.chains), np.asarray(state.chains))
    assert set(np.unique(np.asarray(new.chains))) <= {0.0, 1.0}
    assert np.isfinite(float(metrics["reconstruction_error"]))
    config.objective.kind = "cd"
    task = RBMTask(config)
    new, _ = jax.jit(task.train_step)(state, batch, jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(new.chains), np.asarray(state.chains))


def test_colour_images_are_refused_in_one_line(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("test", 3)):
        (tmp_path / "colour" / split).mkdir(parents=True)
        for i in range(count):
            image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(image).save(tmp_path / "colour" / split / f"{i}.png")
    out = subprocess.run(
        [sys.executable, "-m", "jaxgen", "train", f"--config={REPO}/experiments/rbm.py:smoke",
         f"--workdir={tmp_path / 'run'}", f"--config.dataset={tmp_path / 'colour'}"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr[-2000:]
    # The folder's preparation may print progress first; the error is one line, no traceback.
    assert "one bit per pixel of grey images" in out.stderr.strip().splitlines()[-1]
    assert "Traceback" not in out.stderr


def test_compare_runs_reads_other_runs_on_the_same_data_and_refuses_the_rest(tmp_path):
    from jaxgen.errors import UserError
    from jaxgen.families.rbm.report import compared_runs

    def run(name, dataset, summary):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(
            json.dumps({"dataset": dataset, "task": "vae"})
        )
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
        return str(tmp_path / name)

    config = smoke_config("rbm")
    config.compare_runs = run("vae", "digits", {"test_nll_nats": 30.5})
    assert compared_runs(config) == [["vae", "vae", 30.5]]
    config.compare_runs = run("other", "mnist5k", {"test_nll_nats": 99.0})
    with pytest.raises(UserError, match="not a run with a test NLL on 'digits'"):
        compared_runs(config)
    config.compare_runs = str(tmp_path / "missing")
    with pytest.raises(UserError, match="cannot read"):
        compared_runs(config)
