"""BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): an encoder E, a generator G and a
discriminator D(x, z) that tells encoder pairs (x, E(x)) from generator pairs (G(z), z),
z ~ N(0, I).

One pure step: a discriminator update, then one joint (encoder, generator) update against the
updated discriminator (families/bigan/losses.py: the non-saturating, label-swapped objective). Each
group
has its own Adam (the same rate for E and G), in a `BiGANState`:
  params       {"encoder", "generator", "discriminator"}
  opt_state    {"encoder", "generator", "discriminator"}
  batch_stats  {"generator": ...}  (the DCGAN generator's batch norm)
  average      {"encoder", "generator"}: exponential moving averages of their weights (decay
               `objective.average_decay`, the GANs' schedule, families/gan/adversarial.py), which
               every evaluation uses when the decay is above 0
The step key is split into one key for the discriminator update (its z, the encoder's noise when
stochastic, dropout) and one for the (E, G) update.

Evaluation (`evaluate`) gives the FID of `eval_samples` generated images from fixed noise keys
and the FID and mean L1 (pixels in [0, 1]) of the reconstructions G(E(x)) of the split's first
`eval_samples` images, in the feature space of the data set's feature classifier
(metrics/classifier.py); the best checkpoint has the lowest validation FID. The report
(families/bigan/report.py) adds the label agreement of x and G(E(x)) and linear probes on E's codes.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.data import config_splits, train_dataset
from jaxgen.eval.chunked import batched, drawn
from jaxgen.eval.features import ClassifierFeatures
from jaxgen.eval.sample_quality import NOISE_KEYS, SNAPSHOT_NOISE_KEY, to_unit
from jaxgen.families.bigan.losses import discriminator_loss, encoder_generator_loss
from jaxgen.families.bigan.model import build_bigan, encode
from jaxgen.train import players
from jaxgen.train.protocol import Task
from jaxgen.train.state import PyTree, TrainState, adam

GROUPS = ("encoder", "generator", "discriminator")
AVERAGED = ("encoder", "generator")  # the networks a sample or a reconstruction goes through


@flax.struct.dataclass
class BiGANState(TrainState):
    """params and opt_state hold the three networks (by GROUPS name)."""

    batch_stats: PyTree  # {"generator": ...}
    average: PyTree  # {"encoder": ..., "generator": ...}


class BiGANTask(ClassifierFeatures, Task):
    batch_axis = 0
    best_metric = "fid"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        splits = config_splits(config)
        self.train_split = splits["train"]
        self.splits = {s: splits[s] for s in ("validation", "test")}
        if self.train_split.labels_N is None and self.train_split.attributes_NxA is None:
            raise ValueError(
                f"BiGAN's FID needs a feature classifier, which needs labels; "
                f"{config.dataset!r} has none"
            )
        self.image_shape = self.train_split.image_shape
        self.latent_size = int(config.model.latent_size)
        self.encoder, self.generator, self.discriminator = build_bigan(
            config.model, self.image_shape
        )
        rates = {
            "encoder": config.generator_learning_rate,
            "generator": config.generator_learning_rate,
            "discriminator": config.discriminator_learning_rate,
        }
        self.txs = {g: adam(config, rates[g]) for g in GROUPS}
        self._generate = jax.jit(lambda g_vars, z: self.generator.apply(g_vars, z, train=False))
        self._encode = jax.jit(lambda e_params, x: encode(self.encoder, e_params, x, None))
        self._reconstruct = jax.jit(
            lambda params, x: self.generator.apply(
                params["generator"], encode(self.encoder, params["encoder"], x, None), train=False
            )
        )

    # -- players -----------------------------------------------------------------------------

    def latents(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.normal(key, (n, self.latent_size))

    def _generate_train(self, g_params, g_stats, z):
        """G(z) in train mode (batch statistics) and the updated running averages."""
        x, updates = self.generator.apply(
            {"params": g_params, "batch_stats": g_stats}, z, train=True, mutable=["batch_stats"]
        )
        return x, updates["batch_stats"]

    def _joint_logits(self, d_params, real, codes, fake, z, key):
        """D's logits on the encoder pairs and on the generator pairs, in one call."""
        logits = self.discriminator.apply(
            {"params": d_params},
            jnp.concatenate([real, fake]),
            jnp.concatenate([codes, z]),
            train=True,
            rngs={"dropout": key},
        )
        return jnp.split(logits, 2)

    # -- the protocol ------------------------------------------------------------------------

    def init_state(self, key: jax.Array) -> BiGANState:
        e_key, g_key, d_key = jax.random.split(key, 3)
        x = jnp.zeros((2,) + tuple(self.image_shape))
        z = jnp.zeros((2, self.latent_size))
        g_vars = self.generator.init(g_key, z, train=False)
        params = {
            "encoder": self.encoder.init(e_key, x)["params"],
            "generator": g_vars["params"],
            "discriminator": self.discriminator.init(d_key, x, z, train=False)["params"],
        }
        return BiGANState(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=players.init_optimizers(self.txs, params),
            batch_stats={"generator": g_vars.get("batch_stats", {})},
            average=players.init_averages(params, AVERAGED),
        )

    def train_step(self, state: BiGANState, batch: dict, key: jax.Array):
        d_key, eg_key = jax.random.split(key)
        real = batch["x"]
        n = real.shape[0]
        params = state.params
        g_stats = state.batch_stats["generator"]

        # The discriminator update: E(x) and G(z) are constants here.
        z_key, e_noise, drop_key = jax.random.split(d_key, 3)
        z = self.latents(z_key, n)
        codes = jax.lax.stop_gradient(encode(self.encoder, params["encoder"], real, e_noise))
        fake = jax.lax.stop_gradient(self._generate_train(params["generator"], g_stats, z)[0])

        def d_objective(d_params):
            real_logits, fake_logits = self._joint_logits(d_params, real, codes, fake, z, drop_key)
            aux = {
                "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
                "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
            }
            return discriminator_loss(real_logits, fake_logits), aux

        (d_loss, aux), d_grads = jax.value_and_grad(d_objective, has_aux=True)(
            params["discriminator"]
        )
        d_params, d_opt = players.update(
            self.txs["discriminator"],
            d_grads,
            state.opt_state["discriminator"],
            params["discriminator"],
        )

        # The joint (E, G) update against the updated discriminator.
        z_key, e_noise, drop_key = jax.random.split(eg_key, 3)
        z = self.latents(z_key, n)

        def eg_objective(eg_params):
            codes = encode(self.encoder, eg_params["encoder"], real, e_noise)
            fake, stats = self._generate_train(eg_params["generator"], g_stats, z)
            real_logits, fake_logits = self._joint_logits(d_params, real, codes, fake, z, drop_key)
            return encoder_generator_loss(real_logits, fake_logits), stats

        eg_params = {"encoder": params["encoder"], "generator": params["generator"]}
        (eg_loss, g_stats), eg_grads = jax.value_and_grad(eg_objective, has_aux=True)(eg_params)
        new_params, new_opt = {"discriminator": d_params}, {"discriminator": d_opt}
        for g in ("encoder", "generator"):
            new_params[g], new_opt[g] = players.update(
                self.txs[g], eg_grads[g], state.opt_state[g], eg_params[g]
            )

        metrics = {
            "loss": d_loss,
            "encoder_generator_loss": eg_loss,
            "discriminator_grad_norm": optax.tree.norm(d_grads),
            "encoder_grad_norm": optax.tree.norm(eg_grads["encoder"]),
            "generator_grad_norm": optax.tree.norm(eg_grads["generator"]),
            **aux,
        }
        decay = self.config.objective.average_decay
        new_state = state.replace(
            step=state.step + 1,
            params=new_params,
            opt_state=new_opt,
            batch_stats={"generator": g_stats},
            average=players.moving_averages(state.average, new_params, decay, state.step),
        )
        return new_state, jax.tree.map(lambda m: m.astype(jnp.float32), metrics)

    def train_dataset(self, seed: int):
        images = train_dataset(self.train_split, self.config.batch_size, seed)
        return images.map(lambda b: {"x": b["image"] * 2.0 - 1.0})

    def eval_params(self, state: BiGANState) -> dict:
        """{"encoder": params, "generator": variables, "discriminator": params}: the encoder's
        and generator's weight averages when `objective.average_decay` > 0 (with the live
        generator's batch-norm averages), else their weights."""
        weights = state.average if self.config.objective.average_decay > 0 else state.params
        return {
            "encoder": weights["encoder"],
            "generator": {
                "params": weights["generator"],
                "batch_stats": state.batch_stats["generator"],
            },
            "discriminator": state.params["discriminator"],
        }

    # -- evaluation --------------------------------------------------------------------------

    def sample(self, params, n: int, key_seed: int) -> np.ndarray:
        """n generated images in [-1, 1] from fixed noise, in chunks."""
        return drawn(
            lambda key, start, count: self._generate(params["generator"], self.latents(key, count)),
            n,
            key_seed,
        )

    def sample_pixels(self, params, n: int, key_seed: int) -> np.ndarray:
        """n generated images in [0, 1] from fixed noise."""
        return to_unit(self.sample(params, n, key_seed))

    def codes(self, params, pixels) -> np.ndarray:
        """E(x) (the mean of a stochastic encoder) of images in [0, 1] (an array or a split's
        pixel view), in chunks."""
        return batched(lambda p, x: self._encode(p, x * 2 - 1), params["encoder"], pixels)

    def reconstructions(self, params, pixels) -> np.ndarray:
        """G(E(x)) in [0, 1] of images in [0, 1], in chunks."""
        return to_unit(batched(lambda p, x: self._reconstruct(p, x * 2 - 1), params, pixels))

    def reconstruction_numbers(self, params, split: str, n: int) -> dict[str, float]:
        """FID of G(E(x)) against the split's images and the mean L1 of G(E(x)) - x (pixels in
        [0, 1]), over the split's first n images."""
        pixels = np.asarray(self.splits[split].pixel_view()[:n])
        recon = self.reconstructions(params, pixels)
        return {
            "reconstruction_fid": self.fid_to(split, recon),
            "reconstruction_l1": float(np.mean(np.abs(recon - pixels))),
        }

    def evaluate(self, params, split: str) -> dict[str, float]:
        n = self.config.eval_samples
        samples = self.sample_pixels(params, n, NOISE_KEYS[split])
        return {"fid": self.fid_to(split, samples), **self.reconstruction_numbers(params, split, n)}

    def evaluation_protocol(self, split: str) -> dict[str, str]:
        n = self.config.eval_samples
        first = min(n, len(self.splits[split]))
        return {
            "fid": self.fid_protocol(split, n),
            "reconstruction_fid": self.fid_protocol(
                split, first, f"reconstructions G(E(x)) (of the first {split} images)"
            ),
            "reconstruction_l1": f"the first {first} {split} images",
        }

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {"samples": self.sample_pixels(params, 10, SNAPSHOT_NOISE_KEY)}
