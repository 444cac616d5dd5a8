"""A plain autoencoder and a VAE with the same network and code size, trained side by side, to
test two of the textbook claims about their latent spaces (jaxgen/families/latent_codes/report.py):

- "latent_sampling": an AE's latent space decodes poorly away from its codes (N(0, I) draws, or
  even a Gaussian fitted to its codes, decode to poor digits; linear paths between codes leave
  the digit classes), while a VAE's can be sampled from its prior;
- "clustering": k-means on the codes (AE codes, VAE means) against k-means on the pixels and on
  PCA codes of the same size, scored against the classes (the DEC paper's protocol).

Training. Both models live in one train state, params {"ae": ..., "vae": ...}, updated by one
optimizer on the sum of the AE's reconstruction loss (per-pixel Bernoulli cross-entropy against
the grey pixels, families/autoencoder/losses.py) and the VAE's negative ELBO
(families/vae/losses.py; Bernoulli likelihood on dynamically binarized pixels). The parameters are
independent, so each model gets the gradient of its own loss alone. The network is an autoencoder
block (`config.model`, families/autoencoder/model.py): the AE's code has `model.latent_size` units,
the VAE's encoder 2 * latent_size (mean and log-variance) and its decoder takes latent_size.

Evaluation (`evaluate`), in nats per image: `ae_bce_nats` and `vae_bce_nats`, the reconstruction
cross-entropy of the grey split images from the AE's code and from the VAE's mean code (the
same measure for both); `vae_neg_elbo_nats`, the VAE's negative ELBO on the split binarized once
with the VAE family's fixed key, from `elbo_samples` draws with a fixed key (ranks checkpoints).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import config_splits, train_dataset
from jaxgen.data.binary import TEST_BINARIZATION_KEY, binarized
from jaxgen.eval.chunked import EVAL_SPLITS, batched
from jaxgen.eval.features import ClassifierFeatures
from jaxgen.families.autoencoder.config import objective_config
from jaxgen.families.autoencoder.losses import make_autoencoder_loss
from jaxgen.families.autoencoder.model import build_autoencoder
from jaxgen.families.vae.losses import (
    log_bernoulli,
    make_log_weights,
    make_vae_loss,
    resolve_objective,
)
from jaxgen.families.vae.model import build_vae
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import make_optimizer

ELBO_KEY = 0xE1  # draws of the evaluation's ELBO (fixed: every run and seed the same)
REPORT_KINDS = ("latent_sampling", "clustering")


class LatentCodesTask(ClassifierFeatures, LossTask):
    """Trains an AE and a VAE of the same network side by side (see the module docstring)."""

    batch_axis = 0
    best_metric = "vae_neg_elbo_nats"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        if config.report_kind not in REPORT_KINDS:
            raise ValueError(f"unknown report_kind {config.report_kind!r}; one of {REPORT_KINDS}")
        splits = config_splits(config)
        self.train_split = splits["train"]
        if self.train_split.labels_N is None:
            raise ValueError(f"the latent-code experiments need class labels; {config.dataset!r}")
        self.image_shape = self.train_split.image_shape
        if self.image_shape[-1] != 1:
            raise ValueError("the latent-code experiments are for grey digit images")
        self.objective = resolve_objective(config.objective, 1)
        if self.objective.likelihood != "bernoulli" or self.objective.kind != "elbo":
            raise ValueError("the VAE here has the Bernoulli likelihood and the ELBO objective")
        self.latent_size = int(config.model.latent_size)
        ae_block = ml_collections.ConfigDict(config.model.to_dict())
        ae_block.code_size = self.latent_size
        ae_block.code_activation = "linear"
        self.ae = build_autoencoder(ae_block, self.image_shape)
        self.vae = build_vae(config.model, config.objective, self.image_shape)
        self.ae_loss = make_autoencoder_loss(
            self.ae, objective_config(reconstruction="bce", output="sigmoid")
        )
        self.vae_loss = make_vae_loss(self.vae, config.objective)
        self.tx = make_optimizer(config)
        self.splits = {s: splits[s] for s in EVAL_SPLITS}
        self.images = {s: split.pixel_view() for s, split in self.splits.items()}
        self.binary = {
            s: binarized(split, TEST_BINARIZATION_KEY).pixel_view()
            for s, split in self.splits.items()
        }
        self.labels = {s: split.int_labels() for s, split in self.splits.items()}
        log_weights = make_log_weights(self.vae, "bernoulli")
        num_samples = int(config.elbo_samples)

        @jax.jit
        def numbers(params, x, bits, index):
            ae_code, _ = self.ae.apply(params["ae"], x, method="encode")
            ae_logits = self.ae.apply(params["ae"], ae_code, method="decode")
            label = jnp.zeros(len(x), jnp.int32)
            mean, _ = self.vae.apply(params["vae"], x, label, method="encode")
            vae_logits, _ = self.vae.apply(params["vae"], mean, label, method="decode")
            key = jax.random.fold_in(jax.random.key(ELBO_KEY), index[0])
            log_w = jax.vmap(lambda k: log_weights(params["vae"], bits, label, k))(
                jax.random.split(key, num_samples)
            )
            return {
                "ae_bce": -log_bernoulli(x, ae_logits),
                "vae_bce": -log_bernoulli(x, vae_logits),
                "vae_neg_elbo": -jnp.mean(log_w, axis=0),
            }

        self._numbers = numbers
        self._encode_ae = jax.jit(lambda p, x: self.ae.apply(p["ae"], x, method="encode")[0])
        self._encode_vae = jax.jit(
            lambda p, x: self.vae.apply(p["vae"], x, None, method="encode")[0]
        )
        self._decode_ae = jax.jit(
            lambda p, z: jax.nn.sigmoid(self.ae.apply(p["ae"], z, method="decode"))
        )
        self._decode_vae = jax.jit(
            lambda p, z: self.vae.apply(p["vae"], z, None, method="mean_image")
        )

    # ---- training ------------------------------------------------------------------------------

    def init_params(self, key: jax.Array):
        k_ae, k_vae = jax.random.split(key)
        x = jnp.zeros((1, *self.image_shape))
        return {
            "ae": self.ae.init(k_ae, x),
            "vae": self.vae.init(k_vae, x, jnp.zeros((1,), jnp.int32)),
        }

    def loss(self, params, batch: dict, key: jax.Array, step: jax.Array):
        k_ae, k_vae = jax.random.split(key)
        ae, ae_aux = self.ae_loss(params["ae"], batch, k_ae, step)
        vae, vae_aux = self.vae_loss(params["vae"], batch, k_vae, step)
        aux = {
            "ae_bce_per_pixel": ae_aux["reconstruction"],
            "vae_neg_elbo": -vae_aux["elbo"],
            "vae_kl_nats": vae_aux["kl_nats"],
        }
        return ae + vae, aux

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    # ---- evaluation ----------------------------------------------------------------------------

    def per_example(self, params, split: str) -> dict[str, np.ndarray]:
        """Per example of `split`, in nats: "ae_bce", "vae_bce", "vae_neg_elbo"."""
        index = np.arange(len(self.images[split]), dtype=np.int32)
        return batched(self._numbers, params, self.images[split], self.binary[split], index)

    def evaluate(self, params, split: str) -> dict[str, float]:
        """`ae_bce_nats`, `vae_bce_nats`, `vae_neg_elbo_nats` (means over the split)."""
        values = self.per_example(params, split)
        return {
            "ae_bce_nats": float(np.mean(values["ae_bce"])),
            "vae_bce_nats": float(np.mean(values["vae_bce"])),
            "vae_neg_elbo_nats": float(np.mean(values["vae_neg_elbo"])),
        }

    def encode(self, params, model: str, images) -> np.ndarray:
        """The AE's codes ("ae") or the VAE's mean codes ("vae") of `images`, in chunks."""
        fn = self._encode_ae if model == "ae" else self._encode_vae
        return batched(fn, params, images)

    def decode(self, params, model: str, codes) -> np.ndarray:
        """Images in [0, 1] decoded from `codes` by the AE ("ae": sigmoid of its logits) or the
        VAE ("vae": E[x | z])."""
        fn = self._decode_ae if model == "ae" else self._decode_vae
        return batched(fn, params, np.asarray(codes, np.float32))
