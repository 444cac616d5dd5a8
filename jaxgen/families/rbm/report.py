"""The RBM's report: log Z by AIS with its interval (and exactly when a layer is small), the
test NLL bracketed between AIS and RAISE, the pseudo-log-likelihood and the free-energy gap,
beside other runs' test NLL on the same binary test images; filters, Gibbs chains,
reconstructions and the free energy over training."""

from __future__ import annotations

import json
import math
import pathlib

import jax
import numpy as np

from jaxgen.errors import UserError
from jaxgen.families.rbm import model, partition
from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures

AIS_KEY = 0xA4  # the final AIS's chains (fixed: the same estimate for the same weights)
RAISE_KEY = 0xA5
NUM_FILTERS = 100
NUM_CHAINS_SHOWN = 8


def likelihood_numbers(task, params) -> dict[str, float]:
    """The report's likelihood numbers (summary keys), on the test split."""
    c = task.config
    v = task.images["test"]
    free = task.free_energies(params, v)
    betas = partition.annealing_schedule(c.ais.num_temperatures)
    estimate = partition.ais(
        params, task.base_bias, betas, c.ais.num_chains, jax.random.key(AIS_KEY)
    )
    mean_free = float(np.mean(free))
    numbers = {
        "log_z_ais": estimate.log_z,
        # Unbounded below (None in summary.json) when 3 standard errors exceed the estimate.
        "log_z_ais_low": finite_or_none(estimate.log_z_low),
        "log_z_ais_high": estimate.log_z_high,
        "ais_temperatures": estimate.num_temperatures,
        "ais_chains": c.ais.num_chains,
        "test_nll_nats": mean_free + estimate.log_z,
        "test_nll_nats_ais_low": finite_or_none(mean_free + estimate.log_z_low),
        "test_nll_nats_ais_high": mean_free + estimate.log_z_high,
        "test_examples": len(v),
    }
    m = min(c.ais.raise_examples, len(v))
    raised = partition.raise_log_likelihood(
        params, task.base_bias, betas, v[:m], c.ais.raise_chains, jax.random.key(RAISE_KEY)
    )
    numbers.update(
        test_nll_nats_raise=float(-np.mean(raised)),
        # AIS on the same images, so that the bracket compares like with like.
        test_nll_nats_ais_raise_subset=float(np.mean(free[:m]) + estimate.log_z),
        raise_examples=m,
        raise_chains=c.ais.raise_chains,
    )
    if task.has_exact_log_z():
        exact = partition.log_z_exact(params)
        numbers.update(log_z_exact=exact, test_nll_nats_exact=mean_free + exact)
    numbers["bits_per_dim"] = numbers["test_nll_nats"] / (task.num_visible * math.log(2))
    return numbers


def finite_or_none(value: float) -> float | None:
    """`value`, or None (null in JSON) where it is infinite: an interval unbounded below."""
    return value if math.isfinite(value) else None


def compared_runs(config) -> list[list]:
    """Rows (run, family, test NLL) of the runs `config.compare_runs` names (comma-separated
    workdirs of finished runs on the same data set, such as the VAE and IWAE experiments)."""
    rows = []
    for path in filter(None, (p.strip() for p in config.get("compare_runs", "").split(","))):
        workdir = pathlib.Path(path)
        try:
            summary = json.loads((workdir / "summary.json").read_text())
            other = json.loads((workdir / "config.json").read_text())
        except (OSError, ValueError) as err:
            raise UserError(f"compare_runs: cannot read {workdir}'s run ({err})") from None
        if other.get("dataset") != config.dataset or "test_nll_nats" not in summary:
            raise UserError(
                f"compare_runs: {workdir} is not a run with a test NLL on {config.dataset!r}"
            )
        rows.append([workdir.name, other.get("task"), summary["test_nll_nats"]])
    return rows


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    c = task.config
    numbers = likelihood_numbers(task, params)
    numbers["pseudo_log_likelihood"] = history.test["pseudo_log_likelihood"]
    numbers["free_energy_gap"] = history.test["free_energy_gap"]
    numbers["reconstruction_error"] = history.test["reconstruction_error"]
    numbers["test_nll_nats_periodic_protocol"] = history.test["nll_nats"]
    sections = [("Likelihood", _likelihood_text(task, numbers, compared_runs(c)))]
    sections += _figures(task, params, history, workdir)
    sections += learning_curve_section(history, ["reconstruction_error"], workdir)
    return Report(numbers, sections)


