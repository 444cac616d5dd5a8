"""Many seeds in one program: `--config.seeds` trains replicas by vmap, and replica r ends with
the parameters of a separate run with seed r."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxgen.errors import UserError
from jaxgen.train import replicas
from jaxgen.train.loop import restore_params, train

from ..conftest import smoke_config, summary


def test_parse_seeds():
    assert replicas.parse_seeds("", 7) == ()
    assert replicas.parse_seeds("3", 7) == (7, 8, 9)
    assert replicas.parse_seeds("0,5,2", 7) == (0, 5, 2)
    assert replicas.parse_seeds("(4,)", 0) == (4,)
    for bad in ("a,b", "0", "1,1"):
        with pytest.raises(UserError):
            replicas.parse_seeds(bad, 0)


def test_replica_keys_are_the_single_run_keys():
    init_keys, train_keys = replicas.replica_keys((3, 11))
    for r, seed in enumerate((3, 11)):
        init_key, train_key = replicas.run_keys(seed)
        np.testing.assert_array_equal(
            jax.random.key_data(init_keys[r]), jax.random.key_data(init_key)
        )
        np.testing.assert_array_equal(
            jax.random.key_data(replicas.step_keys(train_keys, 5)[r]),
            jax.random.key_data(jax.random.fold_in(train_key, 5)),
        )


def test_mean_over_replicas_uses_the_sample_std():
    out = replicas.mean_over_replicas({"a": [1.0, 2.0, 4.0]})
    assert out["a"] == pytest.approx(7 / 3)
    assert out["a_std"] == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_each_replica_ends_like_a_separate_run_with_its_seed(tmp_path):
    both = train(smoke_config("vae", progress="false", seeds="3,5"), tmp_path / "both")
    stacked = restore_params(tmp_path / "both")
    for r, seed in enumerate((3, 5)):
        alone = train(smoke_config("vae", progress="false", seed=seed), tmp_path / f"s{seed}")
        params = restore_params(tmp_path / f"s{seed}")
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5),
            replicas.replica(stacked, r),
            params,
        )
        per_seed = both["per_seed"][str(seed)]
        assert per_seed["test_nll_nats"] == pytest.approx(alone["test_nll_nats"], rel=1e-3)
    # Every metric as the mean and standard deviation over seeds, per-seed values kept.
    values = [both["per_seed"][s]["test_nll_nats"] for s in ("3", "5")]
    assert both["test_nll_nats"] == pytest.approx(np.mean(values))
    assert both["test_nll_nats_std"] == pytest.approx(np.std(values, ddof=1))
    assert both["seeds"] == [3, 5] and summary(tmp_path / "both") == both
    assert (tmp_path / "both" / "seed5" / "report.md").exists()
    assert "| test_nll_nats |" in (tmp_path / "both" / "report.md").read_text()


def test_replicated_run_resumes_exactly(tmp_path):
    # A constant rate: a cosine schedule's horizon is `steps`, which this test changes to stop
    # the first run half-way.
    common = dict(progress="false", seeds="2", lr_schedule="constant")
    straight = train(smoke_config("vae", **common), tmp_path / "a")
    train(smoke_config("vae", steps=10, **common), tmp_path / "b")
    resumed = train(smoke_config("vae", **common), tmp_path / "b")
    assert resumed["params_fingerprint"] == straight["params_fingerprint"]
    assert resumed["seeds"] == [0, 1]


def test_a_family_s_judgement_over_seeds_joins_the_many_seed_report(tmp_path):
    """`Family.over_seeds` (a claim judged over seeds, the DBN's "pretraining helps") gets every
    seed's own summary, and its numbers and section join the many-seed report."""
    import dataclasses

    import jax.numpy as jnp

    from jaxgen.reports.markdown import Report
    from jaxgen.reports.seeds import replicated_report
    from jaxgen.train.protocol import History

    @dataclasses.dataclass
    class Replicas:  # what the report reads of a ReplicatedTask
        seeds: tuple = (4, 9)
        task: object = None
        ynnpack_fusions_off: tuple = ()

    def report(task, params, history, workdir):
        return Report({"x": float(params["w"]), "seed_seen": history.seed}, [("Own", "")])

    def judge(seeds, summaries):
        return {"x_sum": sum(s["x"] for s in summaries)}, [("Judged", str(tuple(seeds)))]

    many = replicated_report(report, smoke_config("minimal"), judge)
    result = many(Replicas(), {"w": jnp.array([1.0, 2.0])}, History(step=3), tmp_path)
    assert result.summary["x_sum"] == 3.0
    assert result.summary["per_seed"]["9"]["seed_seen"] == 9
    assert [title for title, _ in result.sections] == ["Over seeds", "Judged", "Seeds"]
    assert (tmp_path / "seed9" / "report.md").exists()
