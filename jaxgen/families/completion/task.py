"""The image-completion baselines of the Pyro CVAE tutorial: for each quadrant count q in
`completion.quadrants` (region f"given{q}", jaxgen/data/masks.py), the NN baseline and the
conditional VAE of Sohn et al. (2015) whose prior sees that baseline's guess
(jaxgen/families/completion/model.py, jaxgen/families/completion/losses.py).

Training. Every model of every q lives in one train state, params
{"q1": {"baseline": ..., "cvae": ...}, "q2": ..., ...}, and one Adam updates them all; the loss
is the sum of the NN's masked BCE and the CVAE's negative ELBO for every q. The parameters are
independent, so each model gets the gradient of its own loss alone. Pyro pretrains the baseline
(with early stopping), freezes it and then trains the CVAE on its guess; here both train at once
and the CVAE's prior sees the baseline's *current* guess through stop_gradient, so the CVAE's
loss never moves the baseline. At convergence (a fixed baseline) the two are the same; early on
the CVAE's prior chases a moving guess, which costs nothing measurable at these budgets and
saves a second training phase.

Data. The model input x is the image's given pixels as they are (grey, in [0, 1], as in Pyro)
with the missing ones at -1; the targets are binarized, so that the Bernoulli likelihood is a
probability of something: in training dynamically (a fresh Bernoulli draw per pixel with the
step's key), in evaluation the split binarized once with the VAE family's fixed key
(data/binary.py: TEST_BINARIZATION_KEY, the same binary test images for every run and seed).
Pyro scores grey targets, a cross-entropy rather than a log-likelihood (its numbers are not exactly
comparable; jaxgen/families/completion/report.py says how they differ).

Evaluation (`evaluate`, validation for model selection, test at the end), per q, in nats per
image summed over the missing pixels: the NN's conditional NLL (its masked BCE), the CVAE's
importance-sampled conditional NLL with `eval_nll_samples` draws from q(z | x, y), and its
negative ELBO from the same draws; checkpoints are ranked by the mean over q of the CVAE NLLs.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import config_splits, train_dataset
from jaxgen.data.binary import TEST_BINARIZATION_KEY, binarize, binarized
from jaxgen.data.masks import missing_mask
from jaxgen.eval.chunked import EVAL_SPLITS, batched
from jaxgen.families.completion.losses import conditional_log_likelihood, cvae_loss, masked_bce
from jaxgen.families.completion.model import (
    BaselineNet,
    CompletionCVAE,
    baseline_guess,
    fill_missing,
    masked_input,
)
from jaxgen.families.vae.losses import reparametrize
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import make_optimizer

NLL_KEY = 0xC1  # draws of the evaluation's importance sampling (fixed: every run the same)
DRAW_CHUNK = 20  # z draws per vmapped block of the importance sampling (bounds the memory)
# `completion.quadrants`: the Pyro tutorial's quadrant counts given (regions given1..given3,
# jaxgen/data/masks.py); `completion.missing` names the region of one of them.
QUADRANTS = (1, 2, 3)
MISSING = tuple(f"given{q}" for q in QUADRANTS)


def quadrant_key(q: int) -> str:
    return f"q{q}"


class CompletionTask(LossTask):
    """Trains the NN baseline and the CVAE for every quadrant count side by side; evaluates
    their conditional NLLs of the missing pixels (see the module docstring)."""

    batch_axis = 0
    best_metric = "cvae_cond_nll_nats"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        splits = config_splits(config)
        self.train_split = splits["train"]
        self.image_shape = self.train_split.image_shape
        h, w, c = self.image_shape
        self.dims = h * w * c
        self.quadrants = tuple(int(q) for q in config.completion.quadrants)
        if not self.quadrants or any(q not in QUADRANTS for q in self.quadrants):
            raise ValueError(
                f"completion.quadrants must be among {', '.join(map(str, QUADRANTS))}; "
                f"got {self.quadrants}"
            )
        region = config.completion.missing
        if region not in {f"given{q}" for q in self.quadrants}:
            raise ValueError(
                f"completion.missing {region!r} (the region the report's completions are scored "
                f"on) must be given{{q}} for a trained q in completion.quadrants {self.quadrants}"
            )
        # (H, W) masks, True where missing, and the same over the flattened pixels and channels.
        self.masks = {q: missing_mask(h, w, f"given{q}") for q in self.quadrants}
        self.missing = {
            q: np.repeat(m[..., None], c, axis=-1).reshape(-1) for q, m in self.masks.items()
        }
        model = config.model
        hidden = tuple(int(u) for u in model.hidden)
        self.baseline = BaselineNet(self.dims, hidden)
        self.cvae = CompletionCVAE(
            self.dims, int(model.latent_size), hidden, bool(model.generation_sees_x)
        )
        self.tx = make_optimizer(config)
        self.splits = {s: splits[s] for s in EVAL_SPLITS}
        # Inputs: the grey pixels; targets: the split binarized once with the fixed key.
        self.images = {s: np.asarray(split.pixels()) for s, split in self.splits.items()}
        self.targets = {
            s: np.asarray(binarized(split, TEST_BINARIZATION_KEY).pixels())
            for s, split in self.splits.items()
        }
        self.labels = {s: split.int_labels() for s, split in self.splits.items()}
        self._nlls = jax.jit(self._nlls_chunk, static_argnames="num_samples")
        self._complete = jax.jit(self._complete_chunk, static_argnames="samples")

    # ---- training ------------------------------------------------------------------------------

    def init_params(self, key: jax.Array):
        x = jnp.zeros((1, self.dims))
        params = {}
        for q, k in zip(self.quadrants, jax.random.split(key, len(self.quadrants)), strict=True):
            k_nn, k_cvae = jax.random.split(k)
            params[quadrant_key(q)] = {
                "baseline": self.baseline.init(k_nn, x),
                "cvae": self.cvae.init(k_cvae, x, x, x),
            }
        return params

    def loss(self, params, batch: dict, key: jax.Array, step: jax.Array):
        images = batch["image"].reshape(batch["image"].shape[0], -1)
        key_bits, key_z = jax.random.split(key)
        y = binarize(key_bits, images)  # dynamic binarization of the targets
        total, aux = 0.0, {}
        for q in self.quadrants:
            p, missing = params[quadrant_key(q)], jnp.asarray(self.missing[q])
            x = masked_input(images, missing)
            nn_loss = jnp.mean(masked_bce(self.baseline.apply(p["baseline"], x), y, missing))
            y_hat = baseline_guess(self.baseline, p["baseline"], x)  # gradient stopped
            cvae, parts = cvae_loss(
                self.cvae, p["cvae"], x, y, y_hat, missing, jax.random.fold_in(key_z, q)
            )
            total = total + nn_loss + cvae
            aux[f"nn_loss_q{q}"] = nn_loss
            aux[f"cvae_loss_q{q}"] = cvae
            aux[f"kl_q{q}"] = parts["kl"]
        return total, aux

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    # ---- evaluation ----------------------------------------------------------------------------

    def _nlls_chunk(self, params_q, images, targets, index, *, missing, q, num_samples):
        x = masked_input(images.reshape(len(images), -1), missing)
        y = targets.reshape(len(targets), -1)
        nn_nll = masked_bce(self.baseline.apply(params_q["baseline"], x), y, missing)
        y_hat = baseline_guess(self.baseline, params_q["baseline"], x)
        # Each chunk draws from the key folded with q and its first example's index.
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(NLL_KEY), q), index[0])
        log_p, elbo = conditional_log_likelihood(
            self.cvae, params_q["cvae"], x, y, y_hat, missing, key, num_samples, DRAW_CHUNK
        )
        return {"nn": nn_nll, "cvae": -log_p, "cvae_neg_elbo": -elbo}

    def nlls(self, params, split: str, num_samples: int) -> dict[int, dict[str, np.ndarray]]:
        """{q: {"nn", "cvae", "cvae_neg_elbo"}}: per test example of `split`, in nats, the NN's
        conditional NLL of the binarized missing pixels, the CVAE's importance-sampled one with
        `num_samples` draws z ~ q(z | x, y), and its negative ELBO from the same draws."""
        index = np.arange(len(self.images[split]), dtype=np.int32)
        out = {}
        for q in self.quadrants:
            fn = functools.partial(
                self._nlls, missing=jnp.asarray(self.missing[q]), q=q, num_samples=num_samples
            )
            out[q] = batched(
                fn, params[quadrant_key(q)], self.images[split], self.targets[split], index
            )
        return out

    def evaluate(self, params, split: str) -> dict[str, float]:
        """Per q: `nn_cond_nll_nats_q{q}`, `cvae_cond_nll_nats_q{q}` (with `eval_nll_samples`
        draws; the report uses `nll_samples`), `cvae_neg_elbo_nats_q{q}`; and the means over q,
        `cvae_cond_nll_nats` (which ranks the checkpoints) and `nn_cond_nll_nats`."""
        numbers = {}
        for q, values in self.nlls(params, split, self.config.eval_nll_samples).items():
            numbers[f"nn_cond_nll_nats_q{q}"] = float(np.mean(values["nn"]))
            numbers[f"cvae_cond_nll_nats_q{q}"] = float(np.mean(values["cvae"]))
            numbers[f"cvae_neg_elbo_nats_q{q}"] = float(np.mean(values["cvae_neg_elbo"]))
        for name in ("cvae_cond_nll_nats", "nn_cond_nll_nats"):
            numbers[name] = float(np.mean([numbers[f"{name}_q{q}"] for q in self.quadrants]))
        return numbers

    def _complete_chunk(self, params_q, images, index, *, missing, key, samples):
        shape = images.shape
        x = masked_input(images.reshape(shape[0], -1), missing)
        y_hat = nn.sigmoid(self.baseline.apply(params_q["baseline"], x))
        mean_p, logvar_p = self.cvae.apply(params_q["cvae"], x, y_hat, method="prior")
        key = jax.random.fold_in(key, index[0])

        def decode(z):
            logits = self.cvae.apply(params_q["cvae"], z, x, method="generate")
            return fill_missing(x, nn.sigmoid(logits)).reshape(shape)

        draws = [
            decode(reparametrize(jax.random.fold_in(key, s), mean_p, logvar_p))
            for s in range(samples)
        ]
        out = {"nn": fill_missing(x, y_hat).reshape(shape), "cvae": decode(mean_p)}
        if samples:
            out["cvae_samples"] = jnp.stack(draws, axis=1)  # (N, samples, H, W, C)
        return out

    def completions(
        self, params, q: int, images: np.ndarray, samples: int = 0, seed: int = 0
    ) -> dict[str, np.ndarray]:
        """Completed images (N, H, W, C) in [0, 1] with the given pixels kept as they are:
        "nn", the NN's sigmoid probabilities on the missing pixels; "cvae", the CVAE's mean
        image E[y | x, z] at z = the mean of p(z | x); with `samples`, "cvae_samples"
        (N, samples, H, W, C), E[y | x, z] for draws z ~ p(z | x) (keyed by `seed`)."""
        fn = functools.partial(
            self._complete,
            missing=jnp.asarray(self.missing[q]),
            key=jax.random.key(seed),
            samples=samples,
        )
        index = np.arange(len(images), dtype=np.int32)
        return batched(fn, params[quadrant_key(q)], np.asarray(images, np.float32), index)
