"""The RBM task: a Bernoulli RBM on binarized images, trained by CD-k or persistent CD with
momentum, weight decay and the common learning-rate schedules (families/rbm/model.py).

State: the `TrainState` (params: `weights` visible by hidden, `visible_bias`, `hidden_bias`;
plain SGD-with-momentum state) plus `chains`, the persistent Gibbs chains of PCD (one per batch
example; carried unchanged by CD), so a resumed run continues the same chains.

The step's `loss` is mean F(data) - mean F(negatives), whose gradient is the CD update; the loop
watches `reconstruction_error` (the mean-field reconstruction's squared error) for divergence.

Evaluation, on a split binarized once with the VAE family's fixed key (data/binary.py):
`nll_nats`, the mean -log p(v) with log Z exact when a layer has at most 20 units and else by a
short AIS (`eval_ais`), which ranks checkpoints; the pseudo-log-likelihood (scikit-learn's
definition, with fixed flipped bits); the reconstruction error; and the mean free energy of the
split and of as many training images with their gap (Hinton's overfitting monitor). The report
(families/rbm/report.py) adds the full AIS with its interval, RAISE and the figures.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.data import config_splits, train_dataset
from jaxgen.data.binary import (
    STATIC_TRAIN_BINARIZATION_KEY,
    TEST_BINARIZATION_KEY,
    binarize,
    binarized,
)
from jaxgen.eval.chunked import EVAL_SPLITS, batched
from jaxgen.families.rbm import model, partition
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import TrainState, learning_rate_schedule

# Fixed keys, independent of the run's seed: every run and checkpoint is measured the same way.
EVAL_AIS_KEY = 0xA1
PLL_KEY = 0xA2  # the bits the pseudo-log-likelihood flips
SAMPLE_KEY = 0xA3  # the Gibbs chains of snapshots and of the report's samples
BINARIZE = ("dynamic", "static")
# `objective.kind`: negatives from the batch (CD-k) or from persistent chains (PCD).
OBJECTIVE_KINDS = ("cd", "pcd")


@flax.struct.dataclass
class RBMState(TrainState):
    chains: jax.Array  # persistent Gibbs chains (PCD), batch x visible


def rbm_optimizer(
    config: ml_collections.ConfigDict, steps: int | None = None
) -> optax.GradientTransformation:
    """SGD with momentum at the config's learning-rate schedule (over `steps`, the run's by
    default: a DBN layer's over its own budget), after L2 weight decay on the weights only (not
    the biases), as in Hinton's practical guide."""
    o = config.objective
    decay = optax.add_decayed_weights(o.weight_decay, mask=lambda p: {k: k == "weights" for k in p})
    rate = learning_rate_schedule(config, config.learning_rate, steps)
    return optax.chain(decay, optax.sgd(rate, momentum=o.momentum))


def check_objective(objective: ml_collections.ConfigDict) -> None:
    if objective.kind not in OBJECTIVE_KINDS:
        raise ValueError(
            f"unknown objective.kind {objective.kind!r}; choose one of {', '.join(OBJECTIVE_KINDS)}"
        )
    if objective.gibbs_steps < 1:
        raise ValueError("objective.gibbs_steps must be at least 1")


def binary_splits(config: ml_collections.ConfigDict, splits=None):
    """(train split, {evaluation split: split binarized once}) of a grey data set (`splits`,
    the config's own by default); colour images are refused, since an RBM here models one bit
    per pixel."""
    splits = config_splits(config) if splits is None else splits
    train = splits["train"]
    if train.image_shape[-1] != 1:
        raise ValueError(
            f"an RBM models one bit per pixel of grey images; {config.dataset!r} has "
            f"{train.image_shape[-1]} channels (choose a grey data set)"
        )
    if config.binarize not in BINARIZE:
        raise ValueError(f"unknown binarize {config.binarize!r}; choose one of {BINARIZE}")
    if config.binarize == "static":
        train = binarized(train, STATIC_TRAIN_BINARIZATION_KEY)
    return train, {s: binarized(splits[s], TEST_BINARIZATION_KEY) for s in EVAL_SPLITS}


