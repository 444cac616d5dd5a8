"""The VAE task: VAE, beta-VAE, conditional VAE and IWAE on an image data set.

Evaluation is in nats on the test split, binarized once with a fixed key (the same for every
run and seed, as in the literature): the ELBO and the importance-sampled log p(x) with
`nll_samples` draws, reported as NLL in nats and bits per dimension. The report adds the
latent-space figures: samples, reconstructions, interpolations, traversals, attribute vectors,
the 2-D manifold grid and code scatter, and the conditional VAE's class-by-style grid.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.config import base_config, smoke
from jaxgen.data import load_split, train_dataset
from jaxgen.data.datasets import Split
from jaxgen.losses.vae import binarize, make_log_weights, make_vae_loss
from jaxgen.metrics import image_attributes
from jaxgen.metrics.likelihood import bits_per_dim, importance_sampled_log_likelihood
from jaxgen.models import latent
from jaxgen.models.vae import build_vae
from jaxgen.tasks.autoencoder import batched, model_config
from jaxgen.train.logging import read_metrics
from jaxgen.viz import figures
from jaxgen.viz.report import Report, markdown_table

# Fixed keys, independent of the run's seed: every run and seed sees the same test set.
TEST_BINARIZATION_KEY = 0xB1
STATIC_TRAIN_BINARIZATION_KEY = 0xB2
NLL_KEY = 0x11


def vae_model_config(kind: str = "dense", **overrides) -> ml_collections.ConfigDict:
    """A `config.model` block: an autoencoder block (the network) plus the VAE's keys."""
    block = model_config(kind, latent_size=20, conditional=False)
    block.update(overrides)
    return block


