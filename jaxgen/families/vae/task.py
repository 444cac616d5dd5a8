"""The VAE task: VAE, beta-VAE, conditional VAE and IWAE on an image data set.

Evaluation is in nats on a split binarized once with a fixed key (the same for every run and
seed, as in the literature): the ELBO and the importance-sampled log p(x), reported as NLL in
nats and bits per dimension. The periodic evaluation uses `eval_nll_samples` draws on the
validation split; the report uses `nll_samples` on the test split and adds the latent-space
figures (jaxgen/families/vae/report.py).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import config_splits, train_dataset
from jaxgen.data.binary import STATIC_TRAIN_BINARIZATION_KEY, TEST_BINARIZATION_KEY, binarized
from jaxgen.eval.chunked import EVAL_SPLITS, batched
from jaxgen.families.vae.losses import make_log_weights, make_vae_loss, resolve_objective
from jaxgen.families.vae.model import build_vae
from jaxgen.metrics.likelihood import importance_sampled_log_likelihood
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import make_optimizer

NLL_KEY = 0x11
SNAPSHOT_KEY = 0xF2


class VAETask(LossTask):
    """Trains one VAE; reports test ELBO and importance-sampled NLL in nats, and the figures."""

    batch_axis = 0
    best_metric = "nll_nats"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        objective = config.objective
        splits = config_splits(config)
        train_split = splits["train"]
        if config.model.conditional and train_split.labels_N is None:
            raise ValueError(f"a conditional VAE needs labels; {config.dataset!r} has none")
        self.num_classes = train_split.num_classes or 0
        # likelihood/binarize "auto": Bernoulli on grey digits, discretized logistic on colour.
        objective = self.objective = resolve_objective(
            config.objective, train_split.image_shape[-1]
        )
        if objective.binarize == "static":  # the literature's fixed binarized training set
            train_split = binarized(train_split, STATIC_TRAIN_BINARIZATION_KEY)
        self.splits = {s: splits[s] for s in EVAL_SPLITS}
        if objective.likelihood == "bernoulli":
            self.splits = {
                s: binarized(split, TEST_BINARIZATION_KEY) for s, split in self.splits.items()
            }
        self.train_split = train_split
        self.image_shape = train_split.image_shape
        self.model = build_vae(config.model, objective, self.image_shape, self.num_classes)
        self.loss = make_vae_loss(self.model, objective)
        self.tx = make_optimizer(config)
        self.images = {s: split.pixel_view() for s, split in self.splits.items()}
        self.labels = {s: split.int_labels() for s, split in self.splits.items()}
        log_weights = make_log_weights(self.model, objective.likelihood)

        @functools.partial(jax.jit, static_argnames="num_samples")
        def log_likelihood(params, x, label, index, num_samples):
            # Each chunk of examples draws from the key folded with its first example's index.
            key = jax.random.fold_in(jax.random.key(NLL_KEY), index[0])
            return importance_sampled_log_likelihood(
                lambda k: log_weights(params, x, label, k), key, num_samples
            )

        self._log_likelihood = log_likelihood
        self._encode = jax.jit(lambda p, x, y: self.model.apply(p, x, y, method="encode"))
        self._mean_image = jax.jit(lambda p, z, y: self.model.apply(p, z, y, method="mean_image"))

    def init_params(self, key: jax.Array):
        x = jnp.zeros((1, *self.image_shape))
        return self.model.init(key, x, jnp.zeros((1,), jnp.int32))

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    def evaluate(self, params, split: str) -> dict[str, float]:
        """ELBO and NLL in nats on `split` with `eval_nll_samples` draws (the report uses
        `nll_samples`)."""
        log_px, elbo = self.log_likelihood(params, split, self.config.eval_nll_samples)
        return {"elbo_nats": float(np.mean(elbo)), "nll_nats": float(-np.mean(log_px))}

    def snapshot(self, params) -> dict[str, np.ndarray]:
        """E[x | z] for 20 fixed prior draws, and ten validation inputs above E[x | mean code]
        (TensorBoard's image tab)."""
        x, y = self.images["validation"][:10], self.labels["validation"][:10]
        mean, _ = self.encode(params, x, y)
        recon = self.decode(params, mean, y)
        return {
            "samples": self.sample_pixels(params, 20, SNAPSHOT_KEY),
            "reconstructions": np.concatenate([x, recon]),
        }

    # ---- evaluation pieces -------------------------------------------------------------------

    def log_likelihood(self, params, split: str, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """(log p(x) estimate, ELBO) of every example of `split`, in nats, from `num_samples`
        draws."""
        fn = functools.partial(self._log_likelihood, num_samples=num_samples)
        index = np.arange(len(self.images[split]), dtype=np.int32)
        return batched(fn, params, self.images[split], self.labels[split], index)

    def encode(self, params, images, labels) -> tuple[np.ndarray, np.ndarray]:
        """(mean, logvar) of q(z | x) for every image."""
        return batched(self._encode, params, images, labels)

    def decode(self, params, codes, labels=None) -> np.ndarray:
        """E[x | z] in pixel space for every code (labels default to class 0)."""
        labels = np.zeros(len(codes), np.int32) if labels is None else np.asarray(labels, np.int32)
        return batched(self._mean_image, params, np.asarray(codes, np.float32), labels)

    def sample_pixels(self, params, n: int, key_seed: int) -> np.ndarray:
        """E[x | z] (pixels in [0, 1]) of n prior draws z ~ N(0, I) from a fixed key; the labels
        cycle through the classes when the VAE is conditional."""
        shape = (n, self.config.model.latent_size)
        z = np.asarray(jax.random.normal(jax.random.key(key_seed), shape))
        return self.decode(params, z, np.arange(n) % max(self.num_classes, 1))

    def reconstructions(self, params, pixels) -> np.ndarray:
        """E[x | mean of q(z | x)] in [0, 1] of images in [0, 1] (an array or a split's pixel
        view), unconditioned (class 0 when conditional)."""
        labels = np.zeros(len(pixels), np.int32)
        mean, _ = self.encode(params, pixels, labels)
        return self.decode(params, mean, labels)
