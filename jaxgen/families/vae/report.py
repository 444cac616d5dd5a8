"""The VAE report: test ELBO and importance-sampled NLL with their protocol (and, for discrete
data, the uniform model's NLL beside them), samples, reconstructions, interpolations, traversals,
attribute vectors (CelebA's labelled ones, or a digit set's ink mass and slant), the 2-D
manifold grid and code scatter, and the conditional VAE's class-by-style grid."""

from __future__ import annotations

import math
import pathlib

import jax
import numpy as np

from jaxgen.data.datasets import is_digit_set
from jaxgen.eval.features import FeatureSpace
from jaxgen.eval.likelihood import likelihood_numbers, uniform_numbers
from jaxgen.families.vae import latent
from jaxgen.families.vae.losses import DATA_LEVELS
from jaxgen.metrics import image_attributes
from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    config = task.config
    k = config.nll_samples
    log_px, elbo = task.log_likelihood(params, "test", k)
    mean, logvar = task.encode(params, task.images["test"], task.labels["test"])
    kl_per_unit = 0.5 * (np.exp(logvar) + mean**2 - 1.0 - logvar)
    nll = likelihood_numbers(log_px, task.image_shape)
    summary = {
        "test_elbo_nats": float(np.mean(elbo)),
        "test_nll_nats": nll["nll_nats"],
        "nll_num_samples": k,
        "test_nll_bits_per_dim": nll["nll_bits_per_dim"],
        "test_kl_nats": float(np.mean(np.sum(kl_per_unit, axis=1))),
        "active_units": int(np.sum(np.var(mean, axis=0) > 0.01)),
        "latent_size": config.model.latent_size,
        "test_examples": len(task.images["test"]),
    }
    table = markdown_table(["metric", "value"], [[name, v] for name, v in summary.items()])
    levels = DATA_LEVELS.get(task.objective.likelihood)
    if levels is not None:  # discrete data: the uniform model's NLL beside the model's
        uniform = uniform_numbers(levels, task.image_shape)
        baseline = {
            "test_nll_nats": uniform["nll_nats"],
            "test_nll_bits_per_dim": uniform["nll_bits_per_dim"],
        }
        table = markdown_table(
            ["metric", "value", f"uniform model over the {levels} levels (baseline)"],
            [[name, v, baseline.get(name, "")] for name, v in summary.items()],
        )
        summary["uniform_nll_nats"] = uniform["nll_nats"]
        summary["uniform_nll_bits_per_dim"] = uniform["nll_bits_per_dim"]
    sections = [("Likelihood", _likelihood_protocol(task, k) + "\n\n" + table)]
    sections += _figures(task, params, workdir, mean, kl_per_unit)
    attribute_numbers, attribute_section = _attribute_vectors(task, params, workdir, mean)
    summary.update(attribute_numbers)
    sections.append(attribute_section)
    names = ["loss", "kl_nats"] if config.objective.kind == "elbo" else ["loss", "elbo"]
    sections += learning_curve_section(history, names, workdir)
    return Report(summary, sections)


def _likelihood_protocol(task, k: int) -> str:
    config, objective = task.config, task.objective
    data = {
        "bernoulli": "binarized once with a fixed key (the same for every run)",
        "discretized_logistic": "as 8-bit pixels (a probability of the discrete data: its "
        "bits per dimension are the literature's)",
    }.get(
        objective.likelihood,
        "pixels in [0, 1] as continuous values (densities; no dequantization)",
    )
    conditional = " given its label" if config.model.conditional else ""
    levels = DATA_LEVELS.get(objective.likelihood)
    baseline = (
        ""
        if levels is None
        else f" The baseline is the uniform model, p(x) = {levels}^-D over the D = "
        f"{math.prod(task.image_shape)} dimensions: log2 {levels} = {math.log2(levels):g} bits "
        "per dimension, what a model that knows nothing of the images scores."
    )
    return (
        f"`{config.dataset}` test split, {len(task.images['test'])} images {data}. ELBO: the "
        f"mean of log w over the {k} draws; NLL: -log (1/K) sum_k w_k with K = {k} draws "
        f"z_k ~ q(z | x){conditional}, w = p(x, z) / q(z | x) (Burda et al. 2016), in nats "
        "per image and in bits per dimension. Likelihood "
        f"`{objective.likelihood}`; trained on the `{objective.kind}` objective "
        f"(K = {objective.importance_samples}, beta = {objective.beta}, KL warm-up "
        f"{objective.kl_warmup_steps} steps, `{objective.binarize}` binarization)." + baseline
    )


