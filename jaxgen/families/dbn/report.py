"""The DBN's report: classification by the generative DBN, fine-tuned, and from random
initialisation (with the verdict on "pretraining helps", over seeds when the run has several);
the two-layer DBN's variational bound on the test log-likelihood beside its first RBM's AIS
likelihood; images generated with the label clamped and free; the first layer's filters."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import jax
import numpy as np

from jaxgen.eval.chunked import batched
from jaxgen.families.dbn import model as dbn
from jaxgen.families.rbm import model, partition
from jaxgen.families.rbm.report import AIS_KEY, filters_figure, finite_or_none
from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures

BOUND_KEY = 0xA6  # the draws of h1 from Q(h1 | v) in the variational bound


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    numbers = classification_numbers(history.test)
    sections = [("Classification", _classification_text(task, numbers))]
    if task.top >= 2:
        bound = bound_numbers(task, params["dbn"])
        numbers.update(bound)
        sections.append(("Likelihood", _likelihood_text(task, bound)))
    else:
        sections.append(
            (
                "Likelihood",
                "The two-layer variational bound needs a second RBM without the labels: a "
                "stack of three hidden layers or more.",
            )
        )
    sections += _figures(task, params, history, workdir)
    sections += learning_curve_section(history, ["loss", "reconstruction_error"], workdir)
    return Report(numbers, sections)


# ---- classification ----------------------------------------------------------------------------


def classification_numbers(test: dict) -> dict[str, float]:
    """The summary's classification numbers from the test evaluation (`task.evaluate`)."""
    numbers = {"test_error_free_energy": test["free_energy_error"]}
    if "random_init_error" in test:
        numbers.update(
            test_error=test["error"],
            test_error_random_init=test["random_init_error"],
            pretraining_gain=test["pretraining_gain"],
        )
    return numbers


def _classification_text(task, s: dict) -> str:
    c = task.config
    sizes = "-".join(map(str, (task.num_visible, *task.num_hidden)))
    rows = [
        [
            "generative DBN: the top RBM's free energy of each label",
            100 * s["test_error_free_energy"],
        ]
    ]
    text = (
        f"A {sizes} DBN ({task.num_labels} label units joined to the top RBM's visible layer) "
        f"on `{c.dataset}`, pretrained greedily for {', '.join(map(str, task.budgets))} steps a "
        f"layer ({c.objective.kind.upper()}-{c.objective.gibbs_steps}, learning rate "
        f"{c.learning_rate}, {c.lr_schedule} schedule over each layer's budget). Classification "
        "reads the test images' pixel intensities: the up pass, then the label whose free "
        "energy in the top RBM is lowest."
    )
    if "test_error" in s:
        rows += [
            ["fine-tuned from the pretrained DBN", 100 * s["test_error"]],
            ["the same network from random initialisation", 100 * s["test_error_random_init"]],
        ]
        text += (
            f" Fine-tuning: {task.fine_tune_steps} steps of SGD (learning rate "
            f"{c.fine_tune.learning_rate}, momentum {c.fine_tune.momentum}, {c.lr_schedule}) on "
            "the cross-entropy of the same classifier, on the same batches for both starts; "
            "the random start draws the weights as a sigmoid MLP's (Glorot & Bengio's uniform "
            "scale times 4) and the biases 0. Pretraining adds "
            f"{sum(task.budgets)} unsupervised steps the random start does not have."
        )
    text += "\n\n" + markdown_table(["classifier", "test error (%)"], rows)
    if "test_error" in s:
        gain = 100 * s["pretraining_gain"]
        verdict = "helped" if gain > 0 else "did not help"
        text += (
            f"\n\nThis seed: pretraining {verdict} ({gain:+.2f} points of test error from "
            "pretraining). One seed is not a verdict: `--config.seeds=0,1,2` trains three in "
            "one program and the report of the run compares them pairwise."
        )
    text += (
        "\n\nAnchors on full MNIST (60,000 training images, far more steps): Hinton, Osindero "
        "& Teh (2006), a 784-500-500-2000 DBN fine-tuned by the up-down algorithm, 1.25% test "
        "error; the Theano tutorial's 784-1000-1000-1000 DBN fine-tuned by backpropagation, "
        "1.34%. A run on `mnist5k` trains on 1/12 of the images."
    )
    return text


