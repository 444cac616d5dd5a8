"""The image-translation reports: pix2pix (image metrics on the test pairs, the digit
classifier's accuracy on outputs and inputs, FID of the outputs) and CycleGAN (label
preservation against the no-translation baseline, FID in the target domain, cycle error, both
directions), with input / output / target strips, A -> B -> A cycles and the loss curves."""

from __future__ import annotations

import pathlib

import numpy as np

from jaxgen.data import image_pairs as data
from jaxgen.eval.features import FeatureSpace
from jaxgen.families.image_translation.task import CycleGANTask
from jaxgen.metrics import image_quality
from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures

STRIP = 10  # examples in each figure


def _classifier_text(classifier) -> str:
    return (
        f"jaxgen's feature classifier `{classifier.workdir.name}` (trained on the train split's "
        f"labels; test accuracy {classifier.test_accuracy:.4f})"
    )


# ---- pix2pix -----------------------------------------------------------------------------------


def pix2pix_numbers(task, outputs, inputs, targets, labels) -> tuple[dict, str]:
    """The report's numbers of outputs against targets, and the protocol sentence. Shared with
    the completion baselines (families/completion/task.py), which are scored the same way."""
    config = task.config
    numbers = {k: float(np.mean(v)) for k, v in task.image_numbers(outputs, targets).items()}
    numbers["ssim"] = float(np.mean(image_quality.ssim(outputs, targets)))
    numbers["test_examples"] = len(targets)
    prefix = "completion_" if task.completion else ""
    text = (
        f"{len(targets)} test pairs of `{config.dataset}` ({config.paired.kind}"
        + (f", missing `{config.completion.missing}`" if task.completion else "")
        + "). L1 and PSNR (10 log10(1/MSE), data range 1) per image, on the missing region "
        "where there is one and on the whole image, then averaged; SSIM: scikit-image's "
        "structural_similarity per image (7x7 window), averaged."
    )
    split = task.train_split
    if split.labels_N is not None:
        space = FeatureSpace(config.dataset, config.get("preprocess"), config.progress)
        classifier = space.classifier
        numbers[f"{prefix}accuracy"] = float(
            np.mean(classifier.probabilities(outputs).argmax(1) == labels)
        )
        masked = "masked" if task.completion else "inputs"
        seen = data.to_channels(inputs, targets.shape[-1])
        numbers[f"{prefix}accuracy_{masked}"] = float(
            np.mean(classifier.probabilities(seen).argmax(1) == labels)
        )
        numbers["classifier_test_accuracy"] = classifier.test_accuracy
        numbers["fid"] = space.fid(space.features(targets), outputs)
        text += (
            f" Accuracy: {_classifier_text(classifier)} on the outputs, and on the inputs as "
            "they are (the floor the translation must lift); FID of the outputs against the "
            "targets in its 128-d features."
        )
    else:
        text += " The data set has no labels, so there is no classifier to score the outputs."
    return numbers, text


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    """The report of either translation task: paired (pix2pix) or unpaired (CycleGAN)."""
    if isinstance(task, CycleGANTask):
        return cyclegan_report(task, params, history, workdir)
    return pix2pix_report(task, params, history, workdir)


def pix2pix_report(task, params, history: History, workdir: pathlib.Path) -> Report:
    inputs, targets, labels = task.examples("test", task.config.report_examples)
    outputs = task.translate(params, "generator", inputs)
    numbers, text = pix2pix_numbers(task, outputs, inputs, targets, labels)
    summary = {**{f"test_{k}": v for k, v in history.test.items()}, **numbers}
    rows = [[k, v] for k, v in numbers.items()]
    sections = [("Translation quality", text + "\n\n" + markdown_table(["metric", "value"], rows))]
    n = min(STRIP, len(targets))
    figures.image_rows(
        [data.to_channels(inputs[:n], targets.shape[-1]), outputs[:n], targets[:n]],
        ["input", "output", "target"],
        workdir / "translations.png",
        f"pix2pix: {task.config.paired.kind}, test examples",
    )
    sections.append(("Figures", "![input, output, target](translations.png)"))
    sections += learning_curve_section(history, ["loss", "generator_loss", "l1"], workdir, "losses")
    return Report(summary, sections)


# ---- CycleGAN ----------------------------------------------------------------------------------


