"""The image-completion report: the conditional NLLs of the NN and the CVAE for 1, 2 and 3
quadrants given beside the Pyro tutorial's table, the completions of `completion.missing` scored
with pix2pix's own code (families/image_translation/report.py: pix2pix_numbers), the input / NN /
CVAE / truth strips and the learning curve."""

from __future__ import annotations

import pathlib

import ml_collections
import numpy as np

from jaxgen.families.image_translation.report import pix2pix_numbers
from jaxgen.families.image_translation.task import Pix2PixTask
from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures

# The Pyro tutorial's table (pyro.ai/examples/cvae.html), full MNIST, nats: quadrants given ->
# (NN, CVAE "Monte Carlo"). Grey targets; the CVAE column is the 10-particle negative ELBO.
PYRO_TABLE = {1: (100.4, 71.8), 2: (61.9, 51.0), 3: (25.4, 24.2)}
PYRO_PARTICLES = 10  # util.generate_table: Trace_ELBO(num_particles=10)
STRIP = 10  # test examples in each figure
FIGURE_SAMPLES = 3  # CVAE draws z ~ p(z | x) shown per example
SHARED = ("test_examples", "completion_accuracy_masked", "classifier_test_accuracy")


class _Pix2PixScoring:
    """What pix2pix_numbers reads of a pix2pix task, for the completion baselines: the same
    `image_numbers` (Pix2PixTask's own method), config keys, mask and train split."""

    completion = True
    image_numbers = Pix2PixTask.image_numbers

    def __init__(self, task, region: str, mask):
        config = task.config
        self.config = ml_collections.ConfigDict(
            {
                "dataset": config.dataset,
                "preprocess": config.get("preprocess"),
                "progress": config.progress,
                "paired": {"kind": "completion"},
                "completion": {"missing": region},
            }
        )
        self.train_split, self.mask = task.train_split, mask


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    summary, nll_section = _likelihoods(task, params, history)
    numbers, completion_section = _completions(task, params)
    summary.update(numbers)
    sections = [nll_section, completion_section, _figures(task, params, workdir)]
    names = ["loss"] + [f"{m}_loss_q{q}" for m in ("nn", "cvae") for q in task.quadrants]
    sections += learning_curve_section(history, names, workdir)
    return Report(summary, sections)


def _likelihoods(task, params, history: History) -> tuple[dict, tuple[str, str]]:
    config = task.config
    k = int(config.nll_samples)
    sampled = task.nlls(params, "test", k)
    elbo10 = task.nlls(params, "test", PYRO_PARTICLES)
    summary, rows = {}, []
    for q in task.quadrants:
        nn_nll = float(np.mean(sampled[q]["nn"]))
        cvae = float(np.mean(sampled[q]["cvae"]))
        neg_elbo = float(np.mean(elbo10[q]["cvae_neg_elbo"]))
        summary[f"nn_cond_nll_nats_q{q}"] = nn_nll
        summary[f"cvae_cond_nll_nats_q{q}"] = cvae
        summary[f"cvae_neg_elbo10_nats_q{q}"] = neg_elbo
        pyro_nn, pyro_cvae = PYRO_TABLE[q]
        rows.append([q, nn_nll, cvae, neg_elbo, f"{pyro_nn:.1f}", f"{pyro_cvae:.1f}"])
    summary["cvae_cond_nll_nats"] = float(
        np.mean([summary[f"cvae_cond_nll_nats_q{q}"] for q in task.quadrants])
    )
    summary["nll_num_samples"] = k
    summary["nll_test_examples"] = len(task.images["test"])
    n = len(task.images["test"])
    text = (
        f"Conditional NLL -log p(y_missing | x) in nats per image, summed over the missing "
        f"pixels, on the {n} `{config.dataset}` test images, for the regions given1 / given2 / "
        "given3 (1, 2, 3 quadrants given, jaxgen/data/masks.py). x: the given pixels as they "
        "are (grey); y: the missing pixels **binarized once with a fixed key** (the VAE "
        "family's binarized test set), so each number is minus the log-probability of binary data. "
        "NN: its Bernoulli NLL (the masked BCE). CVAE: importance-sampled, -log (1/K) sum_k "
        f"p(y | x, z_k) p(z_k | x) / q(z_k | x, y), z_k ~ q(z | x, y), K = {k}. CVAE -ELBO "
        f"({PYRO_PARTICLES} particles): the mean of -log w over {PYRO_PARTICLES} draws, the "
        "estimator of Pyro's table (util.generate_table: Trace_ELBO(num_particles=10)), an "
        "upper bound on the NLL.\n\n"
        "Pyro's numbers come from another protocol and compare only roughly: (1) data: full "
        "MNIST, 60,000 training images, its table on the 10,000 MNIST test images, which its "
        "early stopping also watched (its `val` split is MNIST's test split); jaxgen trains "
        f"{history.step} steps (the reported checkpoint's) on `{config.dataset}` "
        f"({len(task.train_split)} training images), picks the checkpoint on a separate "
        "validation split and reports the test split once. (2) Targets: Pyro scores **grey** "
        "targets with a Bernoulli log_prob, a cross-entropy rather than a probability of "
        "anything; jaxgen trains on dynamically binarized targets and scores binarized ones. "
        "For the NN, whose guess never sees the target, the expected NLL of the binarized "
        "pixels is exactly the grey cross-entropy, so its column compares up to data size and "
        "training; the CVAE's recognition network sees the target's bits, so its columns do "
        "not compare exactly. (3) Training: Pyro pretrains the NN with early stopping and "
        "freezes it for the CVAE; jaxgen trains all six models at once for a fixed number of "
        "steps, the CVAE's prior seeing the NN's current guess through stop_gradient. Both use "
        f"Adam 1e-3; jaxgen's batch is {config.batch_size}, and its training objective takes the "
        "KL in closed form (Pyro's Trace_ELBO samples it: the same expectation).\n\n"
        + markdown_table(
            [
                "quadrants given",
                "NN",
                f"CVAE (K = {k})",
                f"CVAE -ELBO ({PYRO_PARTICLES})",
                "Pyro NN",
                "Pyro CVAE -ELBO (10)",
            ],
            rows,
        )
    )
    return summary, ("Conditional likelihood", text)


