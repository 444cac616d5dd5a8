"""Figures as PNG files. Every function takes NumPy arrays and a path and returns the path."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from jaxgen.viz.grid import tile  # noqa: E402


def save(fig, path: pathlib.Path) -> pathlib.Path:
    """Writes `fig` to `path` as PNG and closes it; returns the path."""
    path = pathlib.Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _panel_grid(n: int, panel_width: float, **subplots_kw):
    """A figure with n panels, up to 5 a row, each panel_width x 2.6 inches; spare ones hidden."""
    columns = min(n, 5)
    rows = -(-n // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(panel_width * columns, 2.6 * rows), squeeze=False, **subplots_kw
    )
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def image_rows(
    rows: Sequence[np.ndarray], labels: Sequence[str], path: pathlib.Path, title: str = ""
) -> pathlib.Path:
    """Rows of images (each row an N x H x W x C array), one label per row."""
    columns = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(columns * 0.6, len(rows) * 0.75))
    axes = np.atleast_1d(axes)
    for ax, images, label in zip(axes, rows, labels, strict=True):
        ax.imshow(tile(images, columns), cmap="gray", vmin=0, vmax=1)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        axes[0].set_title(title, fontsize=9)
    return save(fig, path)


def image_grid(
    images_NxHxWxC: np.ndarray,
    rows: int,
    columns: int,
    path: pathlib.Path,
    title: str = "",
    row_labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
) -> pathlib.Path:
    """A rows x columns grid of N = rows * columns images in row-major order, optional labels.

    Image k sits in row k // columns, column k % columns. Row labels go on the left, column
    labels along the top, one per row or column.
    """
    images = np.asarray(images_NxHxWxC)
    if images.ndim != 4 or len(images) != rows * columns:
        raise ValueError(f"need {rows}*{columns} images of shape HxWxC; got {images.shape}")
    for name, labels, count in (("row", row_labels, rows), ("column", column_labels, columns)):
        if labels is not None and len(labels) != count:
            raise ValueError(f"{len(labels)} {name} labels for {count} {name}s")
    _, h, w, _ = images.shape
    fig, ax = plt.subplots(figsize=(max(columns * 0.6, 2.0), max(rows * 0.6 * h / w, 1.0)))
    ax.imshow(tile(images, columns), cmap="gray", vmin=0, vmax=1)
    # Ticks at cell centres; tile leaves a 1-pixel gap after each cell.
    ax.set_yticks([r * (h + 1) + (h - 1) / 2 for r in range(rows)] if row_labels else [])
    ax.set_xticks([c * (w + 1) + (w - 1) / 2 for c in range(columns)] if column_labels else [])
    if row_labels:
        ax.set_yticklabels(row_labels, fontsize=7)
    if column_labels:
        ax.set_xticklabels(column_labels, fontsize=7)
        ax.xaxis.tick_top()
    ax.tick_params(length=0)
    if title:
        ax.set_title(title, fontsize=9)
    return save(fig, path)


def image_panels(
    images: Sequence[np.ndarray], titles: Sequence[str], path: pathlib.Path, width: float = 2.6
) -> pathlib.Path:
    """Images of any sizes (each H x W x C in [0, 1], C 1 or 3) side by side, up to 5 a row,
    each with its title; each panel keeps its image's aspect ratio."""
    fig, axes = _panel_grid(len(images), width)
    for ax, image, title in zip(axes.flat, images, titles, strict=True):
        image = np.clip(np.asarray(image), 0.0, 1.0)
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    return save(fig, path)


def scatter_codes(
    points_Nx2: np.ndarray, labels_N: np.ndarray | None, path: pathlib.Path, title: str
) -> pathlib.Path:
    """2-D points coloured by class label."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    colors = None if labels_N is None else labels_N
    sc = ax.scatter(points_Nx2[:, 0], points_Nx2[:, 1], c=colors, cmap="tab10", s=4, alpha=0.8)
    if labels_N is not None:
        fig.colorbar(sc, ax=ax, ticks=range(int(labels_N.max()) + 1), label="label")
    ax.set_title(title, fontsize=9)
    return save(fig, path)


def curves(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    path: pathlib.Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    logy: bool = False,
) -> pathlib.Path:
    """Several y-series against one x, with markers."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    few = len(x) <= 30  # markers and a tick per point only while they stay readable
    for name, ys in series.items():
        style = "--" if "(init)" in name else "-"
        ax.plot(x, ys, style, marker="o" if few else None, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if len(x) <= 12:
        ax.set_xticks(list(x))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title, fontsize=9)
    return save(fig, path)


