"""The reports of convnets run in reverse: numbers before and after, in the optimised network
and in a second one that was never optimised against, and the images."""

from __future__ import annotations

import pathlib

import jax
import numpy as np

from jaxgen.data import images as image_files
from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.train.replicas import run_keys
from jaxgen.viz import figures


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    """The report of the task's method."""
    method = task.config.method
    if method in ("style_transfer", "texture"):
        return style_report(task, params, history, workdir)
    if method == "deepdream":
        return dream_report(task, params, history, workdir)
    return visualisation_report(task, params, history, workdir)


def _network_lines(task) -> str:
    lines = [f"- optimised against: {task.network.description}"]
    if task.check_network is not None:
        lines.append(f"- measured also in: {task.check_network.description} (never optimised)")
    return "\n".join(lines)


# ---------------------------------------------------------------- style transfer and textures


def style_report(task, params, history: History, workdir: pathlib.Path) -> Report:
    """Style (and content) losses of the starting image and of the result, in both networks."""
    config = task.config
    start = task.image(task.init_params(run_keys(history.seed)[0]))
    initial, final = task.measure(start), history.test
    summary = {f"initial_{k}": v for k, v in initial.items()}
    summary.update({f"final_{k}": v for k, v in final.items()})
    rows = [
        [name, initial[name], final[name], _ratio(final[name], initial[name])] for name in final
    ]
    what = "texture" if task.texture else "style transfer"
    start_text = (
        "uniform noise" if config.init == "noise" else f"the content image `{config.content_image}`"
    )
    protocol = (
        f"{what.capitalize()}: {history.step} {config.optimizer} steps on the pixels of one "
        f"{task.shape[0]}x{task.shape[1]} image, started from {start_text}; style image "
        f"{image_files.describe(config.style_image)}"
        + ("" if task.texture else f", content image {image_files.describe(config.content_image)}")
        + f" (longer side {config.image_size or 'as is'}).\n\n"
        + _network_lines(task)
        + f"\n- style layers {', '.join(task.style_layers)}"
        + ("" if task.texture else f"; content layers {', '.join(task.content_layers)}")
        + (
            f"; in the check network: style {', '.join(task.check_layers[0])}"
            + ("" if task.texture else f", content {', '.join(task.check_layers[1])}")
            if task.check_network is not None
            else ""
        )
        + "\n\nUnweighted losses (the TensorFlow tutorial's definitions: Gram matrices divided "
        "by the number of positions; mean squared differences, averaged over layers). The "
        "optimised loss weighted them by "
        + f"style {config.style_weight:g}"
        + ("" if task.texture else f", content {config.content_weight:g}")
        + f", total variation {config.tv_weight:g}.\n\n"
        + markdown_table(["loss", "start", "result", "result / start"], rows)
    )
    panels = [task.style_image] if task.texture else [task.content_image, task.style_image]
    titles = ["exemplar"] if task.texture else ["content", "style"]
    figures.image_panels(
        panels + [start, task.image(params)],
        titles + ["start", f"result (step {history.step})"],
        workdir / "result.png",
    )
    image_files.save_image(workdir / "result_image.png", task.image(params))
    sections = [("Losses", protocol), ("Result", "![result](result.png)")]
    if history.snapshots:
        figures.image_panels(
            [a["image"] for _, a in history.snapshots],
            [f"step {s}" for s, _ in history.snapshots],
            workdir / "progress.png",
        )
        sections.append(("Over the optimisation", "![progress](progress.png)"))
    names = ["style_loss"] + ([] if task.texture else ["content_loss"])
    return Report(summary, sections + learning_curve_section(history, names, workdir))


def dream_report(task, params, history: History, workdir: pathlib.Path) -> Report:
    """The objective at the first and last step of every octave, the distance from the start."""
    config = task.config
    record = np.asarray(params["octave_objective"])
    rows, summary = [], {}
    for i, (n, size) in enumerate(zip(task.octaves, task.sizes, strict=True)):
        first, last = (float(v) for v in record[i])
        rows.append([n, f"{size[0]}x{size[1]}", first, last])
        summary[f"objective_octave{i}_start"], summary[f"objective_octave{i}_end"] = first, last
    final = history.test
    summary.update(
        final_objective=final["objective"], distance_from_start=final["distance_from_start"]
    )
    protocol = (
        f"DeepDream from {image_files.describe(config.start_image)} (longer side "
        f"{config.image_size or 'as is'}), {len(task.octaves)} octaves of scale "
        f"{config.octave_scale:g} with {config.steps_per_octave} steps each (the last octave "
        f"runs to step {config.steps}), step {config.step_size:g} on pixels in [0, 1] along the "
        "gradient divided by its standard deviation, the image rolled randomly before each "
        "gradient.\n\n"
        + _network_lines(task)
        + f"\n- objective: the sum over {', '.join(task.layers)} of the layer's mean activation"
        "\n\nThe objective of the image entering each octave (resized from the last one) "
        "and after the octave's last step:\n\n"
        + markdown_table(["octave", "size", "entering", "after its steps"], rows)
        + f"\n\nAt the end (step {history.step}, not rolled): objective "
        f"{final['objective']:.4g}; root-mean-square distance from the start image (resized to "
        f"the final size, pixels in [0, 1]): {final['distance_from_start']:.4g}."
    )
    result = np.asarray(params["image"][0])
    start = np.asarray(task.resized_start(result.shape[:2])[0])
    figures.image_panels([start, result], ["start", "dream"], workdir / "dream.png", width=4.0)
    image_files.save_image(workdir / "dream_image.png", result)
    sections = [("Objective over octaves", protocol), ("Dream", "![dream](dream.png)")]
    return Report(
        summary, sections + learning_curve_section(history, ["objective"], workdir, logy=False)
    )


