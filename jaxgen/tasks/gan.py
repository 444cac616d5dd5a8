"""The GAN task: unconditional and conditional GANs on 2-D mixtures and on digit images.

Training alternates k discriminator updates and one generator update in one jitted step
(train/adversarial.py) with the loss `objective.loss`. Evaluation uses the generator's weight
average (`objective.average_decay` > 0) and fixed noise keys, so every evaluation of a run, and
every run, sees the same z.

On 2-D mixtures ("ring", "grid") the report gives the PacGAN mode-collapse numbers
(metrics/modes.py) on `num_samples` generated points, and the points over training. On images it
gives FID, KID, the classifier score and k-NN precision/recall (metrics/sample_quality.py) in the
feature space of a digit classifier trained by jaxgen on the train split (metrics/classifier.py):
`num_samples` generated images against the whole test split, next to the same numbers for as many
real train images (the floor a perfect generator would reach with these sample counts). The
periodic evaluation computes FID on `eval_num_samples` images and ranks the checkpoints by it.
"""

from __future__ import annotations

import functools
import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.config import base_config, smoke
from jaxgen.data import load_split, train_dataset
from jaxgen.data.mixtures import MIXTURES, mixture_config, mixture_dataset, mode_centers
from jaxgen.losses.gan import check_loss
from jaxgen.metrics import modes, sample_quality
from jaxgen.metrics.classifier import load_classifier
from jaxgen.models.gan import build_players
from jaxgen.train import adversarial
from jaxgen.train.logging import read_metrics
from jaxgen.train.state import adam
from jaxgen.viz import figures
from jaxgen.viz.report import Report, markdown_table

# Fixed keys, independent of the run's seed.
EVAL_NOISE_KEY = 0x6A  # the z (and labels) of every evaluation and report
SNAPSHOT_NOISE_KEY = 0x6B  # the z of the samples-over-training figure
REAL_EVAL_KEY = 0x6C  # real 2-D points for D(x) at evaluation; the train subset of the floor
CHUNK = 500  # examples per jitted generator / classifier call


def gan_model_config(kind: str = "mlp", **overrides) -> ml_collections.ConfigDict:
    """A `config.model` block with every key models/gan.py reads."""
    block = ml_collections.ConfigDict(
        {
            "kind": kind,  # mlp | dcgan
            "latent_size": 2 if kind == "mlp" else 100,
            "generator_hidden": (128, 128, 128),  # mlp
            "discriminator_hidden": (128, 128, 128),  # mlp
            "generator_channels": (256, 128, 64),  # dcgan
            "discriminator_channels": (64, 128),  # dcgan
            "spectral_norm": False,
            "conditional": False,
        }
    )
    block.update(overrides)
    return block


