"""The VAE report: test ELBO and importance-sampled NLL with their protocol, samples,
reconstructions, interpolations, traversals, attribute vectors, the 2-D manifold grid and code
scatter, and the conditional VAE's class-by-style grid."""

from __future__ import annotations

import math
import pathlib

import jax
import numpy as np

from jaxgen.metrics import image_attributes
from jaxgen.metrics.likelihood import bits_per_dim
from jaxgen.models import latent
from jaxgen.reports.autoencoder import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.tasks.base import History
from jaxgen.viz import figures


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    config = task.config
    k = config.nll_samples
    log_px, elbo = task.log_likelihood(params, "test", k)
    mean, logvar = task.encode(params, task.images["test"], task.labels["test"])
    kl_per_unit = 0.5 * (np.exp(logvar) + mean**2 - 1.0 - logvar)
    dims = math.prod(task.image_shape)
    nll = float(-np.mean(log_px))
    summary = {
        "test_elbo_nats": float(np.mean(elbo)),
        "test_nll_nats": nll,
        "nll_num_samples": k,
        "test_nll_bits_per_dim": bits_per_dim(nll, dims),
        "test_kl_nats": float(np.mean(np.sum(kl_per_unit, axis=1))),
        "active_units": int(np.sum(np.var(mean, axis=0) > 0.01)),
        "latent_size": config.model.latent_size,
        "test_examples": len(task.images["test"]),
    }
    sections = [
        (
            "Likelihood",
            _likelihood_protocol(task, k)
            + "\n\n"
            + markdown_table(["metric", "value"], [[name, v] for name, v in summary.items()]),
        )
    ]
    sections += _figures(task, params, workdir, mean, kl_per_unit)
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
    return (
        f"`{config.dataset}` test split, {len(task.images['test'])} images {data}. ELBO: the "
        f"mean of log w over the {k} draws; NLL: -log (1/K) sum_k w_k with K = {k} draws "
        f"z_k ~ q(z | x){conditional}, w = p(x, z) / q(z | x) (Burda et al. 2016), in nats "
        "per image and in bits per dimension. Likelihood "
        f"`{objective.likelihood}`; trained on the `{objective.kind}` objective "
        f"(K = {objective.importance_samples}, beta = {objective.beta}, KL warm-up "
        f"{objective.kl_warmup_steps} steps, `{objective.binarize}` binarization)."
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
    sections.append(_attribute_vectors(task, params, workdir, mean))

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


def _attribute_vectors(task, params, workdir, mean) -> tuple[str, str]:
    """Attribute vectors from image measurements (ink mass, slant), checked by measuring the
    decoded images: the attribute should grow with the scale of the added vector."""
    x, labels = task.images["test"], task.labels["test"]
    scales = np.linspace(-2.0, 2.0, 7)
    base = mean[:6]
    rows, strip_rows, names = [], [], []
    for name, measure in (
        ("ink mass", image_attributes.ink_mass),
        ("slant", image_attributes.slant),
    ):
        vector = latent.attribute_vector(mean, image_attributes.split_by_median(measure(x)))
        codes = latent.apply_attribute(base, vector, scales)  # (6, S, Z)
        images = task.decode(
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