def _figures(task, params, workdir, mean, kl_per_unit) -> list[tuple[str, str]]:
    config = task.config
    x, labels = task.images["test"], task.labels["test"]
    z_size = config.model.latent_size
    key = jax.random.key(0xF1)
    sections = []

    prior = np.asarray(jax.random.normal(key, (64, z_size)))
    # A conditional VAE's samples cycle through the classes (an unconditional one ignores
    # the labels).
    sample_labels = np.arange(64) % max(task.num_classes, 1)
    figures.image_grid(
        task.decode(params, prior, sample_labels),
        8,
        8,
        workdir / "samples.png",
        "E[x | z] for z ~ N(0, I)",
    )
    n = 12
    recon = task.decode(params, mean[:n], labels[:n])
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
    rows = [task.decode(params, s, np.full(10, labels[i])) for s in strips]
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
    images = task.decode(params, codes.reshape(-1, z_size), np.full(codes[..., 0].size, labels[i]))
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

    if z_size == 2:
        grid = latent.normal_quantile_grid(15)
        figures.image_grid(
            task.decode(params, grid),
            15,
            15,
            workdir / "manifold.png",
            "decoded normal-quantile grid over the 2-D latent space",
        )
        figures.scatter_codes(
            mean, labels, workdir / "codes_2d.png", "test codes (means of q(z | x))"
        )
        sections.append(("2-D latent space", "![manifold](manifold.png)\n\n![codes](codes_2d.png)"))
    if config.model.conditional:
        styles = np.asarray(jax.random.normal(jax.random.fold_in(key, 1), (8, z_size)))
        grid_codes = np.tile(styles, (task.num_classes, 1))
        grid_labels = np.repeat(np.arange(task.num_classes), len(styles))
        figures.image_grid(
            task.decode(params, grid_codes, grid_labels),
            task.num_classes,
            len(styles),
            workdir / "class_by_style.png",
            "conditional samples: rows are classes, columns share a style z",
            [str(c) for c in range(task.num_classes)],
        )
        sections.append(("Conditional generation", "![class by style](class_by_style.png)"))
    return sections


# CelebA's attributes the report turns into vectors (the textbook examples: glasses, smile, gender).
LABELLED_ATTRIBUTES = ("Eyeglasses", "Smiling", "Male")


def _attributes(task):
    """(name, has-attribute flags of the test images, measure(decoded images) -> (N,), how the
    attribute is measured) for every attribute vector of the report: CelebA's labelled attributes,
    measured by the feature classifier's probability, or, for a set of handwritten digits,
    their ink mass and slant, measured on the images and split at their median; none for any
    other set."""
    test = task.splits["test"]
    if test.attributes_NxA is None:
        if not _digit_images(task):
            return []
        x = task.images["test"]
        return [
            (name, image_attributes.split_by_median(measure(x)), measure, how)
            for name, measure, how in (
                ("ink mass", image_attributes.ink_mass, "mean intensity"),
                ("slant", image_attributes.slant, "-mu11/mu02 from image moments"),
            )
        ]
    config = task.config
    classifier = FeatureSpace(config.dataset, config.get("preprocess"), config.progress).classifier
    found = []
    for name in LABELLED_ATTRIBUTES:
        if name not in test.attribute_names:
            continue
        column = test.attribute_names.index(name)
        has = test.attributes_NxA[:, column]
        if has.all() or not has.any():
            continue  # a vector needs test images with and without the attribute

        def measure(images, column=column):
            return classifier.probabilities(np.clip(images, 0.0, 1.0))[:, column]

        how = f"the probability the feature classifier `{classifier.workdir.name}` gives it"
        found.append((name, has, measure, how))
    return found


