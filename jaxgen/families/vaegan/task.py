"""The VAE-GAN task (Larsen et al. 2016): an encoder, a decoder that is also the GAN's generator,
and a discriminator whose layer-l features measure the reconstruction error.

One pure step (jitted by the loop) computes the three players' gradients at the same parameters
(families/vaegan/losses.py: the encoder's L_prior + L_llike, the decoder's gamma * L_llike + L_G,
the discriminator's -L_GAN) and then steps the encoder, the decoder and the discriminator in that
order, as the reference code does, each with its own Adam; under `objective.equilibrium` the
discriminator keeps its parameters and optimizer state on a step the rule skips.

The state is a `VAEGANState`:
  params       {"encoder", "decoder", "discriminator"}
  opt_state    {"encoder", "decoder", "discriminator"}
  batch_stats  {"decoder": the decoder's batch-norm running averages}
  average      {"encoder", "decoder"}: exponential moving averages of their weights (decay
               `objective.average_decay`, the GANs' schedule, families/gan/adversarial.py), which
               every evaluation uses when the decay is above 0

Images are mapped to [-1, 1] (the decoder's tanh range). Evaluation, as `ImageGANTask`'s: FID of
`eval_samples` prior samples from a fixed noise key against the split, in the feature space of
jaxgen's digit classifier (metrics/classifier.py), and the reconstruction error of the split's
images (decoded from the mean code), in [0, 1] pixels.
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
from jaxgen.eval.reconstruction import reconstruction_error
from jaxgen.eval.sample_quality import NOISE_KEYS, SNAPSHOT_NOISE_KEY, to_unit
from jaxgen.families.vaegan.losses import make_player_gradients
from jaxgen.families.vaegan.model import build_vaegan
from jaxgen.train import players
from jaxgen.train.protocol import Task
from jaxgen.train.state import PyTree, TrainState, adam

PLAYERS = ("encoder", "decoder", "discriminator")
AVERAGED = ("encoder", "decoder")  # the players a sample or a reconstruction goes through


@flax.struct.dataclass
class VAEGANState(TrainState):
    """The three players' params and opt_states (by PLAYERS name), and the decoder's batch
    statistics."""

    batch_stats: PyTree  # {"decoder": ...}
    average: PyTree  # {"encoder": ..., "decoder": ...}


class VAEGANTask(ClassifierFeatures, Task):
    """Trains a VAE-GAN on an image set; evaluates prior samples' FID and reconstruction MSE."""

    batch_axis = 0
    best_mode = "min"
    conditional = False  # what eval/sample_quality.py's sample-quality section reads

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        splits = config_splits(config)
        self.train_split = splits["train"]
        self.splits = {s: splits[s] for s in ("validation", "test")}
        self.image_shape = self.train_split.image_shape
        self.num_classes = self.train_split.num_classes or 0
        self.has_feature_network = (
            self.train_split.labels_N is not None or self.train_split.attributes_NxA is not None
        )
        self.best_metric = "fid" if self.has_feature_network else "recon_mse"
        self.encoder, self.decoder, self.discriminator = build_vaegan(
            config.model, self.image_shape
        )
        self.latent_size = config.model.latent_size
        self.txs = {p: adam(config, config.learning_rate) for p in PLAYERS}
        self._gradients = make_player_gradients(
            self.encoder, self.decoder, self.discriminator, config.objective
        )
        self._generate = jax.jit(lambda d_vars, z: self.decoder.apply(d_vars, z, None, train=False))

        def reconstruct(params, x):
            mean, _ = self.encoder.apply(params["encoder"], x)
            return self.decoder.apply(params["decoder"], mean, None, train=False)

        self._reconstruct = jax.jit(reconstruct)

    # ---- training --------------------------------------------------------------------------

    def init_state(self, key: jax.Array) -> VAEGANState:
        e_key, d_key, s_key = jax.random.split(key, 3)
        x = jnp.zeros((2, *self.image_shape))
        z = jnp.zeros((2, self.latent_size))
        dec_vars = self.decoder.init(d_key, z, None, train=False)
        params = {
            "encoder": self.encoder.init(e_key, x)["params"],
            "decoder": dec_vars["params"],
            "discriminator": self.discriminator.init(s_key, x)["params"],
        }
        return VAEGANState(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=players.init_optimizers(self.txs, params),
            batch_stats={"decoder": dec_vars["batch_stats"]},
            average=players.init_averages(params, AVERAGED),
        )

    def train_step(self, state: VAEGANState, batch: dict, key: jax.Array):
        grads, dec_stats, update_d, metrics = self._gradients(
            state.params, state.batch_stats["decoder"], batch["x"], key
        )
        params, opt_state = {}, {}
        for p in PLAYERS:  # encoder, decoder, discriminator: the reference's order
            params[p], opt_state[p] = players.update(
                self.txs[p], grads[p], state.opt_state[p], state.params[p]
            )
            metrics[f"{p}_grad_norm"] = optax.tree.norm(grads[p])
        # The equilibrium rule's skipped discriminator step keeps its params and Adam moments.
        keep = lambda new, old: jnp.where(update_d, new, old)  # noqa: E731
        params["discriminator"] = jax.tree.map(
            keep, params["discriminator"], state.params["discriminator"]
        )
        opt_state["discriminator"] = jax.tree.map(
            keep, opt_state["discriminator"], state.opt_state["discriminator"]
        )
        decay = self.config.objective.average_decay
        new_state = state.replace(
            step=state.step + 1,
            params=params,
            opt_state=opt_state,
            batch_stats={"decoder": dec_stats},
            average=players.moving_averages(state.average, params, decay, state.step),
        )
        return new_state, jax.tree.map(lambda m: jnp.asarray(m, jnp.float32), metrics)

    def train_dataset(self, seed: int):
        images = train_dataset(self.train_split, self.config.batch_size, seed)
        return images.map(lambda b: {"x": b["image"] * 2.0 - 1.0, "label": b["label"]})

    def eval_params(self, state: VAEGANState):
        """The players' variables for evaluation: the encoder's and the decoder's weight
        averages when `objective.average_decay` > 0 (with the live decoder's batch-norm
        averages), else their weights."""
        weights = state.average if self.config.objective.average_decay > 0 else state.params
        return {
            "encoder": {"params": weights["encoder"]},
            "decoder": {
                "params": weights["decoder"],
                "batch_stats": state.batch_stats["decoder"],
            },
            "discriminator": {"params": state.params["discriminator"]},
        }

    # ---- evaluation pieces -----------------------------------------------------------------

    def sample(self, params, n: int, key_seed: int) -> tuple[np.ndarray, np.ndarray]:
        """n prior samples Dec(z_p) (images in [-1, 1]) from a fixed noise key, in chunks, and
        zero labels (the task is unconditional)."""

        def draw(key, start, count):
            z = jax.random.normal(key, (count, self.latent_size))
            return self._generate(params["decoder"], z)

        return drawn(draw, n, key_seed), np.zeros(n, np.int32)

    def reconstructions(self, params, images) -> np.ndarray:
        """Dec(mean of q(z | x)) in [0, 1] pixels for images in [0, 1] (a split's pixel view)."""
        return batched(lambda p, x: to_unit(self._reconstruct(p, x * 2.0 - 1.0)), params, images)

    def recon_mse(self, params, split: str) -> float:
        """Mean squared error per pixel of the split's reconstructions, in [0, 1] pixels."""
        return reconstruction_error(self.reconstructions, params, self.splits[split].pixel_view())

    def evaluate(self, params, split: str) -> dict[str, float]:
        """FID of `eval_samples` prior samples (fixed noise) against the split's images, when
        the set has labels for the feature classifier, and the split's reconstruction MSE."""
        numbers = {"recon_mse": self.recon_mse(params, split)}
        if self.has_feature_network:
            samples = self.sample_pixels(params, self.config.eval_samples, NOISE_KEYS[split])
            numbers["fid"] = self.fid_to(split, samples)
        return numbers

    def evaluation_protocol(self, split: str) -> dict[str, str]:
        protocol = {"recon_mse": f"all {len(self.splits[split])} {split} images"}
        if self.has_feature_network:
            protocol["fid"] = self.fid_protocol(split, self.config.eval_samples, "prior samples")
        return protocol

    def sample_pixels(self, params, n: int, key_seed: int) -> np.ndarray:
        """n prior samples Dec(z_p) in [0, 1] from a fixed noise key."""
        return to_unit(self.sample(params, n, key_seed)[0])

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {"samples": self.sample_pixels(params, 10, SNAPSHOT_NOISE_KEY)}