def gan_objective_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.objective` block with every key train/adversarial.py reads."""
    block = ml_collections.ConfigDict(
        {
            "loss": "non_saturating",  # minimax | non_saturating | wasserstein_gp | hinge
            "discriminator_steps": 1,
            "gradient_penalty": 10.0,
            "average_decay": 0.999,  # generator weight average for evaluation; 0: none
            "compare_generator_losses": False,
        }
    )
    block.update(overrides)
    return block


def gan_config(model_kind: str = "mlp", **overrides) -> ml_collections.ConfigDict:
    """A GAN experiment's config: common keys, the GAN task's keys, then `overrides`.

    dataset: "ring" or "grid" (2-D mixtures, shaped by `mixture`) or a digit set.
    num_samples: generated examples in the report; eval_num_samples: in the periodic evaluation.
    """
    config = base_config(
        task="gan",
        dataset="ring",
        steps=4000,
        batch_size=256,
        eval_every=500,
        checkpoint_every=500,
        log_every=10,
        generator_learning_rate=1e-3,
        discriminator_learning_rate=1e-3,
        adam_b1=0.5,
        adam_b2=0.999,
        num_samples=2500,
        eval_num_samples=2500,
        mixture=mixture_config(),
        model=gan_model_config(model_kind),
        objective=gan_objective_config(),
    )
    config.update(overrides)
    return config


def gan_smoke(config: ml_collections.ConfigDict) -> None:
    """The seconds-long version of a GAN experiment: one seed, tiny players, few samples."""
    image_set = config.dataset not in MIXTURES
    smoke(
        config,
        steps=20,
        batch_size=32,
        num_samples=200,
        eval_num_samples=100,
        seeds="",
        dataset="digits" if image_set else config.dataset,
    )
    config.model.update(
        generator_hidden=(16,),
        discriminator_hidden=(16,),
        generator_channels=(16, 8, 4),
        discriminator_channels=(4, 8),
        latent_size=min(config.model.latent_size, 8),
    )


def dcgan_config(preset: str, conditional: bool = False) -> ml_collections.ConfigDict:
    """The DCGAN experiments' config (experiments/dcgan.py, cgan.py): the tutorial's recipe
    (non-saturating loss, Adam 2e-4 with beta1 0.5) at half the classic widths by default, the
    classic widths on full MNIST with `full`."""
    config = gan_config(
        "dcgan",
        dataset="mnist5k",
        steps=1500,
        batch_size=64,
        generator_learning_rate=2e-4,
        discriminator_learning_rate=2e-4,
        eval_every=250,
        checkpoint_every=250,
        num_samples=4000,
        eval_num_samples=1000,
    )
    config.model.update(
        generator_channels=(128, 64, 32), discriminator_channels=(32, 64), conditional=conditional
    )
    config.objective.update(loss="non_saturating", average_decay=0.999)
    if preset == "smoke":
        gan_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, batch_size=128, num_samples=10000)
        config.model.update(generator_channels=(256, 128, 64), discriminator_channels=(64, 128))
    return config


def _to_unit(x):
    """Generated images from [-1, 1] to pixels in [0, 1]."""
    return (x + 1.0) / 2.0


class GANTask:
    """Trains a generator and a discriminator; reports mode coverage or sample quality."""

    batch_axis = 0

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        check_loss(config.objective.loss)
        self.on_mixture = config.dataset in MIXTURES
        if self.on_mixture:
            self.centers = mode_centers(config.dataset, config.mixture)
            self.num_classes = len(self.centers)
            data_shape: tuple[int, ...] = (2,)
            self.best_metric, self.best_mode = "mode_overlap", "max"
        else:
            self.train_split = load_split(config.dataset, "train")
            self.test_split = load_split(config.dataset, "test")
            if config.model.conditional and self.train_split.labels_N is None:
                raise ValueError(f"a conditional GAN needs labels; {config.dataset!r} has none")
            self.num_classes = self.train_split.num_classes or 0
            data_shape = self.train_split.image_shape
            self.best_metric, self.best_mode = "fid", "min"
        self.conditional = bool(config.model.conditional)
        generator, discriminator = build_players(config.model, data_shape, self.num_classes)
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

    # --- the loop's protocol --------------------------------------------------------------

    def init_state(self, key):
        return adversarial.init_adversarial_state(self.players, self.txs, key)

    def eval_params(self, state):
        return adversarial.evaluation_variables(state, self.config.objective.average_decay > 0)

    def train_dataset(self, seed: int):
        # Each step takes k real minibatches, one per discriminator update.
        batch = self.config.batch_size * self.config.objective.discriminator_steps
        if self.on_mixture:
            return mixture_dataset(self.centers, self.config.mixture.std, batch, seed)
        images = train_dataset(self.train_split, batch, seed)
        return images.map(lambda b: {"x": b["image"] * 2.0 - 1.0, "label": b["label"]})

    def evaluate(self, params) -> dict[str, float]:
        n = self.config.eval_num_samples
        samples, labels = self.sample(params, n, EVAL_NOISE_KEY)
        numbers = {"d_fake": self._mean_d(params, samples, labels)}
        if self.on_mixture:
            real = self._real_points(n)
            numbers["d_real"] = self._mean_d(params, real["x"], real["label"])
            stats = modes.mode_statistics(samples, self.centers, self.config.mixture.std)
            names = ("modes_covered", "high_quality_fraction", "mode_kl", "mode_overlap")
            numbers.update({k: stats[k] for k in names})
            return numbers
        real = self.test_split.pixels()
        numbers["d_real"] = self._mean_d(params, real * 2.0 - 1.0, self.test_split.int_labels())
        classifier = load_classifier(self.config.dataset)
        numbers["fid"] = sample_quality.fid(
            self.test_features, classifier.features(_to_unit(samples))
        )
        return numbers

    def snapshot(self, params) -> dict[str, np.ndarray]:
        n = 500 if self.on_mixture else 10
        samples, _ = self.sample(params, n, SNAPSHOT_NOISE_KEY)
        return {"samples": samples if self.on_mixture else _to_unit(samples)}

    # --- sampling ---------------------------------------------------------------------------

    def sample(self, params, n: int, key_seed: int) -> tuple[np.ndarray, np.ndarray]:
        """n generated examples (images in [-1, 1]) from fixed noise, in chunks, and their
        labels (cycling through the classes; zeros if unconditional)."""
        key = jax.random.key(key_seed)
        labels = (np.arange(n) % max(self.num_classes, 1)).astype(np.int32)
        parts = []
        for start in range(0, n, CHUNK):
            z = self.players.latents(jax.random.fold_in(key, start), min(CHUNK, n - start))
            label = jnp.asarray(labels[start : start + len(z)])
            parts.append(np.asarray(self._generate(params["generator"], z, label)))
        return np.concatenate(parts), labels

    def _mean_d(self, params, x: np.ndarray, labels: np.ndarray) -> float:
        """Mean D(x) = sigmoid(logit) over x, in chunks."""
        values = [
            np.asarray(
                self._discriminate(
                    params["discriminator"], x[i : i + CHUNK], jnp.asarray(labels[i : i + CHUNK])
                )
            )
            for i in range(0, len(x), CHUNK)
        ]
        return float(np.mean(np.concatenate(values)))

    def _real_points(self, n: int) -> dict[str, np.ndarray]:
        return next(iter(mixture_dataset(self.centers, self.config.mixture.std, n, REAL_EVAL_KEY)))

    @functools.cached_property
    def test_features(self) -> np.ndarray:
        """The classifier's features of the test split: the reference of every FID."""
        return load_classifier(self.config.dataset).features(self.test_split.pixels())

    # --- the report -------------------------------------------------------------------------

    def report(self, params, workdir: pathlib.Path) -> Report:
        workdir = pathlib.Path(workdir)
        numbers, sections, figure_files = (
            self._mixture_report(params, workdir)
            if self.on_mixture
            else self._image_report(params, workdir)
        )
        figure_files += self._training_figures(workdir)
        cfg = self.config
        protocol = (
            f"{cfg.objective.loss} GAN ({cfg.model.kind}"
            f"{', conditional' if self.conditional else ''}"
            f"{', spectral norm in D' if cfg.model.spectral_norm else ''}), "
            f"{cfg.objective.discriminator_steps} discriminator update(s) per generator update, "
            f"learning rates G {cfg.generator_learning_rate:g} / D "
            f"{cfg.discriminator_learning_rate:g}, Adam betas ({cfg.adam_b1:g}, {cfg.adam_b2:g}), "
            f"batch {cfg.batch_size}; evaluated with "
            + (
                f"the generator's weight average (decay {cfg.objective.average_decay:g})"
                if cfg.objective.average_decay > 0
                else "the generator's final weights"
            )
            + " and fixed noise."
        )
        figure_text = "\n\n".join(f"![{p.stem}]({p.name})" for p in figure_files)
        return Report(numbers, [("Protocol", protocol), *sections, ("Figures", figure_text)])

    def _mixture_report(self, params, workdir: pathlib.Path):
        cfg = self.config
        n = cfg.num_samples
        samples, labels = self.sample(params, n, EVAL_NOISE_KEY)
        stats = modes.mode_statistics(samples, self.centers, cfg.mixture.std)
        real = self._real_points(n)
        numbers = {
            "modes_covered": stats["modes_covered"],
            "num_modes": len(self.centers),
            "high_quality_fraction": stats["high_quality_fraction"],
            "mode_kl": stats["mode_kl"],
            "mode_overlap": stats["mode_overlap"],
            "num_samples": n,
            "d_real": self._mean_d(params, real["x"], real["label"]),
            "d_fake": self._mean_d(params, samples, labels),
        }
        real_stats = modes.mode_statistics(real["x"], self.centers, cfg.mixture.std)
        rows = [
            [
                "generated",
                stats["modes_covered"],
                f"{stats['high_quality_fraction']:.3f}",
                f"{stats['mode_kl']:.3f}",
            ],
            [
                "real (reference)",
                real_stats["modes_covered"],
                f"{real_stats['high_quality_fraction']:.3f}",
                f"{real_stats['mode_kl']:.3f}",
            ],
        ]
        text = (
            f"{n} samples; a sample is high quality within 3 standard deviations "
            f"({3 * cfg.mixture.std:g}) of its nearest of the {len(self.centers)} modes; "
            "mode KL is KL(histogram of the high-quality samples over modes || uniform), nats "
            "(PacGAN protocol, metrics/modes.py).\n\n"
            + markdown_table(["", "modes covered", "high-quality fraction", "mode KL"], rows)
            + f"\n\nD(x): {numbers['d_real']:.3f} on real points, {numbers['d_fake']:.3f} on "
            "generated ones (0.5 at the equilibrium)."
        )
        figure_files = [
            figures.points_over_training(
                [("generated", samples), ("real", real["x"])],
                self.centers,
                workdir / "samples.png",
                f"{n} generated and real points; modes as red rings",
            )
        ]
        snapshots = _read_snapshots(workdir)
        if snapshots:
            figure_files.append(
                figures.points_over_training(
                    [(f"step {s}", a["samples"]) for s, a in snapshots],
                    self.centers,
                    workdir / "samples_over_training.png",
                    "generated points (fixed noise) over training",
                )
            )
        return numbers, [("Mode coverage", text)], figure_files

    def _image_report(self, params, workdir: pathlib.Path):
        cfg = self.config
        classifier = load_classifier(cfg.dataset)
        n = min(cfg.num_samples, len(self.train_split))
        samples, labels = self.sample(params, n, EVAL_NOISE_KEY)
        images = _to_unit(samples)
        fake_features, fake_probs = classifier.features(images), classifier.probabilities(images)
        floor_index = np.random.default_rng(REAL_EVAL_KEY).permutation(len(self.train_split))[:n]
        floor_images = self.train_split.pixels()[floor_index]
        numbers = sample_quality.sample_quality(
            self.test_features,
            fake_features,
            fake_probs,
            floor_features=classifier.features(floor_images),
        )
        real_score, _ = sample_quality.classifier_score(classifier.probabilities(floor_images))
        numbers["classifier_score_real"] = real_score
        numbers["feature_classifier_test_accuracy"] = classifier.test_accuracy
        if self.conditional:
            numbers["label_accuracy"] = float(np.mean(fake_probs.argmax(axis=1) == labels))
        numbers["d_real"] = self._mean_d(
            params, self.test_split.pixels() * 2.0 - 1.0, self.test_split.int_labels()
        )
        numbers["d_fake"] = self._mean_d(params, samples, labels)
        rows = [
            ["FID", f"{numbers['fid']:.2f}", f"{numbers['fid_floor']:.2f}"],
            [
                "KID",
                f"{numbers['kid']:.4f} ± {numbers['kid_std_error']:.4f}",
                f"{numbers['kid_floor']:.4f}",
            ],
            [
                "classifier score",
                f"{numbers['classifier_score']:.3f} ± {numbers['classifier_score_std']:.3f}",
                f"{real_score:.3f}",
            ],
            ["precision (k=3)", f"{numbers['precision']:.3f}", f"{numbers['precision_floor']:.3f}"],
            ["recall (k=3)", f"{numbers['recall']:.3f}", f"{numbers['recall_floor']:.3f}"],
        ]
        text = (
            f"{n} generated images against the {numbers['num_real']} test images, in the "
            f"128-d feature space of jaxgen's digit classifier (test accuracy "
            f"{classifier.test_accuracy:.4f}; metrics/classifier.py). The floor column puts {n} "
            "real train images in the generator's place: what a perfect generator would score "
            "with these sample counts. KID: unbiased MMD^2 with the cubic kernel over 100 "
            "subsets, ± its standard error; classifier score: the Inception Score with this "
            "classifier, ± std over 10 splits.\n\n"
            + markdown_table(["metric", "generated", "floor (real train)"], rows)
        )
        if self.conditional:
            text += (
                f"\n\nThe classifier gives the conditioning label to "
                f"{numbers['label_accuracy']:.1%} of the generated images."
            )
        columns = 10
        if self.conditional:
            grid, rows_n, title = (
                _by_class(images, labels, columns),
                self.num_classes,
                "one row per class",
            )
        else:
            grid, rows_n, title = images[: 8 * columns], 8, "fixed noise"
        figure_files = [
            figures.image_grid(
                grid, rows_n, columns, workdir / "samples.png", f"generated ({title})"
            )
        ]
        snapshots = _read_snapshots(workdir)
        if snapshots:
            figure_files.append(
                figures.image_rows(
                    [a["samples"] for _, a in snapshots],
                    [f"step {s}" for s, _ in snapshots],
                    workdir / "samples_over_training.png",
                    "the same noise over training",
                )
            )
        evals = read_metrics(workdir, "eval")
        if any("fid" in r for r in evals):
            figure_files.append(
                figures.learning_curves(
                    evals,
                    ["fid"],
                    workdir / "fid_over_training.png",
                    f"FID over training ({cfg.eval_num_samples} samples)",
                    logy=False,
                    reference=(numbers["fid_floor"], "floor (real train)"),
                )
            )
        return numbers, [("Sample quality", text)], figure_files

    def _training_figures(self, workdir: pathlib.Path) -> list[pathlib.Path]:
        """D(x) and the generator's gradient norms over training, from metrics.jsonl."""
        records = read_metrics(workdir, "train")
        if not records:
            return []
        files = [
            figures.learning_curves(
                records,
                ["d_real", "d_fake"],
                workdir / "d_of_x.png",
                "D(x) = sigmoid(logit) on real and generated training batches",
                logy=False,
                reference=(0.5, "equilibrium"),
            )
        ]
        names = ["generator_grad_norm_minimax", "generator_grad_norm_non_saturating"]
        if not any(names[0] in r for r in records):
            names = ["generator_grad_norm"]
        files.append(
            figures.learning_curves(
                records,
                names,
                workdir / "generator_gradient.png",
                "norm of the generator's gradient (same players, both losses)"
                if len(names) == 2
                else f"norm of the generator's gradient ({self.config.objective.loss})",
            )
        )
        return files


def _read_snapshots(workdir: pathlib.Path) -> list[tuple[int, dict]]:
    """(step, arrays) of snapshots/STEP.npz, by step."""
    directory = workdir / "snapshots"
    if not directory.exists():
        return []
    steps = sorted(int(p.stem) for p in directory.glob("*.npz"))
    return [(s, dict(np.load(directory / f"{s}.npz"))) for s in steps]


def _by_class(images: np.ndarray, labels: np.ndarray, columns: int) -> np.ndarray:
    """`columns` images of each class in turn (labels cycle through the classes)."""
    order = np.concatenate([np.flatnonzero(labels == c)[:columns] for c in np.unique(labels)])
    return images[order]
