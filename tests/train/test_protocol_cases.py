"""The protocol's wider cases, each on a tiny task written here and run by the real loop: a task
with no data set, a declared monitor metric, phases that change the state's shapes (exact resume
across and inside a phase boundary, and under --config.seeds), and frozen inputs (passed as an
argument, their identity in config.json, other weights refused on resume)."""

from __future__ import annotations

import hashlib
import json
import pathlib

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import families
from jaxgen.errors import NonFiniteLossError, UserError
from jaxgen.reports.markdown import Report
from jaxgen.train.base_config import base_config
from jaxgen.train.loop import train
from jaxgen.train.protocol import FrozenInputs, Phase, Task


@flax.struct.dataclass
class ProbeState:
    step: jax.Array
    params: dict


class ProbeTask(Task):
    """No data: a random walk of `w`, scaled by a frozen array read from `config.weights`; phase
    "grow" doubles the length of `w` (new entries drawn from the transition's key)."""

    monitor = "energy"  # the step returns no "loss"

    def __init__(self, config):
        self.config = config

    def init_state(self, key):
        w = jax.random.normal(key, (2,))
        return ProbeState(step=jnp.zeros((), jnp.int32), params={"w": w})

    def _step(self, state, key, frozen):
        w = state.params["w"] + frozen["scale"] * jax.random.normal(key, state.params["w"].shape)
        energy = jnp.sum(w**2) * jnp.where(state.step + 1 == self.config.nan_at, jnp.nan, 1.0)
        return ProbeState(step=state.step + 1, params={"w": w}), {"energy": energy}

    @staticmethod
    def _grow(state, key):
        w = state.params["w"]
        return state.replace(params={"w": jnp.concatenate([w, jax.random.normal(key, w.shape)])})

    def phases(self):
        return [
            Phase("small", self.config.first_phase_steps, self._step),
            Phase("grow", None, self._step, enter=self._grow),
        ]

    def train_dataset(self, seed):
        return None

    def frozen_inputs(self):
        data = pathlib.Path(self.config.weights).read_bytes()
        scale = np.frombuffer(data, np.float32).reshape(())
        return FrozenInputs({"scale": scale}, hashlib.sha256(data).hexdigest())

    def evaluate(self, params, split):
        return {"norm": float(jnp.sum(params["w"] ** 2)), "size": float(params["w"].size)}


def probe_report(task, params, history, workdir):
    return Report({"test_size": history.test["size"], "validation_evals": len(history.validation)})


@pytest.fixture
def probe(monkeypatch, tmp_path):
    """A config builder for the probe task, registered for the test's duration."""
    entry = families.Family(f"{__name__}:ProbeTask", f"{__name__}:probe_report", "")
    monkeypatch.setitem(families.FAMILIES, "probe", entry)
    weights = tmp_path / "scale.bin"
    weights.write_bytes(np.float32(0.5).tobytes())

    def config(**overrides):
        values = dict(
            task="probe", experiment="probe", preset="smoke", dataset="none", steps=8,
            eval_every=4, checkpoint_every=1, log_every=1, progress=False,
            first_phase_steps=3, nan_at=-1, weights=str(weights),
        )  # fmt: skip
        return base_config(**{**values, **overrides})

    return config


def test_a_task_without_data_trains_through_its_phases(probe, tmp_path):
    result = train(probe(), tmp_path)
    assert result["test_size"] == 4  # the second phase doubled w
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["split"] == "train"] == list(range(1, 9))
    assert {r["split"] for r in records} == {"train", "validation"}
    assert all("energy" in r for r in records if r["split"] == "train")


@pytest.mark.parametrize("stop", [3, 5])  # at the phase boundary, and inside the second phase
def test_resume_is_exact_across_and_inside_a_phase_boundary(probe, tmp_path, stop):
    straight = train(probe(), tmp_path / "straight")
    train(probe(steps=stop), tmp_path / "resumed")
    resumed = train(probe(), tmp_path / "resumed")
    assert resumed["params_fingerprint"] == straight["params_fingerprint"]


def test_the_best_checkpoint_of_an_earlier_phase_restores_with_its_own_shapes(probe, tmp_path):
    from jaxgen.train import loop

    train(probe(keep_checkpoints=10), tmp_path)
    run = loop._Run(probe(keep_checkpoints=10), tmp_path)
    assert run.restore(3).params["w"].shape == (2,)  # saved by the first phase
    assert run.restore(4).params["w"].shape == (4,)
    run.checkpoints.close()


def test_each_replica_of_a_phased_task_is_its_own_seed_s_run(probe, tmp_path):
    many = train(probe(seeds="0,1"), tmp_path / "many")
    one = train(probe(seed=1), tmp_path / "one")
    assert many["per_seed"]["1"]["params_fingerprint"] == one["params_fingerprint"]


def test_the_declared_monitor_stops_the_run_when_not_finite(probe, tmp_path):
    with pytest.raises(NonFiniteLossError, match="energy became nan at step 6"):
        train(probe(nan_at=6), tmp_path)


def test_frozen_inputs_are_recorded_and_other_weights_are_refused(probe, tmp_path):
    config = probe(steps=4)
    train(config, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    weights = pathlib.Path(config.weights)
    assert saved["frozen_inputs"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    weights.write_bytes(np.float32(2.0).tobytes())
    with pytest.raises(UserError, match="frozen_inputs"):
        train(probe(steps=8), tmp_path / "run")


def test_frozen_inputs_are_an_argument_of_the_compiled_step(probe, tmp_path):
    from jaxgen.train import loop

    run = loop._Run(probe(), tmp_path)
    step = run.step_fn(run.schedule.phases[0])
    key = jax.random.key(0)
    outputs = [
        step(jax.tree.map(jnp.copy, run.state), None, key, {"scale": jnp.float32(scale)})[0]
        for scale in (0.5, 2.0)
    ]
    assert not np.allclose(
        outputs[0].params["w"], outputs[1].params["w"]
    )  # the new weights were used ...
    assert step._cache_size() == 1  # ... by the same compiled step
    run.checkpoints.close()