class RBMTask(LossTask):
    """Trains one RBM; ranks checkpoints by validation NLL."""

    best_metric = "nll_nats"
    best_mode = "min"
    monitor = "reconstruction_error"
    state_type = RBMState

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        check_objective(config.objective)
        self.train_split, self.splits = binary_splits(config)
        self.image_shape = self.train_split.image_shape
        self.num_visible = int(np.prod(self.image_shape))
        self.num_hidden = int(config.model.num_hidden)
        self.images = {s: flat(split.pixels()) for s, split in self.splits.items()}
        train_pixels = flat(self.train_split.pixels())
        # The base-rate model: each pixel's rate in the training data (expected bits, smoothed).
        self.pixel_rates = model.pixel_rates(train_pixels)
        self.base_bias = np.asarray(model.logit(self.pixel_rates))
        n = config.free_energy_examples
        self.train_subset = np.asarray(
            binarize(jax.random.key(TEST_BINARIZATION_KEY), jnp.asarray(train_pixels[:n]))
        )
        self.tx = rbm_optimizer(config)
        self._free_energy = jax.jit(model.free_energy)
        self._reconstruct = jax.jit(model.mean_reconstruction)
        self._pll = jax.jit(partition.pseudo_log_likelihood)
        self._log_z_cache: dict = {}

    # ---- training ------------------------------------------------------------------------------

    def init_params(self, key: jax.Array):
        return model.init_params(key, self.num_visible, self.num_hidden, self.pixel_rates)

    def extra_state(self, key: jax.Array):
        # PCD's chains start from the base-rate model (independent pixels at the data's rates).
        shape = (self.config.batch_size, self.num_visible)
        rates = jnp.asarray(self.pixel_rates, jnp.float32)
        return {"chains": jax.random.bernoulli(key, rates, shape).astype(jnp.float32)}

    def loss(self, params, batch, key, step, extra):
        del step
        o = self.config.objective
        key_bits, key_gibbs = jax.random.split(key)
        v = batch["image"].reshape(batch["image"].shape[0], -1)
        if self.config.binarize == "dynamic":
            v = binarize(key_bits, v)
        start = extra["chains"] if o.kind == "pcd" else v
        negatives = model.gibbs(jax.lax.stop_gradient(params), start, key_gibbs, o.gibbs_steps)
        value = model.contrastive_divergence(params, v, negatives)
        aux = {"reconstruction_error": model.reconstruction_error(params, v)}
        chains = negatives if o.kind == "pcd" else extra["chains"]
        return value, (aux, {"chains": chains})

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    # ---- evaluation ----------------------------------------------------------------------------

    def has_exact_log_z(self) -> bool:
        return min(self.num_visible, self.num_hidden) <= partition.EXACT_MAX_UNITS

    def log_z(self, params, num_temperatures: int, num_chains: int, seed: int) -> float:
        """log Z: exact when a layer is small enough, else AIS's estimate with
        `num_temperatures` and `num_chains` (the periodic evaluation's)."""
        if self.has_exact_log_z():
            return partition.log_z_exact(params)
        betas = partition.annealing_schedule(num_temperatures)
        key = jax.random.key(seed)
        return partition.ais(params, self.base_bias, betas, num_chains, key).log_z

    def free_energies(self, params, v: np.ndarray) -> np.ndarray:
        return np.asarray(batched(self._free_energy, params, v), np.float64)

    def evaluate(self, params, split: str) -> dict[str, float]:
        c = self.config
        v = self.images[split]
        free = self.free_energies(params, v)
        log_z = self.log_z(params, c.eval_ais.num_temperatures, c.eval_ais.num_chains, EVAL_AIS_KEY)
        train_free = self.free_energies(params, self.train_subset)
        n = min(c.free_energy_examples, len(v))
        recon = self.reconstruct(params, v)
        return {
            "nll_nats": float(np.mean(free) + log_z),
            "pseudo_log_likelihood": self.pseudo_log_likelihood(params, split),
            "reconstruction_error": float(np.mean((recon - v) ** 2)),
            "free_energy": float(np.mean(free[:n])),
            "train_free_energy": float(np.mean(train_free)),
            "free_energy_gap": float(np.mean(free[:n]) - np.mean(train_free)),
        }

    def reconstruct(self, params, v: np.ndarray) -> np.ndarray:
        """The mean-field reconstructions p(v' = 1 | p(h | v)) of rows of bits."""
        return np.asarray(batched(self._reconstruct, params, v))

    def pseudo_log_likelihood(self, params, split: str) -> float:
        """Mean of scikit-learn's per-image pseudo-log-likelihood over the split's first
        `pll_examples`, flipping the bits `BernoulliRBM(random_state=PLL_KEY).score_samples`
        flips (NumPy's RandomState(PLL_KEY).randint), so its number is reproducible there."""
        v = self.images[split][: self.config.pll_examples]
        flip = np.random.RandomState(PLL_KEY).randint(0, v.shape[1], len(v))
        return float(np.mean(self._pll(params, jnp.asarray(v), jnp.asarray(flip))))

    def snapshot(self, params) -> dict[str, np.ndarray]:
        """Ten Gibbs samples after 1,000 steps from the base-rate model, and 20 filters."""
        steps = min(1000, max(self.config.sample_gibbs_steps))
        samples = self.gibbs_samples(params, 10, (steps,))[0]
        return {"samples": samples, "filters": self.filters(params, 20)}

    def gibbs_samples(self, params, n: int, at_steps) -> list[np.ndarray]:
        """Images of `n` chains started from the base-rate model, after each number of Gibbs
        steps in `at_steps` (increasing); each image is p(v = 1 | h), the last step's mean."""
        key_start, key_run = jax.random.split(jax.random.key(SAMPLE_KEY))
        rates = jnp.asarray(self.pixel_rates, jnp.float32)
        v = jax.random.bernoulli(key_start, rates, (n, self.num_visible)).astype(jnp.float32)
        out, done = [], 0
        for i, steps in enumerate(at_steps):
            if steps > done + 1:
                v = _gibbs(params, v, jax.random.fold_in(key_run, i), steps - done - 1)
            key_h = jax.random.fold_in(key_run, 10_000 + i)
            h = model.sample_hidden(params, v, key_h)
            mean = jax.nn.sigmoid(model.visible_logits(params, h))
            out.append(np.asarray(mean).reshape(n, *self.image_shape))
            v = jax.random.bernoulli(jax.random.fold_in(key_h, 1), mean).astype(jnp.float32)
            done = steps
        return out

    def filters(self, params, n: int) -> np.ndarray:
        """The first `n` hidden units' weights as images, each scaled to [0, 1]."""
        return model.filter_images(params["weights"], n, self.image_shape)


_gibbs = jax.jit(model.gibbs)  # one compilation for every number of steps


def flat(images) -> np.ndarray:
    """Images N x H x W x 1 as rows N x (H W)."""
    images = np.asarray(images, np.float32)
    return images.reshape(len(images), -1)
