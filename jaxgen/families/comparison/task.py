"""A comparison: several experiments' models trained side by side in one run, on one data set
and for one step budget, then scored by the same code (families/comparison/report.py).

Each member is the task its own experiment builds (`config.members[name]` plus the shared keys,
families/comparison/config.py), unchanged: it gets the run's init key, the run's step key and the
batches of its own `train_dataset(seed)`, exactly as a run of that experiment alone would, so a
member of a comparison ends with the parameters its solo run ends with (a test checks this).
The state is a `ComparisonState` holding every member's state under its name; one jitted step
steps them all, so a comparison checkpoints, resumes and is reproducible as one run.

Members must draw images (`sample_pixels(params, n, key_seed)`, pixels in [0, 1]): the VAE,
VAE-GAN, image GAN and BiGAN tasks do. Training metrics are logged as "MEMBER/NAME", and "loss"
is the sum of the members' losses (not finite as soon as one member's is not, which stops the
run). Evaluation: each member's own `evaluate`, under "MEMBER/", plus the FID of `eval_samples`
prior samples (fixed noise) for a member whose evaluation has none (the VAE), so that the FID of
every member can be followed over training. No checkpoint is ranked: every member is reported
at the end of the budget. `--config.seeds` replicates the whole comparison (train/replicated.py);
the members themselves train one seed each.
"""

from __future__ import annotations

import functools

import flax.struct
import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import config_splits
from jaxgen.eval.features import ClassifierFeatures
from jaxgen.eval.sample_quality import NOISE_KEYS, SNAPSHOT_NOISE_KEY
from jaxgen.families.comparison.config import CLAIM_CHOICES, CLAIM_SETS, member_config
from jaxgen.train.protocol import PyTree, Task


@flax.struct.dataclass
class ComparisonState:
    """The run's step and every member's own train state, by member name."""

    step: jax.Array
    members: dict


def _by_name(names: tuple[str, ...], parts) -> dict:
    return dict(zip(names, parts, strict=True))


class ComparisonTask(ClassifierFeatures, Task):
    """Trains the members of `config.members` side by side (see the module docstring)."""

    batch_axis = 0
    best_metric = None  # every member is reported at the end of the one step budget
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        from jaxgen.families import build_task

        self.config = config
        if not config.members:
            raise ValueError("a comparison needs members (config.members)")
        if config.get("claims", "") not in CLAIM_CHOICES:
            raise ValueError(f"unknown claims {config.claims!r}; one of {CLAIM_SETS} or ''")
        splits = config_splits(config)
        self.train_split = splits["train"]
        self.splits = {s: splits[s] for s in ("validation", "test")}
        if self.train_split.labels_N is None and self.train_split.attributes_NxA is None:
            raise ValueError(
                "a comparison scores samples in a feature classifier's space, which needs "
                f"labels; {config.dataset!r} has none"
            )
        self.conditional = False  # what eval/sample_quality.py's section reads
        self.names = tuple(config.order)
        if sorted(self.names) != sorted(config.members.keys()):
            raise ValueError(
                f"config.order {self.names} must name each member of "
                f"{sorted(config.members.keys())} once"
            )
        self.members: dict[str, Task] = {}
        for name in self.names:
            member = build_task(member_config(config, name))
            if not hasattr(member, "sample_pixels"):
                raise ValueError(
                    f"member {name!r} (task {config.members[name].task!r}) draws no images; a "
                    "comparison compares image models (vae, vaegan, gan, bigan)"
                )
            if member.batch_axis != 0:
                raise ValueError(f"member {name!r} has a replica axis; members train one seed")
            self.members[name] = member

    # ---- training --------------------------------------------------------------------------

    def init_state(self, key: jax.Array) -> ComparisonState:
        # Every member gets the run's init key: it starts where its solo run starts.
        return ComparisonState(
            step=jnp.zeros((), jnp.int32),
            members={n: m.init_state(key) for n, m in self.members.items()},
        )

    def train_step(self, state: ComparisonState, batch: dict, key: jax.Array):
        members, metrics = {}, {}
        for name, member in self.members.items():
            members[name], member_metrics = member.train_step(state.members[name], batch[name], key)
            metrics.update({f"{name}/{k}": v for k, v in member_metrics.items()})
        metrics["loss"] = sum(metrics[f"{n}/loss"] for n in self.names)
        return ComparisonState(step=state.step + 1, members=members), metrics

    def train_dataset(self, seed: int) -> grain.MapDataset:
        """Each member's own batches, in its own order, as {member name: batch}."""
        datasets = [self.members[n].train_dataset(seed) for n in self.names]
        zipped = grain.experimental.ZipMapDataset(datasets)
        return zipped.map(functools.partial(_by_name, self.names))

    def eval_params(self, state: ComparisonState) -> PyTree:
        return {n: m.eval_params(state.members[n]) for n, m in self.members.items()}

    # ---- evaluation ------------------------------------------------------------------------

    def evaluate(self, params, split: str) -> dict[str, float]:
        """Every member's own evaluation under "MEMBER/", and "MEMBER/fid" of `eval_samples`
        prior samples (fixed noise) against the split where its evaluation gives none."""
        numbers = {}
        for name, member in self.members.items():
            own = member.evaluate(params[name], split)
            numbers.update({f"{name}/{k}": v for k, v in own.items()})
            if "fid" not in own:
                images = member.sample_pixels(
                    params[name], self.config.eval_samples, NOISE_KEYS[split]
                )
                numbers[f"{name}/fid"] = self.fid_to(split, images)
        return numbers

    def evaluation_protocol(self, split: str) -> dict[str, str]:
        protocol = {}
        for name, member in self.members.items():
            own = member.evaluation_protocol(split)
            protocol.update({f"{name}/{k}": v for k, v in own.items()})
            if "fid" not in own:  # the FID that `evaluate` adds
                protocol[f"{name}/fid"] = self.fid_protocol(split, self.config.eval_samples)
        return protocol

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {
            f"{n}_samples": m.sample_pixels(params[n], 10, SNAPSHOT_NOISE_KEY)
            for n, m in self.members.items()
        }
