"""p(x) = prod_d N(x_d; mu_d, sigma_d^2) over pixels in [0, 1], fitted by maximum likelihood
with Adam; the closed-form fit (the train split's per-pixel mean and standard deviation) is what
the tests compare it with. Evaluation: the mean -log p(x) of a split in nats per image."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import config_splits, train_dataset
from jaxgen.eval.chunked import EVAL_SPLITS, batched
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import make_optimizer

SAMPLE_KEY = 0x5A  # the noise of every snapshot and of the report's samples


def negative_log_density(params, x_BxD: jax.Array) -> jax.Array:
    """-log p(x) of each row, in nats, under the factorized Gaussian `params`."""
    mu, log_sigma = params["mu"], params["log_sigma"]
    z = (x_BxD - mu) * jnp.exp(-log_sigma)
    return jnp.sum(0.5 * z**2 + log_sigma + 0.5 * math.log(2 * math.pi), axis=-1)


class GaussianTask(LossTask):
    """Fits the factorized Gaussian to the train split; ranks checkpoints by validation NLL."""

    best_metric = "nll_nats"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        splits = config_splits(config)
        self.train_split = splits["train"]
        self.image_shape = self.train_split.image_shape
        self.images = {s: splits[s].pixel_view() for s in EVAL_SPLITS}
        self.tx = make_optimizer(config)
        self._nll = jax.jit(lambda p, x: negative_log_density(p, x.reshape(len(x), -1)))

    def init_params(self, key: jax.Array):
        del key  # a standard normal to start from
        size = math.prod(self.image_shape)
        return {"mu": jnp.zeros(size), "log_sigma": jnp.zeros(size)}

    def loss(self, params, batch, key, step):
        del key, step
        nll = negative_log_density(params, batch["image"].reshape(len(batch["image"]), -1))
        return jnp.mean(nll), {}

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    def evaluate(self, params, split: str) -> dict[str, float]:
        return {"nll_nats": float(np.mean(batched(self._nll, params, self.images[split])))}

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {"samples": self.sample_pixels(params, 10, SAMPLE_KEY)}

    def sample_pixels(self, params, n: int, key_seed: int) -> np.ndarray:
        """n draws from the model, clipped to [0, 1], as images."""
        noise = jax.random.normal(jax.random.key(key_seed), (n, params["mu"].size))
        x = params["mu"] + jnp.exp(params["log_sigma"]) * noise
        return np.clip(np.asarray(x), 0.0, 1.0).reshape(n, *self.image_shape)