def vae_objective_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.objective` block with every key the VAE loss reads (see losses/vae.py)."""
    block = ml_collections.ConfigDict(
        {
            "kind": "elbo",  # elbo | iwae
            "num_samples": 1,  # draws per example: averaged (elbo) or the IWAE's K
            "beta": 1.0,
            "kl_warmup_steps": 0,
            "likelihood": "bernoulli",  # bernoulli | gaussian_fixed | gaussian_learned
            "gaussian_scale": 0.1,
            "binarize": "dynamic",  # dynamic | static | none
        }
    )
    block.update(overrides)
    return block


def vae_config(**overrides) -> ml_collections.ConfigDict:
    """A VAE experiment's config: the common keys, the VAE task's keys, then `overrides`.

    nll_samples: K of the final importance-sampled NLL; eval_nll_samples: K of the periodic eval
    (which ranks the checkpoints).
    """
    config = base_config(
        task="vae",
        dataset="mnist5k",
        steps=3000,
        eval_every=1000,
        checkpoint_every=1000,
        nll_samples=1000,
        eval_nll_samples=50,
        model=vae_model_config(),
        objective=vae_objective_config(),
    )
    config.update(overrides)
    return config


def vae_smoke(config: ml_collections.ConfigDict) -> None:
    """The seconds-long version of a VAE experiment: digits, tiny nets, few draws."""
    smoke(config, steps=20, batch_size=32, nll_samples=20, eval_nll_samples=5)
    config.model.update(hidden=(32,), channels=(8,), latent_size=min(config.model.latent_size, 4))


def binarized(split: Split, key_seed: int) -> Split:
    """The split binarized once with a fixed key (pixels 0 or 255)."""
    x = jnp.asarray(split.pixels())
    bits = np.asarray(binarize(jax.random.key(key_seed), x))
    return dataclasses.replace(split, images_NxHxWxC=(bits * 255).astype(np.uint8))


class VAETask:
    """Trains one VAE; reports test ELBO and importance-sampled NLL in nats, and the figures."""

    batch_axis = 0
    best_metric = "test_nll_nats"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        objective = config.objective
        train_split = load_split(config.dataset, "train")
        test_split = load_split(config.dataset, "test")
        if config.model.conditional and train_split.labels_N is None:
            raise ValueError(f"a conditional VAE needs labels; {config.dataset!r} has none")
        self.num_classes = train_split.num_classes or 0
        if objective.binarize == "static":  # the literature's fixed binarized training set
            train_split = binarized(train_split, STATIC_TRAIN_BINARIZATION_KEY)
        if objective.likelihood == "bernoulli":
            test_split = binarized(test_split, TEST_BINARIZATION_KEY)
        self.train_split, self.test_split = train_split, test_split
        self.image_shape = train_split.image_shape
        self.model = build_vae(config.model, objective, self.image_shape, self.num_classes)
        self.loss = make_vae_loss(self.model, objective)
        self.test_images = test_split.pixels()
        self.test_labels = test_split.int_labels()
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

    # ---- the task protocol -------------------------------------------------------------------

    def init_params(self, key: jax.Array):
        x = jnp.zeros((1, *self.image_shape))
        return self.model.init(key, x, jnp.zeros((1,), jnp.int32))

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    def evaluate(self, params) -> dict[str, float]:
        """Test ELBO and NLL with `eval_nll_samples` draws (cheap; the report uses more)."""
        log_px, elbo = self.log_likelihood(params, self.config.eval_nll_samples)
        return {"test_elbo_nats": float(np.mean(elbo)), "test_nll_nats": float(-np.mean(log_px))}

    def report(self, params, workdir: pathlib.Path) -> Report:
        config = self.config
        k = config.nll_samples
        log_px, elbo = self.log_likelihood(params, k)
        mean, logvar = self.encode(params, self.test_images, self.test_labels)
        kl_per_unit = 0.5 * (np.exp(logvar) + mean**2 - 1.0 - logvar)
        dims = math.prod(self.image_shape)
        nll = float(-np.mean(log_px))
        summary = {
            "test_elbo_nats": float(np.mean(elbo)),
            "test_nll_nats": nll,
            "nll_num_samples": k,
            "test_nll_bits_per_dim": bits_per_dim(nll, dims),
            "test_kl_nats": float(np.mean(np.sum(kl_per_unit, axis=1))),
            "active_units": int(np.sum(np.var(mean, axis=0) > 0.01)),
            "latent_size": config.model.latent_size,
            "test_examples": len(self.test_images),
        }
        sections = [
            (
                "Likelihood",
                self._likelihood_protocol(k)
                + "\n\n"
                + markdown_table(["metric", "value"], [[name, v] for name, v in summary.items()]),
            )
        ]
        sections += self._figures(params, workdir, mean, kl_per_unit)
        records = read_metrics(workdir, "train")
        if records:
            names = ["loss", "kl_nats"] if config.objective.kind == "elbo" else ["loss", "elbo"]
            figures.learning_curves(records, names, workdir / "learning_curve.png", "train")
            sections.append(("Learning curve", "![learning curve](learning_curve.png)"))
        return Report(summary, sections)

    # ---- evaluation pieces -------------------------------------------------------------------

    def log_likelihood(self, params, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """(log p(x) estimate, ELBO) of every test example, in nats, from `num_samples` draws."""
        fn = functools.partial(self._log_likelihood, num_samples=num_samples)
        index = np.arange(len(self.test_images), dtype=np.int32)
        return batched(fn, params, self.test_images, self.test_labels, index)

    def encode(self, params, images, labels) -> tuple[np.ndarray, np.ndarray]:
        """(mean, logvar) of q(z | x) for every image."""
        return batched(self._encode, params, images, labels)

    def decode(self, params, codes, labels=None) -> np.ndarray:
        """E[x | z] in pixel space for every code (labels default to class 0)."""
        labels = np.zeros(len(codes), np.int32) if labels is None else np.asarray(labels, np.int32)
        return batched(self._mean_image, params, np.asarray(codes, np.float32), labels)

    def _likelihood_protocol(self, k: int) -> str:
        config, objective = self.config, self.config.objective
        data = (
            "binarized once with a fixed key (the same for every run)"
            if objective.likelihood == "bernoulli"
            else "pixels in [0, 1] as continuous values (densities; no dequantization)"
        )
        conditional = " given its label" if config.model.conditional else ""
        return (
            f"`{config.dataset}` test split, {len(self.test_images)} images {data}. ELBO: the "
            f"mean of log w over the {k} draws; NLL: -log (1/K) sum_k w_k with K = {k} draws "
            f"z_k ~ q(z | x){conditional}, w = p(x, z) / q(z | x) (Burda et al. 2016), in nats "
            "per image and in bits per dimension. Likelihood "
            f"`{objective.likelihood}`; trained on the `{objective.kind}` objective "
            f"(K = {objective.num_samples}, beta = {objective.beta}, KL warm-up "
            f"{objective.kl_warmup_steps} steps, `{objective.binarize}` binarization)."
        )

    # ---- figures -----------------------------------------------------------------------------

    def _figures(self, params, workdir, mean, kl_per_unit) -> list[tuple[str, str]]:
        config = self.config
        x, labels = self.test_images, self.test_labels
        z_size = config.model.latent_size
        key = jax.random.key(0xF1)
        sections = []

        prior = np.asarray(jax.random.normal(key, (64, z_size)))
        # A conditional VAE's samples cycle through the classes (an unconditional one ignores
        # the labels).
        sample_labels = np.arange(64) % max(self.num_classes, 1)
        figures.image_grid(
            self.decode(params, prior, sample_labels),
            8,
            8,
            workdir / "samples.png",
            "E[x | z] for z ~ N(0, I)",
        )
        n = 12
        recon = self.decode(params, mean[:n], labels[:n])
        figures.image_rows(
            [x[:n], recon[:n]],
            ["test input", "E[x | mean code]"],
            workdir / "reconstructions.png",
            "reconstructions",
        )
        body = ["![samples](samples.png)", "![reconstructions](reconstructions.png)"]
        sections.append(("Samples and reconstructions", "\n\n".join(body)))

        # Interpolation between two test inputs of different classes.
        i, j = 0, int(np.argmax(labels != labels[0]))
        strips = [latent.lerp(mean[i], mean[j], 10), latent.slerp(mean[i], mean[j], 10)]
        rows = [self.decode(params, s, np.full(10, labels[i])) for s in strips]
        figures.image_rows(
            rows,
            ["linear", "spherical"],
            workdir / "interpolation.png",
            f"test image {i} to test image {j}",
        )
        sections.append(("Interpolation", "![interpolation](interpolation.png)"))

        units = latent.top_units_by_kl(kl_per_unit, min(8, z_size))
        values = np.linspace(-3.0, 3.0, 9)
        codes = latent.traversal_codes(mean[i], units, values)
        images = self.decode(
            params, codes.reshape(-1, z_size), np.full(codes[..., 0].size, labels[i])
        )
        figures.image_grid(
            images,
            len(units),
            len(values),
            workdir / "traversals.png",
            "one unit at a time around a test code (units by mean KL)",
            [f"z{u}" for u in units],
            [f"{v:+.1f}" for v in values],
        )
        sections.append(
            (
                "Traversals",
                "Each row sets one latent unit to -3 ... +3 with the others at the code of test "
                f"image {i}; rows are the {len(units)} units with the largest mean KL on the test "
                "split."
                "\n\n![traversals](traversals.png)",
            )
        )
        sections.append(self._attribute_vectors(params, workdir, mean))

        if z_size == 2:
            grid = latent.normal_quantile_grid(15)
            figures.image_grid(
                self.decode(params, grid),
                15,
                15,
                workdir / "manifold.png",
                "decoded normal-quantile grid over the 2-D latent space",
            )
            figures.scatter_codes(
                mean, labels, workdir / "codes_2d.png", "test codes (means of q(z | x))"
            )
            sections.append(
                ("2-D latent space", "![manifold](manifold.png)\n\n![codes](codes_2d.png)")
            )
        if config.model.conditional:
            styles = np.asarray(jax.random.normal(jax.random.fold_in(key, 1), (8, z_size)))
            grid_codes = np.tile(styles, (self.num_classes, 1))
            grid_labels = np.repeat(np.arange(self.num_classes), len(styles))
            figures.image_grid(
                self.decode(params, grid_codes, grid_labels),
                self.num_classes,
                len(styles),
                workdir / "class_by_style.png",
                "conditional samples: rows are classes, columns share a style z",
                [str(c) for c in range(self.num_classes)],
            )
            sections.append(("Conditional generation", "![class by style](class_by_style.png)"))
        return sections

    def _attribute_vectors(self, params, workdir, mean) -> tuple[str, str]:
        """Attribute vectors from image measurements (ink mass, slant), checked by measuring the
        decoded images: the attribute should grow with the scale of the added vector."""
        x, labels = self.test_images, self.test_labels
        scales = np.linspace(-2.0, 2.0, 7)
        base = mean[:6]
        rows, strip_rows, names = [], [], []
        for name, measure in (
            ("ink mass", image_attributes.ink_mass),
            ("slant", image_attributes.slant),
        ):
            vector = latent.attribute_vector(mean, image_attributes.split_by_median(measure(x)))
            codes = latent.apply_attribute(base, vector, scales)  # (6, S, Z)
            images = self.decode(
                params, codes.reshape(-1, codes.shape[-1]), np.repeat(labels[:6], len(scales))
            )
            measured = measure(images).reshape(len(base), len(scales)).mean(axis=0)
            rows.append([name, *measured])
            strip_rows.append(images)
            names.append(name)
        for name, images in zip(names, strip_rows, strict=True):
            figures.image_grid(
                images,
                len(base),
                len(scales),
                workdir / f"attribute_{name.replace(' ', '_')}.png",
                f"code + s * ({name} vector)",
                None,
                [f"s={s:+.1f}" for s in scales],
            )
        text = (
            "The attribute vector is the mean code of test images above the attribute's median "
            "minus the mean code of those below (attributes measured on the images: ink mass = "
            "mean intensity, slant = -mu11/mu02 from image moments). It is added with scale s to "
            "the codes of 6 test images; the table gives the attribute measured on the decoded "
            "images, averaged over the 6, for each s.\n\n"
            + markdown_table(["attribute", *[f"s={s:+.1f}" for s in scales]], rows)
            + "\n\n"
            + "\n\n".join(f"![{n}](attribute_{n.replace(' ', '_')}.png)" for n in names)
        )
        return ("Attribute vectors", text)
