"""The GAN tasks: unconditional and conditional GANs on 2-D mixtures and on images.

Training alternates k discriminator updates and one generator update in one jitted step
(families/gan/adversarial.py) with the loss `objective.loss`. Evaluation uses the generator's weight
average (`objective.average_decay` > 0) and fixed noise keys, so every evaluation of a run, and
every run, sees the same z.

`MixtureGANTask` (datasets "ring", "grid") evaluates the PacGAN mode-collapse numbers
(metrics/modes.py); `ImageGANTask` evaluates FID (and its report KID, the classifier score and
k-NN precision/recall, metrics/sample_quality.py) in the feature space of a classifier trained
by jaxgen on the train split (metrics/classifier.py). The periodic evaluation on the validation
split ranks the checkpoints; the reports are in jaxgen/families/gan/report.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import config_splits, train_dataset
from jaxgen.data.mixtures import MIXTURES, mixture_dataset, mode_centers
from jaxgen.eval.chunked import batched, drawn
from jaxgen.eval.features import ClassifierFeatures
from jaxgen.eval.sample_quality import NOISE_KEYS, SNAPSHOT_NOISE_KEY, to_unit
from jaxgen.families.gan import adversarial
from jaxgen.families.gan.losses import check_loss
from jaxgen.families.gan.model import build_players
from jaxgen.metrics import modes
from jaxgen.train.protocol import Task
from jaxgen.train.state import adam

# Fixed keys, independent of the run's seed.
REAL_KEYS = {"validation": 0x6C, "test": 0x7C}  # real 2-D points of the evaluations


class _TwoPlayerGAN(Task):
    """What both GAN tasks share: the players, their optimizers, the two-player step, sampling
    from fixed noise and the discriminator's mean output."""

    batch_axis = 0

    def __init__(self, config: ml_collections.ConfigDict, data_shape, num_classes: int):
        self.config = config
        check_loss(config.objective.loss)
        self.num_classes = num_classes
        self.conditional = bool(config.model.conditional)
        generator, discriminator = build_players(config.model, data_shape, num_classes)
        self.players = adversarial.Players(
            generator, discriminator, config.model.latent_size, data_shape
        )
        self.txs = {p: adam(config, config[f"{p}_learning_rate"]) for p in adversarial.PLAYERS}
        self.train_step = adversarial.make_adversarial_step(
            self.players, config.objective, self.txs
        )
        self._generate = jax.jit(
            lambda g_vars, z, label: self.players.generate(g_vars, z, label, train=False)[0]
        )
        self._discriminate = jax.jit(
            lambda d_vars, x, label: jax.nn.sigmoid(self.players.discriminate(d_vars, x, label)[0])
        )

    def init_state(self, key: jax.Array) -> adversarial.GANState:
        return adversarial.init_adversarial_state(self.players, self.txs, key)

    def eval_params(self, state: adversarial.GANState):
        return adversarial.evaluation_variables(state, self.config.objective.average_decay > 0)

    def real_batch_size(self) -> int:
        # Each step takes k real minibatches, one per discriminator update.
        return self.config.batch_size * self.config.objective.discriminator_steps

    def sample(self, params, n: int, key_seed: int) -> tuple[np.ndarray, np.ndarray]:
        """n generated examples (images in [-1, 1]) from fixed noise, in chunks, and their
        labels (cycling through the classes; zeros if unconditional)."""
        labels = (np.arange(n) % max(self.num_classes, 1)).astype(np.int32)

        def draw(key, start, count):
            z = self.players.latents(key, count)
            return self._generate(
                params["generator"], z, jnp.asarray(labels[start : start + count])
            )

        return drawn(draw, n, key_seed), labels

    def mean_d(self, params, x: np.ndarray, labels: np.ndarray, pixels: bool = False) -> float:
        """Mean D(x) = sigmoid(logit) over x (in [-1, 1], or in [0, 1] when `pixels`: a split's
        pixels, which may be a streamed split's view), in chunks."""

        def discriminate(d_params, chunk, label):
            return self._discriminate(d_params, chunk * 2.0 - 1.0 if pixels else chunk, label)

        return float(np.mean(batched(discriminate, params["discriminator"], x, labels)))