def score_histograms(
    panels: Mapping[str, tuple[np.ndarray, np.ndarray]], path: pathlib.Path, xlabel: str
) -> pathlib.Path:
    """One panel per entry: histograms of scores of normal vs anomalous examples."""
    n = len(panels)
    fig, axes = _panel_grid(n, 3.2)
    for ax, (title, (normal, anomalous)) in zip(axes.flat, panels.items(), strict=False):
        bins = np.histogram_bin_edges(np.concatenate([normal, anomalous]), bins=40)
        ax.hist(anomalous, bins=bins, alpha=0.6, density=True, label="anomalous")
        ax.hist(normal, bins=bins, alpha=0.6, density=True, label="normal")
        ax.set_title(title, fontsize=8)
        ax.set_xlabel(xlabel, fontsize=7)
        ax.tick_params(labelsize=6)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


FEW_POINTS = 20  # a series of at most this many points is drawn with a marker at each


@dataclasses.dataclass(frozen=True)
class Selection:
    """What ranked the checkpoints: the validation `metric`, whether lower ("min") or higher
    ("max") is better, and the selected checkpoint's `step` (None: the best of the records)."""

    metric: str
    mode: str = "min"
    step: int | None = None


def _series(records: Sequence[dict], name: str) -> tuple[list[int], list[float]]:
    """The (steps, values) of `name` in `records`, its non-finite values left out."""
    points = [(r["step"], float(r[name])) for r in records if _is_number(r.get(name))]
    return [s for s, _ in points], [v for _, v in points]


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def _plot(ax, steps, values, **kw):
    """One series; a marker at every point while there are few (a single point is a marker)."""
    marker = kw.pop("marker", "o")
    few = len(steps) <= FEW_POINTS
    return ax.plot(steps, values, marker=marker if few else None, markersize=4, **kw)[0]


def _mark_selected(ax, steps, values, selection: Selection, color) -> None:
    """A star on the curve at the selected checkpoint's step (a dotted line where the curve
    has no point there)."""
    step = selection.step
    if step is None and values:  # the first best of the recorded evaluations
        best = min(values) if selection.mode == "min" else max(values)
        step = steps[values.index(best)]
    if step is None:
        return
    if step in steps:
        value = values[steps.index(step)]
        label = f"selected checkpoint: step {step}, {selection.metric} {value:.4g}"
        ax.plot([step], [value], "*", markersize=14, color=color, markeredgecolor="k", label=label)
    else:
        ax.axvline(step, color="k", linestyle=":", linewidth=1, label=f"selected: step {step}")


