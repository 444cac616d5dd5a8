"""The sequence-to-sequence report: free-running test scores by greedy and beam decoding (the
headline by `decode.method`), the teacher-forced token accuracy labelled as such, the
length-extrapolation set, pairs dropped for length; attention heat maps, exact match against
input length, and greedy against beam outputs beside their references."""

from __future__ import annotations

import pathlib

import numpy as np

from jaxgen.data.sequence_pairs import tokenize
from jaxgen.reports.curves import learning_curve_section
from jaxgen.reports.markdown import Report, markdown_table
from jaxgen.train.protocol import History
from jaxgen.viz import figures

NUM_HEATMAPS = 4
NUM_EXAMPLES = 12


def report(task, params, history: History, workdir: pathlib.Path) -> Report:
    c = task.config
    greedy = task.decode(params, "test", "greedy")
    beam = task.decode(params, "test", "beam")
    by = {
        "greedy": task.scores("test", greedy["outputs"]),
        "beam": task.scores("test", beam["outputs"]),
    }
    headline = by[c.decode.method]
    numbers = {f"test_{k}": v for k, v in headline.items()}
    numbers["decoding"] = _decoding(c)
    # The loop's test evaluation (history.test) already measured it on these parameters.
    numbers["test_token_accuracy_teacher_forced"] = history.test["token_accuracy_teacher_forced"]
    for method, scores in by.items():
        numbers.update({f"test_{k}_{method}": v for k, v in scores.items()})
    rows = [[_decoding(c) if m == "beam" else "greedy", *(by[m][k] for k in _KEYS)] for m in by]
    extra = {}
    for name in task.data.extra:
        decoded = task.decode(params, name, c.decode.method)
        extra[name] = task.scores(name, decoded["outputs"])
        numbers.update({f"{name}_{k}": v for k, v in extra[name].items()})
        rows.append([f"{c.decode.method}, set `{name}`", *(extra[name][k] for k in _KEYS)])
    numbers.update({f"dropped_{split}": n for split, n in task.data.dropped.items()})
    sections = [("Test", _test_text(task, numbers, rows))]
    sampled = task.decode(params, "test", "sample")
    sections += _figures(task, greedy, beam, sampled, workdir)
    sections += learning_curve_section(history, ["loss"], workdir)
    return Report(numbers, sections)


_KEYS = ("exact_match", "symbol_accuracy", "bleu", "chrf")


def _decoding(config) -> str:
    d = config.decode
    if d.method == "greedy":
        return "greedy"
    return f"beam (width {d.beam_width}, length penalty {d.length_penalty})"


def _test_text(task, s: dict, rows: list) -> str:
    c, m = task.config, task.config.model
    sizes = {k: len(v) for k, v in task.sets.items()}
    dropped = ", ".join(f"{k} {v}" for k, v in task.data.dropped.items())
    text = (
        f"An encoder-decoder {m.cell.upper()} ({m.num_layers} layer(s) of {m.hidden_size} units"
        f"{', bidirectional encoder' if m.bidirectional else ''}, attention: {m.attention}) on "
        f"`{task.data.name}`: {len(task.data.train)} training pairs, {sizes['test']} test pairs "
        f"({task.source_kind} to {task.kind} symbols; source vocabulary "
        f"{len(task.source_vocab)}, target "
        f"{len(task.target_vocab)}, built from the training split; pairs longer than "
        f"{c.max_length} symbols dropped: {dropped}). Every number is free-running: the model "
        "decodes from its own previous outputs, never from the reference.\n\n"
        + markdown_table(["decoding", "exact match", "symbol accuracy", "BLEU", "chrF"], rows)
        + f"\n\nTeacher-forced token accuracy (the decoder fed the reference; what the "
        f"TensorFlow and Keras tutorials report, not a measure of decoding): "
        f"{s['test_token_accuracy_teacher_forced']:.4f}."
    )
    if "longer" in task.data.extra:
        text += (
            f" The set `longer` has operands of {c.addition.digits + 1} to "
            f"{c.addition.longer_digits} digits, longer than any training input: length "
            "extrapolation."
        )
    return text


def _figures(task, greedy, beam, sampled, workdir: pathlib.Path) -> list[tuple[str, str]]:
    test = task.sets["test"]
    text = ""
    if task.config.model.attention != "none":
        maps, titles, rows, columns = [], [], [], []
        for i in range(min(NUM_HEATMAPS, len(test))):
            maps.append(greedy["attention"][i])
            titles.append(f"{test[i][0]} -> {task.text(greedy['outputs'][i])}")
            rows.append([*tokenize(task.text(greedy["outputs"][i]), task.kind), "</s>"])
            columns.append(tokenize(test[i][0], task.source_kind))
        figures.attention_maps(maps, titles, rows, columns, workdir / "attention.png")
        text += "![attention](attention.png)\n\n"
    lengths = np.array([len(task.encoded["test"].source[i]) for i in range(len(test))])
    references = [t.tolist() for t in task.encoded["test"].target]
    right = np.array([o == r for o, r in zip(greedy["outputs"], references, strict=True)])
    by_length = sorted(set(lengths.tolist()))
    figures.curves(
        by_length,
        {"greedy exact match": [float(right[lengths == n].mean()) for n in by_length]},
        workdir / "accuracy_by_length.png",
        xlabel=f"source length ({task.source_kind} symbols)",
        ylabel="exact match",
        title="exact match against source length (test pairs)",
    )
    text += "![exact match by length](accuracy_by_length.png)\n\n"
    examples = [
        [test[i][0], test[i][1], *(task.text(d["outputs"][i]) for d in (greedy, beam, sampled))]
        for i in range(min(NUM_EXAMPLES, len(test)))
    ]
    temperature = task.config.decode.temperature
    text += "Test pairs, greedy against beam (and one sample):\n\n" + markdown_table(
        ["source", "reference", "greedy", "beam", f"sample (temperature {temperature})"],
        [[_cell(v) for v in row] for row in examples],
    )
    return [("Figures", text)]


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"