def _digit_images(task) -> bool:
    """Whether the images are handwritten digits, grey: what ink mass and slant measure (on a
    set of anything else they are numbers without a meaning)."""
    return is_digit_set(task.config.dataset) and task.image_shape[-1] == 1


def attribute_key(name: str) -> str:
    """ "ink mass" -> "ink_mass", "Eyeglasses" -> "eyeglasses": summary key suffixes."""
    return name.lower().replace(" ", "_")


def _attribute_vectors(task, params, workdir, mean) -> tuple[dict, tuple[str, str]]:
    """Attribute vectors (mean code with the attribute minus mean code without), added with a
    scale s to test codes and checked by measuring the decoded images: the attribute should
    grow with s. Returns the summary numbers (per attribute: `attribute_gain_NAME`, the
    measure at s = +2 minus at s = -2, and `attribute_rises_NAME`, whether it rises at every
    step of s) and the report section."""
    labels = task.labels["test"]
    labelled = task.splits["test"].attributes_NxA is not None
    scales = np.linspace(-2.0, 2.0, 7)
    rows, names, hows, numbers = [], [], [], {}
    for name, has, measure, how in _attributes(task):
        vector = latent.attribute_vector(mean, has)
        # The images to change: the first 6 without the attribute (the first 6 when measured).
        chosen = np.flatnonzero(~has)[:6] if labelled else np.arange(6)
        base = mean[chosen]
        codes = latent.apply_attribute(base, vector, scales)  # (6, S, Z)
        images = task.decode(
            params, codes.reshape(-1, codes.shape[-1]), np.repeat(labels[chosen], len(scales))
        )
        measured = measure(images).reshape(len(base), len(scales)).mean(axis=0)
        rises = bool(np.all(np.diff(measured) > 0))
        numbers[f"attribute_gain_{attribute_key(name)}"] = float(measured[-1] - measured[0])
        numbers[f"attribute_rises_{attribute_key(name)}"] = rises
        rows.append([name, *measured, "yes" if rises else "no"])
        names.append(name)
        hows.append(f"{name}: {how}")
        figures.image_grid(
            images,
            len(base),
            len(scales),
            workdir / f"attribute_{name.replace(' ', '_')}.png",
            f"code + s * ({name} vector)",
            None,
            [f"s={s:+.1f}" for s in scales],
        )
    if not rows:
        text = (
            "No attribute of this data set has test images both with and without it."
            if labelled
            else f"`{task.config.dataset}` has no labelled attributes (as CelebA has) and is "
            "not a set of grey handwritten digits (whose ink mass and slant are measured on the "
            "images: jaxgen/data/datasets.py, DIGIT_SETS), so there is no attribute to make a "
            "vector of."
        )
        return numbers, ("Attribute vectors", text)
    text = (
        "The attribute vector is the mean code (of q(z | x)) of the test images with the "
        "attribute minus the mean code of those without (for measured attributes: above and "
        "below the median). It is added with scale s to the codes of 6 test images (without the "
        "attribute, for labelled ones); the table gives the attribute measured on the decoded "
        "images, averaged over the 6, for each s, and whether it rises with s. Measured as "
        + "; ".join(hows)
        + ".\n\n"
        + markdown_table(["attribute", *[f"s={s:+.1f}" for s in scales], "rises"], rows)
        + "\n\n"
        + "\n\n".join(f"![{n}](attribute_{n.replace(' ', '_')}.png)" for n in names)
    )
    return numbers, ("Attribute vectors", text)