def _masked(images: np.ndarray, mask, value: float) -> np.ndarray:
    return np.where(np.asarray(mask)[None, :, :, None], value, images)


def _completions(task, params) -> tuple[dict, tuple[str, str]]:
    """The completions of `completion.missing` on every test image, scored by pix2pix's code
    against the grey test images, as experiments/pix2pix_completion.py is scored."""
    region = task.config.completion.missing
    q = int(region[-1])
    mask = task.masks[q]
    truth, labels = task.images["test"], task.labels["test"]
    inputs = _masked(truth, mask, 0.0)  # pix2pix's completion input: missing pixels black
    completed = task.completions(params, q, truth)
    scoring = _Pix2PixScoring(task, region, mask)
    numbers, rows, text = {}, {}, ""
    for name in ("nn", "cvae"):
        values, text = pix2pix_numbers(scoring, completed[name], inputs, truth, labels)
        for key, value in values.items():
            if key in SHARED:
                numbers[key] = value
            else:
                numbers[f"{name}_{key}"] = value
                rows.setdefault(key, {})[name] = value
    table = markdown_table(
        ["metric", "NN", "CVAE"], [[key, v["nn"], v["cvae"]] for key, v in rows.items()]
    )
    shared = markdown_table(["metric", "value"], [[k, numbers[k]] for k in SHARED if k in numbers])
    body = (
        f"Completions of `{region}` ({q} quadrant{'s' if q > 1 else ''} given) of the grey test "
        "images, the given pixels kept as they are. NN: its sigmoid probabilities on the "
        "missing pixels; CVAE: its mean image E[y | x, z] at z = the mean of p(z | x). Scored "
        "with pix2pix's code (families/image_translation/report.py: pix2pix_numbers, the same "
        "targets and region as experiments/pix2pix_completion.py): "
        + text
        + "\n\n"
        + table
        + "\n\nThe same for both (the masked inputs, the classifier):\n\n"
        + shared
    )
    return numbers, ("Completion quality", body)


def _figures(task, params, workdir: pathlib.Path) -> tuple[str, str]:
    truth = task.images["test"][:STRIP]
    body = []
    for q in task.quadrants:
        mask = task.masks[q]
        out = task.completions(params, q, truth, samples=FIGURE_SAMPLES, seed=q)
        draws = [out["cvae_samples"][:, s] for s in range(FIGURE_SAMPLES)]
        figures.image_rows(
            [_masked(truth, mask, 0.5), out["nn"], out["cvae"], *draws, truth],
            ["input", "NN", "CVAE mean", *[f"CVAE z~p(z|x) {s + 1}" for s in range(len(draws))]]
            + ["truth"],
            workdir / f"completions_q{q}.png",
            f"{q} quadrant{'s' if q > 1 else ''} given (missing pixels grey in the input)",
        )
        body.append(f"![{q} given](completions_q{q}.png)")
    text = (
        f"The first {len(truth)} test images: the input (missing pixels shown grey), the NN's "
        "completion, the CVAE's mean image at the prior mean, "
        f"{FIGURE_SAMPLES} CVAE samples E[y | x, z] with z ~ p(z | x), and the truth; given "
        "pixels kept as they are (as the Pyro tutorial's figure).\n\n" + "\n\n".join(body)
    )
    return ("Completions", text)