def pretraining_verdict(seeds: Sequence[int], summaries: Sequence[dict]):
    """The claim "pretraining helps" judged over seeds, paired by seed (the same batches for
    both starts): (numbers for summary.json, [(section title, text)])."""
    if not summaries or "pretraining_gain" not in summaries[0]:
        return {}, []
    pretrained = np.array([s["test_error"] for s in summaries])
    random = np.array([s["test_error_random_init"] for s in summaries])
    gain = random - pretrained
    better = int(np.sum(gain > 0))
    numbers = {"pretraining_helps_seeds": better, "pretraining_gain_mean": float(gain.mean())}
    text = (
        f'The textbook claim "pretraining helps", measured on {len(seeds)} seeds: test error '
        "of the network fine-tuned from the pretrained DBN against the same network "
        "fine-tuned from random initialisation, on the same batches and steps.\n\n"
        + markdown_table(
            ["seed", "pretrained (%)", "random init (%)", "gain (points)"],
            [
                [s, 100 * p, 100 * r, 100 * g]
                for s, p, r, g in zip(seeds, pretrained, random, gain, strict=True)
            ],
        )  # fmt: skip
    )
    if len(seeds) > 1:
        if np.all(gain == 0):
            p_value = 1.0
        else:
            from scipy import stats  # here: importing scipy.stats takes seconds

            p_value = float(stats.ttest_rel(random, pretrained, alternative="greater").pvalue)
        numbers["pretraining_gain_p_value"] = p_value
        if better == len(seeds):
            verdict = "supported: pretraining lowered the test error on every seed"
        elif better == 0:
            verdict = "not supported: pretraining lowered the test error on no seed"
        else:
            verdict = f"mixed: pretraining lowered the test error on {better} of {len(seeds)} seeds"
        text += (
            f"\n\nMean gain {100 * gain.mean():+.2f} points; one-sided paired t-test of "
            f"random-init error > pretrained error: p = {p_value:.3g} ({len(seeds)} pairs). "
            f"Verdict: **{verdict}**."
        )
    return numbers, [("Does pretraining help?", text)]


# ---- likelihood --------------------------------------------------------------------------------


def log_z_numbers(task, params: dict, base_rates: np.ndarray, prefix: str) -> dict[str, float]:
    """log Z of one RBM by AIS from its base-rate model (the config's `ais` block), with the
    interval, and exactly when a layer has at most 20 units; keys prefixed by `prefix`."""
    c = task.config
    betas = partition.annealing_schedule(c.ais.num_temperatures)
    base_bias = np.asarray(model.logit(base_rates))
    estimate = partition.ais(params, base_bias, betas, c.ais.num_chains, jax.random.key(AIS_KEY))
    numbers = {
        f"{prefix}log_z_ais": estimate.log_z,
        f"{prefix}log_z_ais_low": estimate.log_z_low,
        f"{prefix}log_z_ais_high": estimate.log_z_high,
    }
    if min(params["weights"].shape) <= partition.EXACT_MAX_UNITS:
        numbers[f"{prefix}log_z_exact"] = partition.log_z_exact(params)
    return numbers


def bound_numbers(task, params: dict) -> dict:
    """The test NLL of the first RBM alone (AIS) and the two-layer DBN's upper bound on it (the
    variational lower bound on log p(v), negated), on the binary test images."""
    c = task.config
    rbm1, rbm2 = params[dbn.layer_name(0)], params[dbn.layer_name(1)]
    v = task.images["test"]
    numbers = log_z_numbers(task, rbm1, task.pixel_rates, "rbm1_")
    numbers.update(log_z_numbers(task, rbm2, task.hidden_rates(params, 1), "rbm2_"))
    free = float(np.mean(batched(jax.jit(model.free_energy), rbm1, v)))
    keys = jax.random.split(jax.random.key(BOUND_KEY), len(v))
    terms = float(np.mean(_bound_terms(rbm1, rbm2, v, keys, c.bound_samples)))
    out = {
        "test_nll_nats_rbm1": free + numbers["rbm1_log_z_ais"],
        "test_nll_nats_rbm1_ais_low": finite_or_none(free + numbers["rbm1_log_z_ais_low"]),
        "test_nll_nats_rbm1_ais_high": free + numbers["rbm1_log_z_ais_high"],
        # -(terms - log Z2): an upper bound on the NLL, up to AIS's error in log Z2.
        "test_nll_nats_bound": numbers["rbm2_log_z_ais"] - terms,
        "test_nll_nats_bound_ais_low": finite_or_none(numbers["rbm2_log_z_ais_low"] - terms),
        "test_nll_nats_bound_ais_high": numbers["rbm2_log_z_ais_high"] - terms,
        "bound_samples": c.bound_samples,
        "ais_temperatures": len(partition.annealing_schedule(c.ais.num_temperatures)),
        "ais_chains": c.ais.num_chains,
        "test_examples": len(v),
    }
    if "rbm1_log_z_exact" in numbers:
        out["test_nll_nats_rbm1_exact"] = free + numbers["rbm1_log_z_exact"]
    if "rbm2_log_z_exact" in numbers:
        out["test_nll_nats_bound_exact"] = numbers["rbm2_log_z_exact"] - terms
    numbers = {k: finite_or_none(v) if "low" in k else v for k, v in numbers.items()}
    return {**numbers, **out}