def _likelihood_text(task, s: dict, others: list[list]) -> str:
    c = task.config
    o = c.objective
    rows = [
        ["AIS", f"{s['log_z_ais']:.3f} [{_low(s['log_z_ais_low'])}, {s['log_z_ais_high']:.3f}]",
         f"{s['test_nll_nats']:.3f}", f"all {s['test_examples']}"],
        ["RAISE (conservative)", "", f"{s['test_nll_nats_raise']:.3f}",
         f"first {s['raise_examples']}"],
        ["AIS on RAISE's images", "", f"{s['test_nll_nats_ais_raise_subset']:.3f}",
         f"first {s['raise_examples']}"],
    ]  # fmt: skip
    if "log_z_exact" in s:
        rows.insert(0, ["exact", f"{s['log_z_exact']:.3f}", f"{s['test_nll_nats_exact']:.3f}",
                        f"all {s['test_examples']}"])  # fmt: skip
    text = (
        f"An RBM with {task.num_visible} visible and {task.num_hidden} hidden units, trained by "
        f"{o.kind.upper()}-{o.gibbs_steps} (momentum {o.momentum}, weight decay "
        f"{o.weight_decay}, learning rate {c.learning_rate}, {c.lr_schedule} schedule) on "
        f"`{c.dataset}` binarized {c.binarize}ally. Test images: binarized once with the VAE "
        "family's fixed key, the same binary images as the VAE's and IWAE's test NLL. "
        f"AIS: the base-rate model fitted to the training pixels, {s['ais_temperatures']} "
        f"inverse temperatures (Salakhutdinov & Murray's schedule"
        + ("" if s["ais_temperatures"] == partition.SCHEDULE_LENGTH else ", shortened")
        + f"), {s['ais_chains']} chains; the interval is log(Z_hat -/+ 3 standard errors). "
        "AIS underestimates log Z on average, so its NLL is optimistic; RAISE "
        f"({s['raise_chains']} reverse chains an image on the same schedule) is conservative: "
        "the true test NLL lies between them, on average.\n\n"
        + markdown_table(["log Z by", "log Z", "test NLL (nats)", "test images"], rows)
    )
    if others:
        table = [[f"this RBM ({task.num_hidden} hidden)", "rbm", s["test_nll_nats"]], *others]
        text += "\n\nBeside other runs on the same test images:\n\n" + markdown_table(
            ["run", "family", "test NLL (nats)"], table
        )
    text += (
        f"\n\nPseudo-log-likelihood (scikit-learn's `score_samples`: one flipped bit an image, "
        f"times {task.num_visible}; first {min(c.pll_examples, s['test_examples'])} test "
        f"images): {s['pseudo_log_likelihood']:.3f}. Free-energy gap (mean F of test images "
        f"minus that of as many train images; growing when the model overfits): "
        f"{s['free_energy_gap']:.3f}. Mean-field reconstruction error: "
        f"{s['reconstruction_error']:.5f}."
    )
    return text


def _low(value) -> str:
    return "unbounded" if value is None else f"{value:.3f}"


def filters_figure(weights_VxH, image_shape, path: pathlib.Path) -> None:
    """The first (up to) 100 hidden units' weights as images, ten a row."""
    n = min(NUM_FILTERS, weights_VxH.shape[1])
    columns = min(10, n)
    rows = -(-n // columns)
    filters = model.filter_images(weights_VxH, n, image_shape)
    blank = np.zeros((rows * columns - n, *image_shape), filters.dtype)
    figures.image_grid(
        np.concatenate([filters, blank]), rows, columns, path,
        f"weights of the first {n} hidden units, each scaled to [0, 1]",
    )  # fmt: skip


def _figures(task, params, history: History, workdir: pathlib.Path) -> list[tuple[str, str]]:
    filters_figure(params["weights"], task.image_shape, workdir / "filters.png")
    at = tuple(task.config.sample_gibbs_steps)
    chains = task.gibbs_samples(params, NUM_CHAINS_SHOWN, at)
    grid = np.stack(chains, 1).reshape(-1, *task.image_shape)  # chain-major
    figures.image_grid(
        grid, NUM_CHAINS_SHOWN, len(at), workdir / "gibbs_chains.png",
        "Gibbs chains from the base-rate model: p(v | h) after k steps",
        column_labels=[f"k={k}" for k in at],
    )  # fmt: skip
    v = task.images["test"][:10]
    recon = task.reconstruct(params, v)
    figures.image_rows(
        [v.reshape(-1, *task.image_shape), recon.reshape(-1, *task.image_shape)],
        ["test", "p(v' | p(h | v))"],
        workdir / "reconstructions.png",
        "mean-field reconstructions",
    )
    text = (
        "![filters](filters.png)\n\n![Gibbs chains](gibbs_chains.png)\n\n"
        "![reconstructions](reconstructions.png)"
    )
    if history.validation:
        figures.learning_curves(
            history.validation,
            ["free_energy", "train_free_energy"],
            workdir / "free_energy.png",
            "mean free energy: validation and train images",
            logy=False,
        )
        text += "\n\n![free energy over training](free_energy.png)"
    return [("Figures", text)]