def learning_curves_figure(
    records: Sequence[dict],
    names: Sequence[str],
    title: str,
    *,
    logy: bool = True,
    reference: tuple[float, str] | None = None,
    validation: Sequence[dict] | None = None,
    selection: Selection | None = None,
):
    """The figure of `learning_curves` (a matplotlib Figure, for callers that look at it).

    Without `validation`, one line per name in `records`, labelled by the name. With it, each
    name's train line (solid, "NAME (train)") has the validation records of the same name on
    the same axes (dashed, same colour, "NAME (validation)"). `selection` adds the validation
    curve of the metric that ranks checkpoints, with a star at the selected step: on those
    axes when it is one of `names` drawn there, otherwise on a panel of its own to the right.
    Without `validation`, `records` may be evaluations themselves: the selection's series among
    them gets the star.
    The x axis is the step, with integer ticks."""
    both = validation is not None
    own_panel = False
    if selection is not None:
        drawn = [n for n in names if _series(records, n)[0]]
        own_panel = selection.metric not in drawn and bool(
            _series(validation or [], selection.metric)[0]
        )
    fig, axes = plt.subplots(  # one step axis for both panels
        1, 2 if own_panel else 1, figsize=(10.5 if own_panel else 5.5, 4), sharex=True
    )
    ax = axes[0] if own_panel else axes
    for index, name in enumerate(names):
        steps, values = _series(records, name)
        if not steps:
            continue
        color = f"C{index % 10}"
        _plot(ax, steps, values, color=color, label=f"{name} (train)" if both else name)
        v_steps, v_values = _series(validation or [], name)
        if v_steps:
            _plot(
                ax,
                v_steps,
                v_values,
                color=color,
                linestyle="--",
                marker="s",
                label=f"{name} (validation)",
            )
            if selection is not None and selection.metric == name:
                _mark_selected(ax, v_steps, v_values, selection, color)
        elif selection is not None and not both and selection.metric == name:
            # `records` are themselves evaluations (validation FID over training): star the pick.
            _mark_selected(ax, steps, values, selection, color)
    if reference is not None:
        ax.axhline(reference[0], color="k", linestyle=":", linewidth=1, label=reference[1])
    if logy:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    panels = [ax]
    if own_panel:
        side = axes[1]
        steps, values = _series(validation, selection.metric)
        better = "lower" if selection.mode == "min" else "higher"
        _plot(
            side,
            steps,
            values,
            color="C3",
            linestyle="--",
            marker="s",
            label=f"{selection.metric} (validation)",
        )
        _mark_selected(side, steps, values, selection, "C3")
        side.set_title(
            f"validation {selection.metric}\n(ranks the checkpoints; {better} is better)",
            fontsize=9,
        )
        panels.append(side)
    for panel in panels:
        panel.set_xlabel("step")
        panel.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        panel.grid(alpha=0.3)
        if panel.get_legend_handles_labels()[0]:
            panel.legend(fontsize=7)
    fig.tight_layout()
    return fig


def learning_curves(
    records: Sequence[dict],
    names: Sequence[str],
    path: pathlib.Path,
    title: str,
    *,
    logy: bool = True,
    reference: tuple[float, str] | None = None,
    validation: Sequence[dict] | None = None,
    selection: Selection | None = None,
) -> pathlib.Path:
    """Metrics from metrics.jsonl records against step (log scale unless `logy` is False);
    `reference` = (value, label) draws a dotted horizontal line; `validation` and `selection`
    add the validation curves and the one that ranks checkpoints (`learning_curves_figure`).
    A series of few points has a marker at each, so a run of one logged step shows its point."""
    fig = learning_curves_figure(
        records,
        names,
        title,
        logy=logy,
        reference=reference,
        validation=validation,
        selection=selection,
    )
    return save(fig, path)


def points_over_training(
    panels: Sequence[tuple[str, np.ndarray]],
    centers_Mx2: np.ndarray,
    path: pathlib.Path,
    title: str = "",
) -> pathlib.Path:
    """One panel per (title, N x 2 points): the points over the true mode centres (red rings)."""
    n = len(panels)
    fig, axes = _panel_grid(n, 2.6, sharex=True, sharey=True)
    pad = 0.25 * np.ptp(centers_Mx2, axis=0).max() + 0.5
    low, high = centers_Mx2.min(axis=0) - pad, centers_Mx2.max(axis=0) + pad
    for ax, (name, points) in zip(axes.flat, panels, strict=False):
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, color="tab:blue", linewidths=0)
        ax.scatter(  # hollow, so that points on a mode stay visible
            centers_Mx2[:, 0], centers_Mx2[:, 1], s=40, facecolors="none", edgecolors="tab:red"
        )
        ax.set_xlim(low[0], high[0])
        ax.set_ylim(low[1], high[1])
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def attention_maps(
    maps: Sequence[np.ndarray],
    titles: Sequence[str],
    rows: Sequence[Sequence[str]],
    columns: Sequence[Sequence[str]],
    path: pathlib.Path,
) -> pathlib.Path:
    """Attention heat maps, one panel a pair: output symbols (rows) by source symbols
    (columns), each row the attention of one output step (a distribution over the source)."""
    fig, axes = _panel_grid(len(maps), 3.2)
    for ax, weights, title, ys, xs in zip(axes.flat, maps, titles, rows, columns, strict=False):
        ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(xs)), xs, fontsize=6, rotation=90)
        ax.set_yticks(range(len(ys)), ys, fontsize=6)
        ax.set_title(title, fontsize=7)
    return save(fig, path)