def visualisation_report(task, params, history: History, workdir: pathlib.Path) -> Report:
    """Each unit's score in the optimised and in the transfer network, against the highest
    score any test image reaches in each."""
    config = task.config
    images = task.images(params)
    scores = task.scores(images)
    reference = test_image_maxima(task)
    class_target = config.objective == "log_probability"
    noun = "p(class)" if class_target else "mean activation"
    header = ["unit", f"{noun}, optimised net", "best test image, optimised net"]
    if "transfer" in scores:
        header += [f"{noun}, transfer net", "best test image, transfer net"]
    rows = []
    for i, unit in enumerate(task.units):
        wheres = ("optimised", "transfer") if "transfer" in scores else ("optimised",)
        # Six decimals: probabilities this close to 1 all print as 1 with four digits.
        rows.append([unit] + [f"{d[w][i]:.6f}" for w in wheres for d in (scores, reference)])
    summary = dict(history.test)
    for where, values in reference.items():
        suffix = "" if where == "optimised" else "_transfer"
        summary[f"test_image_min_best{suffix}"] = float(np.min(values))
    target = (
        "the log-probability of each class"
        if class_target
        else f"the mean activation of each unit of `{task.layer}`"
    )
    transfer = (
        "\n- transfer: the images, untransformed, given to the measuring network, trained "
        "independently"
        if task.check_network is not None
        else ""
    )
    protocol = (
        f"Activation maximisation of {target}: {len(task.units)} images of "
        f"{task.shape_HxWxC[0]}x{task.shape_HxWxC[1]}, one a unit, {history.step} Adam steps "
        f"(lr {config.learning_rate:g}) on a {config.parametrisation} parametrisation"
        + (f" (decay power {config.decay_power:g})" if config.parametrisation == "fourier" else "")
        + f"; each gradient through the image jittered by up to {config.jitter} pixels, scaled "
        f"by one of {', '.join(f'{s:g}' for s in task.scales)} and jittered by up to 1 pixel; "
        f"total-variation weight {config.tv_weight:g}.\n\n"
        + _network_lines(task)
        + transfer
        + f"\n- reference: the highest score any of the {reference['count']} `{config.dataset}` "
        "test images reaches for the unit, in each network\n\n" + markdown_table(header, rows)
    )
    labels = [f"{u}: {scores['optimised'][i]:.2f}" for i, u in enumerate(task.units)]
    columns = min(len(images), 10)
    rows_n = -(-len(images) // columns)
    padded = np.concatenate(
        [images, np.zeros((rows_n * columns - len(images), *images.shape[1:]), images.dtype)]
    )
    figures.image_grid(
        padded,
        rows_n,
        columns,
        workdir / "visualisations.png",
        f"unit: {noun} in the optimised network",
        column_labels=(labels + [""] * (columns - len(labels)))[:columns] if rows_n == 1 else None,
    )
    sections = [("Units", protocol), ("Images", "![visualisations](visualisations.png)")]
    return Report(
        summary, sections + learning_curve_section(history, ["objective"], workdir, logy=False)
    )


def test_image_maxima(task) -> dict:
    """{"optimised", "transfer": per unit, the highest score over the data set's test images;
    "count": how many}."""
    from jaxgen.data import config_splits
    from jaxgen.eval.chunked import batched

    test = config_splits(task.config)["test"].pixel_view()
    out = {"count": len(test)}
    nets = {"optimised": task.network}
    if task.check_network is not None:
        nets["transfer"] = task.check_network
    for where, net in nets.items():
        scores = batched(
            jax.jit(lambda w, x, n=net: task.all_unit_scores(n, w, x)), net.weights, test
        )
        out[where] = np.asarray(scores).max(axis=0)
    return out


def _ratio(a: float, b: float) -> float | str:
    """a / b, or "" where b is 0 (the content loss of the content image itself)."""
    return float(a / b) if b else ""