class MixtureGANTask(_TwoPlayerGAN):
    """A GAN on a 2-D Gaussian mixture; evaluates mode coverage (PacGAN protocol)."""

    best_metric = "mode_overlap"
    best_mode = "max"

    def __init__(self, config: ml_collections.ConfigDict):
        self.centers = mode_centers(config.dataset, config.mixture)
        super().__init__(config, (2,), len(self.centers))

    def train_dataset(self, seed: int):
        return mixture_dataset(self.centers, self.config.mixture.std, self.real_batch_size(), seed)

    def real_points(self, n: int, split: str) -> dict[str, np.ndarray]:
        """n real points drawn with the split's fixed key."""
        dataset = mixture_dataset(self.centers, self.config.mixture.std, n, REAL_KEYS[split])
        return next(iter(dataset))

    def draws(self, params, split: str, n: int) -> tuple[np.ndarray, np.ndarray, dict]:
        """(n generated points, their labels, n real points), from the split's fixed keys."""
        samples, labels = self.sample(params, n, NOISE_KEYS[split])
        return samples, labels, self.real_points(n, split)

    def mode_numbers(self, params, samples, labels, real) -> dict[str, float]:
        """Mode statistics of the generated points, and the mean D(x) on them and on the real
        points."""
        stats = modes.mode_statistics(samples, self.centers, self.config.mixture.std)
        names = ("modes_covered", "high_quality_fraction", "mode_kl", "mode_overlap")
        return {
            **{k: stats[k] for k in names},
            "d_real": self.mean_d(params, real["x"], real["label"]),
            "d_fake": self.mean_d(params, samples, labels),
        }

    def evaluate(self, params, split: str) -> dict[str, float]:
        """`mode_numbers` of `eval_samples` generated and real points."""
        return self.mode_numbers(params, *self.draws(params, split, self.config.eval_samples))

    def evaluation_protocol(self, split: str) -> dict[str, str]:
        n = self.config.eval_samples
        names = ("modes_covered", "high_quality_fraction", "mode_kl", "mode_overlap")
        return {
            **{name: f"{n} generated points" for name in names},
            "d_real": f"mean D(x) over {n} real {split} points",
            "d_fake": f"mean D(x) over {n} generated points",
        }

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {"samples": self.sample(params, 500, SNAPSHOT_NOISE_KEY)[0]}


class ImageGANTask(ClassifierFeatures, _TwoPlayerGAN):
    """A GAN on an image data set; evaluates FID in a jaxgen-trained classifier's features (on a
    set without labels, which has no such classifier, only D(x), and ranks no checkpoints)."""

    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        splits = config_splits(config)
        self.train_split = splits["train"]
        self.splits = {s: splits[s] for s in ("validation", "test")}
        if config.model.conditional and self.train_split.labels_N is None:
            raise ValueError(f"a conditional GAN needs labels; {config.dataset!r} has none")
        num_classes = self.train_split.num_classes or 0
        super().__init__(config, self.train_split.image_shape, num_classes)
        # The feature classifier trains on class labels, or on binary attributes (CelebA).
        self.has_feature_network = (
            self.train_split.labels_N is not None or self.train_split.attributes_NxA is not None
        )
        self.best_metric = "fid" if self.has_feature_network else None

    def train_dataset(self, seed: int):
        images = train_dataset(self.train_split, self.real_batch_size(), seed)
        return images.map(lambda b: {"x": b["image"] * 2.0 - 1.0, "label": b["label"]})

    def evaluate(self, params, split: str) -> dict[str, float]:
        """FID of `eval_samples` generated images against the split's images (when the set has
        labels for the feature classifier), and the mean D(x) on the split's images and on the
        generated ones."""
        samples, labels = self.sample(params, self.config.eval_samples, NOISE_KEYS[split])
        real = self.splits[split]
        numbers = {
            "d_real": self.mean_d(params, real.pixel_view(), real.int_labels(), pixels=True),
            "d_fake": self.mean_d(params, samples, labels),
        }
        if self.has_feature_network:
            numbers["fid"] = self.fid_to(split, to_unit(samples))
        return numbers

    def evaluation_protocol(self, split: str) -> dict[str, str]:
        n = self.config.eval_samples
        protocol = {
            "d_real": f"mean D(x) over the {len(self.splits[split])} {split} images",
            "d_fake": f"mean D(x) over {n} generated images",
        }
        if self.has_feature_network:
            protocol["fid"] = self.fid_protocol(split, n)
        return protocol

    def sample_pixels(self, params, n: int, key_seed: int) -> np.ndarray:
        """n generated images in [0, 1] from fixed noise (labels cycling when conditional)."""
        return to_unit(self.sample(params, n, key_seed)[0])

    def snapshot(self, params) -> dict[str, np.ndarray]:
        return {"samples": self.sample_pixels(params, 10, SNAPSHOT_NOISE_KEY)}


def build_gan_task(config: ml_collections.ConfigDict) -> MixtureGANTask | ImageGANTask:
    """The GAN task for `config.dataset`: a 2-D mixture or an image set."""
    if config.dataset in MIXTURES:
        return MixtureGANTask(config)
    return ImageGANTask(config)
