"""The learning-curve figure every report shares: visible points for short runs, the validation
evaluations next to the train records, and the metric that ranked the checkpoints."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from jaxgen.reports import curves
from jaxgen.train.protocol import History

VALIDATION = [
    {"step": 10, "split": "validation", "mse": 0.30, "nll_nats": 91.0},
    {"step": 20, "split": "validation", "mse": 0.20, "nll_nats": 88.5},
    {"step": 30, "split": "validation", "mse": 0.25, "nll_nats": 89.0},
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _lines(ax) -> dict:
    return {line.get_label(): line for line in ax.get_lines()}


def _visible_marker(line) -> bool:
    return line.get_marker() not in (None, "", " ", "None", "none") and line.get_markersize() > 0


def test_a_run_shorter_than_log_every_shows_its_one_point(tmp_path):
    # steps < log_every: the loop logs the last step only, one train record.
    history = History(train=[{"step": 7, "split": "train", "loss": 1.25}], step=7)
    fig = curves.learning_curve_figure(history, ["loss"])
    (ax,) = fig.axes
    line = _lines(ax)["loss (train)"]
    assert list(line.get_xdata()) == [7] and list(line.get_ydata()) == [1.25]
    assert _visible_marker(line)
    low, high = ax.get_xlim()
    assert low < 7 < high
    low, high = ax.get_ylim()
    assert low < 1.25 < high

    assert curves.learning_curve_section(history, ["loss"], tmp_path)
    image = plt.imread(tmp_path / "learning_curve.png")[..., :3]
    # Some pixels in the figure are the line's colour (C0), not white, black or grey.
    saturated = image.max(axis=-1) - image.min(axis=-1) > 0.3
    assert saturated.sum() > 20


def test_long_series_are_drawn_without_markers():
    train = [{"step": s, "split": "train", "loss": 1.0 / s} for s in range(1, 101)]
    fig = curves.learning_curve_figure(History(train=train), ["loss"])
    assert not _visible_marker(_lines(fig.axes[0])["loss (train)"])


def test_the_validation_curve_of_a_train_metric_is_on_its_axes_with_the_selected_step():
    train = [{"step": s, "split": "train", "loss": 1.0 / s, "mse": 0.5 / s} for s in (5, 15, 25)]
    history = History(
        train=train, validation=VALIDATION, best_metric="mse", best_mode="min", best_step=20
    )
    fig = curves.learning_curve_figure(history, ["loss", "mse"])
    (ax,) = fig.axes  # the selection metric is drawn here, so no second panel
    lines = _lines(ax)
    validation = lines["mse (validation)"]
    assert list(validation.get_xdata()) == [10, 20, 30]
    np.testing.assert_array_equal(validation.get_ydata(), [r["mse"] for r in VALIDATION])
    assert validation.get_color() == lines["mse (train)"].get_color()
    assert "loss (validation)" not in lines  # the validation split has no `loss`
    (star,) = [line for label, line in lines.items() if label.startswith("selected checkpoint")]
    assert (list(star.get_xdata()), list(star.get_ydata())) == ([20], [0.20])
    assert not any("eval" in label.replace("validation", "") for label in lines)


def test_the_selection_metric_gets_its_own_panel_when_no_train_curve_matches(tmp_path):
    train = [{"step": s, "split": "train", "loss": 100.0 - s} for s in (10, 20, 30)]
    history = History(
        train=train, validation=VALIDATION, best_metric="nll_nats", best_mode="min", best_step=20
    )
    fig = curves.learning_curve_figure(history, ["loss"])
    main, side = fig.axes
    assert set(_lines(main)) == {"loss (train)"}
    side_lines = _lines(side)
    curve = side_lines["nll_nats (validation)"]
    np.testing.assert_array_equal(curve.get_ydata(), [r["nll_nats"] for r in VALIDATION])
    assert _visible_marker(curve)
    (star,) = [line for label, line in side_lines.items() if label.startswith("selected")]
    assert list(star.get_xdata()) == [20]
    assert "validation nll_nats" in side.get_title() and side.get_xlabel() == "step"

    (section,) = curves.learning_curve_section(history, ["loss"], tmp_path)
    assert "ranked by validation `nll_nats`" in section[1] and "(step 20)" in section[1]
    assert (tmp_path / "learning_curve.png").exists()


def test_without_the_selected_step_the_best_evaluation_is_starred():
    history = History(validation=VALIDATION, best_metric="nll_nats", best_mode="max")
    fig = curves.learning_curve_figure(history, ["loss"])  # no train records at all
    (star,) = [line for line in fig.axes[-1].get_lines() if line.get_label().startswith("sel")]
    assert list(star.get_xdata()) == [10]  # the highest nll_nats, as "max" asks


def test_a_task_that_ranks_nothing_draws_only_its_train_curves(tmp_path):
    history = History(train=[{"step": 3, "split": "train", "objective": -2.0}])
    assert curves.learning_curve_section(History(), ["objective"], tmp_path) == []
    fig = curves.learning_curve_figure(history, ["objective"], logy=False)
    assert len(fig.axes) == 1


def test_the_table_over_seeds_gives_the_sample_count_of_its_fids():
    from jaxgen.reports.seeds import summarize_seeds

    summaries = [
        {"seed": 0, "fid": 10.0, "report_samples": 500},
        {"seed": 1, "fid": 14.0, "report_samples": 500},
    ]
    report = summarize_seeds([0, 1], summaries)
    assert report.summary["fid"] == 12.0
    assert report.summary["fid_std"] == pytest.approx(2.0**0.5 * 2)
    assert "from 500 generated images against the test split" in report.sections[0][1]
    no_samples = summarize_seeds([0, 1], [{"seed": 0, "nll": 1.0}, {"seed": 1, "nll": 2.0}])
    assert "generated images" not in no_samples.sections[0][1]


def test_the_fid_curve_s_floor_is_taken_with_the_curve_s_own_sample_counts():
    from jaxgen.eval.sample_quality import floor_index, periodic_fid_floor

    class Split:
        def __len__(self):
            return 50

        def pixel_view(self):
            return np.arange(50 * 4, dtype=np.float32).reshape(50, 2, 2, 1)

    class Task:
        train_split = Split()

        class config:  # noqa: N801 (a stand-in for the ConfigDict)
            eval_samples = 20

        def fid_to(self, split, images):
            self.asked = (split, images)
            return 1.5

    task = Task()
    assert periodic_fid_floor(task) == 1.5
    split, images = task.asked
    assert split == "validation" and len(images) == 20
    np.testing.assert_array_equal(images, Split().pixel_view()[floor_index(50, 20)])


def test_the_fid_curve_stars_the_selected_checkpoint_and_names_its_floor(tmp_path, monkeypatch):
    from jaxgen.viz import figures

    drawn = {}
    monkeypatch.setattr(figures, "save", lambda fig, path: drawn.setdefault("fig", fig) and path)
    validation = [{"step": s, "split": "validation", "fid": f} for s, f in ((5, 9.0), (10, 4.0))]
    history = History(validation=validation, best_metric="fid", best_mode="min", best_step=10)
    assert curves.fid_over_training(history, ["fid"], tmp_path, 300, floor=1.25)
    lines = _lines(drawn["fig"].axes[0])
    (star,) = [line for label, line in lines.items() if label.startswith("selected checkpoint")]
    assert (list(star.get_xdata()), list(star.get_ydata())) == ([10], [4.0])
    assert list(lines["floor (300 real train images)"].get_ydata()) == [1.25, 1.25]