def _bound_terms(rbm1, rbm2, v, keys, samples):
    fn = jax.jit(dbn.variational_bound_terms, static_argnums=4)
    return batched(lambda p, v, k: fn(p[0], p[1], v, k, samples), (rbm1, rbm2), v, keys)


def _likelihood_text(task, s: dict) -> str:
    sizes = f"{task.num_visible}-{task.num_hidden[0]}-{task.num_hidden[1]}"
    low = s["test_nll_nats_rbm1_ais_low"]
    rows = [
        ["the first RBM alone (AIS)", f"{s['test_nll_nats_rbm1']:.3f}",
         f"[{_fmt(low)}, {s['test_nll_nats_rbm1_ais_high']:.3f}]"],
        [f"the two-layer DBN {sizes}: variational bound", f"<= {s['test_nll_nats_bound']:.3f}",
         f"log Z2 interval: [{_fmt(s['test_nll_nats_bound_ais_low'])}, "
         f"{s['test_nll_nats_bound_ais_high']:.3f}]"],
    ]  # fmt: skip
    if "test_nll_nats_rbm1_exact" in s:
        rows.append(
            ["the first RBM alone, exact log Z", f"{s['test_nll_nats_rbm1_exact']:.3f}", ""]
        )
    if "test_nll_nats_bound_exact" in s:
        rows.append(
            ["the bound with the exact log Z2", f"<= {s['test_nll_nats_bound_exact']:.3f}", ""]
        )
    better = s["test_nll_nats_bound"] < s["test_nll_nats_rbm1"]
    return (
        f"Test NLL in nats on the {s['test_examples']} test images binarized once with the "
        "fixed key (the RBM's and the VAEs' test images). The DBN made of the first two "
        "layers is a directed sigmoid layer p(v | h1) under the second RBM, whose marginal on "
        "h1 is the prior. Its variational lower bound, log p(v) >= E_Q[log p(v | h1) - F2(h1)] "
        "+ H(Q) - log Z2 (Q the first RBM's posterior), is estimated as Salakhutdinov & Murray "
        "(2008) do: "
        f"{s['bound_samples']} draws of h1 from Q per image, log Z2 by AIS "
        f"({s['ais_temperatures']} temperatures, {s['ais_chains']} chains, from the base-rate "
        "model of the first layer's activities). Its negation bounds the NLL from above, up to "
        "AIS's error in log Z2.\n\n"
        + markdown_table(["model", "test NLL (nats)", "interval (3 standard errors)"], rows)
        + "\n\nHinton et al. (2006) prove that a second layer started from the first one's "
        "transposed weights (same width) and then trained can only raise this bound above the "
        "first RBM's log-likelihood; started at random, as here, it has no such guarantee. "
        + (
            "The bound lies below the first RBM's own NLL: the second layer improved the model "
            "of the pixels, by at least the difference (up to AIS's error)."
            if better
            else "The bound lies above the first RBM's own NLL: through the bound, the second "
            "layer shows no improvement (the DBN may still be better; the bound is not tight)."
        )
    )


def _fmt(value) -> str:
    return "unbounded" if value is None else f"{value:.3f}"


# ---- figures -----------------------------------------------------------------------------------


def _figures(task, params, history: History, workdir: pathlib.Path) -> list[tuple[str, str]]:
    steps = task.config.generation_gibbs_steps
    network = params["dbn"]
    per_class = task.samples_per_class
    figures.image_grid(
        task.generate(network, steps, free=False), task.num_labels, per_class,
        workdir / "samples_clamped.png",
        f"generated with the label clamped ({steps} Gibbs steps in the top RBM, one down pass)",
        row_labels=[str(k) for k in range(task.num_labels)],
    )  # fmt: skip
    figures.image_grid(
        task.generate(network, steps, free=True), task.num_labels, per_class,
        workdir / "samples_free.png",
        f"generated with the label free ({steps} Gibbs steps, one down pass)",
    )  # fmt: skip
    filters_figure(network[dbn.layer_name(0)]["weights"], task.image_shape, workdir / "filters.png")
    text = (
        "![samples with the label clamped](samples_clamped.png)\n\n"
        "![free samples](samples_free.png)\n\n![first-layer filters](filters.png)"
    )
    if history.validation:
        figures.learning_curves(
            history.validation,
            ["error", "free_energy_error", "random_init_error"],
            workdir / "validation_error.png",
            "validation error: the DBN's free energy, fine-tuned, from random init",
        )
        text += "\n\n![validation error over training](validation_error.png)"
    return [("Figures", text)]
