"""Train steps per second of each recurrent cell alone, at the recipe of experiments/rnn_cells.py.

    python benchmarks/rnn_cells.py [--quick] [--repeats 7] [--steps 20] [--warmup 1]
                                   [--cells rnn,lstm,gru,peephole_lstm,coupled_lstm]

For each cell (rnn, lstm, gru, peephole_lstm, coupled_lstm: the experiment's bank), the real
language-model task of that experiment with `--config.cells=CELL`, loaded with
`jaxgen.config.load_config` and built by `jaxgen.families.build_task` (`LanguageModelTask`): the
default preset's equal parameter budget (60,000 per model, so each cell has its own hidden
size), batch 32 streams x 64 characters of `pydoc`, Adam 2e-3 with clipping at 1.0. The
contender is the task's jitted truncated-BPTT `train_step` with the state donated (the hidden
state carried from batch to batch), run from the task's initial state on the first batches of
its train pipeline. The five cells are timed interleaved in one process (benchmarks/harness.py),
medians over rounds. (The language-model report used to time this itself; it moved here.)

`--quick`: the experiment's smoke preset (tiny models, batch 8 x 16), 5 steps a round, 2 rounds.
Prints one JSON object on stdout (`steps_per_second`: the median per cell, the README's
"steps/s (alone)"); progress goes to stderr.
"""

from __future__ import annotations

import pathlib

import harness
import jax

from jaxgen.config import load_config
from jaxgen.families import build_task
from jaxgen.nn.common import count_params

EXPERIMENT = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "rnn_cells.py"
NUM_BATCHES = 4  # distinct TBPTT batches (consecutive windows), cycled


def cell_task(cell: str, preset: str):
    """The experiment's language-model task with this one cell."""
    return build_task(load_config(f"{EXPERIMENT}:{preset}", [f"cells={cell}"]))


def cell_contender(task, cell: str) -> tuple[harness.Stepper, dict]:
    """(the task's jitted, state-donating step from its initial state, the cell's facts)."""
    key = jax.random.key(task.config.seed)
    state = jax.jit(task.init_state)(key)
    dataset = task.train_dataset(0)
    batches = [jax.tree.map(jax.numpy.asarray, dataset[i]) for i in range(NUM_BATCHES)]
    stepper = harness.Stepper(harness.jit_train_step(task, task.train_step), state, batches, [key])
    facts = {
        "hidden_size": task.models[cell].hidden_size,
        "params": count_params(state.params[cell]),
        "compile_s": round(stepper.compile(), 2),
    }
    return stepper, facts


def main() -> None:
    bench = harness.Benchmark("rnn_cells", __doc__, repeats=(7, 2), steps=(20, 5))
    bench.parser.add_argument(
        "--cells", default=None, help="comma-separated cells (default: the experiment's five)"
    )
    args = bench.parse()
    preset = "smoke" if args.quick else "default"
    recipe = load_config(f"{EXPERIMENT}:{preset}")
    cells = args.cells.split(",") if args.cells else list(recipe.cells)

    contenders, facts = {}, {}
    for cell in cells:
        harness.log(f"building and compiling the {cell} step ...")
        contenders[cell], facts[cell] = cell_contender(cell_task(cell, preset), cell)
    harness.log(f"timing {len(contenders)} cells, {args.repeats} rounds of {args.steps} steps ...")
    times = harness.interleave(contenders, args.repeats, args.steps, args.warmup)
    results = harness.summarize(times)
    for cell in cells:
        results[cell].update(facts[cell])
    bench.emit(
        experiment=f"experiments/rnn_cells.py:{preset} with --config.cells=CELL",
        recipe={
            "dataset": recipe.dataset,
            "param_budget": recipe.param_budget,
            "batch_size": recipe.batch_size,
            "seq_len": recipe.seq_len,
            "learning_rate": recipe.learning_rate,
            "grad_clip_norm": recipe.grad_clip_norm,
        },
        steps_per_second={cell: results[cell]["steps_per_s_median"] for cell in cells},
        results=results,
    )


if __name__ == "__main__":
    main()