def cyclegan_report(task, params, history: History, workdir: pathlib.Path) -> Report:
    config = task.config
    t = task.translations(params, "test", config.report_examples)
    numbers = {
        "cycle_l1_a": float(np.mean(np.abs(t["rec_a"] - t["a"]))),
        "cycle_l1_b": float(np.mean(np.abs(t["rec_b"] - t["b"]))),
        "test_examples_a": len(t["a"]),
        "test_examples_b": len(t["b"]),
    }
    text = (
        f"Test splits of domain A (`{task.names['a']}`, {len(t['a'])} images) and B "
        f"(`{task.names['b']}`, {len(t['b'])} images). Cycle L1: mean |G_BA(G_AB(a)) - a| "
        "(and the other way), pixels in [0, 1]."
    )
    two_domain_set = task.names["a"] == task.names["b"]
    if task.labelled:
        rows = []
        for direction, source, target in (("a2b", "a", "b"), ("b2a", "b", "a")):
            space = task.spaces[target]
            classifier = space.classifier
            fake, real = t[f"fake_{target}"], t[target]
            real_features = space.features(real)
            numbers[f"fid_{direction}"] = space.fid(real_features, fake)
            untranslated = data.to_channels(t[source], real.shape[-1])
            numbers[f"fid_{direction}_untranslated"] = space.fid(real_features, untranslated)
            if two_domain_set:  # the classifier tells the domains apart: is it in the target?
                want = np.full(len(fake), "ab".index(target))
                name = f"target_domain_rate_{direction}"
            else:  # the digit classifier of the target domain: does the digit survive?
                want = t[f"labels_{source}"]
                name = f"label_preservation_{direction}"
            predicted = classifier.probabilities(fake).argmax(1)
            numbers[name] = float(np.mean(predicted == want))
            numbers[f"{name}_untranslated"] = float(
                np.mean(classifier.probabilities(untranslated).argmax(1) == want)
            )
            numbers[f"classifier_test_accuracy_{target}"] = classifier.test_accuracy
            rows.append(
                [
                    f"{source.upper()} to {target.upper()}",
                    numbers[name],
                    numbers[f"{name}_untranslated"],
                    classifier.test_accuracy if not two_domain_set else "",
                    numbers[f"fid_{direction}"],
                    numbers[f"fid_{direction}_untranslated"],
                    numbers[f"cycle_l1_{source}"],
                ]
            )
        score = "target-domain rate" if two_domain_set else "label preservation"
        text += (
            f" {score.capitalize()}: the target domain's classifier (trained by jaxgen on its "
            "train split's labels"
            + (", here the two domains" if two_domain_set else "")
            + ") on the translated source test images"
            + (
                ": the fraction it puts in the target domain"
                if two_domain_set
                else ": the fraction keeping their source label"
            )
            + "; `untranslated`: the same classifier on the source images as they are (the "
            "no-translation baseline); the target domain's own test accuracy brackets it from "
            "above. FID: translated source test images against the target test images in that "
            "classifier's 128-d features; untranslated: the source images themselves.\n\n"
            + markdown_table(
                [
                    "direction",
                    score,
                    "untranslated",
                    "target test accuracy",
                    "FID",
                    "FID untranslated",
                    "cycle L1 (source)",
                ],
                rows,
            )
        )
    else:
        text += " The domains have no labels: no classifier, so no FID or label scores."
    summary = {**{f"test_{k}": v for k, v in history.test.items()}, **numbers}
    sections = [("Translation", text)]
    c = max(task.shapes["a"][-1], task.shapes["b"][-1])
    for source, target in (("a", "b"), ("b", "a")):
        n = min(STRIP, len(t[source]))
        figures.image_rows(
            [data.to_channels(t[k][:n], c) for k in (source, f"fake_{target}", f"rec_{source}")],
            [source.upper(), f"{source.upper()} to {target.upper()}", "and back"],
            workdir / f"cycle_{source}.png",
            f"{task.names[source]} to {task.names[target]} and back",
        )
    sections.append(("Figures", "![cycle from A](cycle_a.png)\n\n![cycle from B](cycle_b.png)"))
    sections += learning_curve_section(
        history, ["loss", "generator_loss", "cycle_a", "cycle_b"], workdir, "losses"
    )
    return Report(summary, sections)
