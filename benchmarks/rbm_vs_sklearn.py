"""scikit-learn's `BernoulliRBM` beside jaxgen's RBM: the same data, hidden size, batch size and
number of updates, both weight sets measured by the same code.

    python benchmarks/rbm_vs_sklearn.py [--quick] [--workdir DIR] [--sklearn-learning-rate 0.1]
                                        [--config KEY=VALUE ...] [--no-raise]

The RBM task of `experiments/rbm.py` (its default preset: mnist5k, 784 visible, 500 hidden,
batch 100, 5,000 steps of PCD-1; with `--quick` its smoke preset: the 8x8 `digits` set, 12
hidden units, batch 32, 40 steps, short AIS schedules; `--config KEY=VALUE` overrides either,
as `jaxgen train --config.KEY=VALUE` does) gives the data and jaxgen's recipe.

Training:

- jaxgen: the real training loop, `jaxgen.train.loop.train(config, workdir)`, into a temporary
  directory (or `--workdir`, which then keeps the run; a workdir that already holds this run
  resumes it, and the wall times then do not measure a training), then
  `jaxgen.train.loop.restore_params(workdir)`: the final step's parameters. Its wall time is
  split into the periodic evaluations, the final evaluation and report (test AIS, RAISE and
  figures) and the rest (steps, compilation, checkpoints, the input pipeline).
- scikit-learn: `BernoulliRBM(n_components=num_hidden, batch_size=batch_size,
  learning_rate=0.1 (its default; `--sklearn-learning-rate`), n_iter, random_state=0).fit` on
  the task's training pixels binarized once, with jaxgen's static-binarization key
  (`STATIC_TRAIN_BINARIZATION_KEY`: the bits `--config.binarize=static` trains on).
  scikit-learn has no dynamic binarization (jaxgen's default draws fresh bits every step), so
  it sees one static binarization. `fit` makes ceil(N / batch_size) updates an epoch (its
  batches are even slices of the data in a fixed order, never reshuffled), so
  n_iter = max(1, round(steps / ceil(N / batch_size))) epochs make the number of updates
  nearest to jaxgen's `steps`. It trains by persistent CD (PCD-1, as jaxgen's default), plain
  SGD without momentum or weight decay, weights from N(0, 0.01^2) and zero biases (jaxgen
  starts the visible biases at the logits of the pixel rates).

Evaluation, of both weight sets (scikit-learn's as weights = components_.T, hidden_bias =
intercept_hidden_, visible_bias = intercept_visible_) on the test split binarized once with
jaxgen's fixed test key (`task.images["test"]`, the same binary images as every jaxgen run):

- test NLL in nats: mean F(v) + log Z, log Z by jaxgen's AIS (`partition.ais`: the task's
  base-rate model, the config's `ais.num_temperatures` and `ais.num_chains`, the report's fixed
  key) with its interval log(Z -/+ 3 standard errors); exactly too when a layer has at most 20
  units (the smoke preset's 12); RAISE's conservative estimate on the first
  `ais.raise_examples` test images (`--no-raise` leaves it out: it is the slow part).
- the mean pseudo-log-likelihood of the test images (scikit-learn's `score_samples`), with the
  same flipped bits for both: drawn once with numpy, as `score_samples` draws them with
  `random_state=0` (so that scikit-learn's own `score_samples` is checked against jaxgen's).
- the accuracy of scikit-learn's example "Restricted Boltzmann Machine features for digit
  classification": `LogisticRegression(solver="newton-cg", C=6000)` on the hidden
  probabilities sigmoid(v W + c) of the training split's binary images (scikit-learn's
  static bits) with their labels, scored on the test split; the baseline is the example's
  logistic regression on the raw (binary) pixels, C=100. The example's `tol=1` is not used: in
  this scikit-learn it stops newton-cg before its first iteration (chance accuracy).

Prints one JSON object on stdout (the harness's machine facts, the protocol, the numbers and
the wall times); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import pathlib
import sys
import tempfile
import time
import warnings

import harness
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.config import load_config
from jaxgen.data.binary import STATIC_TRAIN_BINARIZATION_KEY, binarize
from jaxgen.families.rbm import partition
from jaxgen.families.rbm import report as rbm_report
from jaxgen.families.rbm.task import RBMTask, flat
from jaxgen.train import loop

EXPERIMENT = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "rbm.py"
SKLEARN_LEARNING_RATE = 0.1  # BernoulliRBM's default
FLIP_SEED = 0  # score_samples with random_state=0 flips RandomState(0).randint(0, V, N)
FEATURES_C = 6000.0  # scikit-learn's example: LogisticRegression on the RBM's features
RAW_PIXELS_C = 100.0  # and on the raw pixels
# The example's tol=1 stops newton-cg before its first iteration in scikit-learn 1.9 (zero
# coefficients, chance accuracy: its stopping test is on the gradient of the mean loss), so
# LogisticRegression's default tolerance is used.
CLASSIFIER_TOL = 1e-4


def sklearn_updates(num_examples: int, batch_size: int, steps: int) -> dict:
    """n_iter giving BernoulliRBM.fit the number of updates nearest to `steps`."""
    per_epoch = math.ceil(num_examples / batch_size)
    n_iter = max(1, round(steps / per_epoch))
    return {
        "updates_per_epoch": per_epoch,
        "n_iter": n_iter,
        "updates": n_iter * per_epoch,
        "jaxgen_steps": steps,
        "arithmetic": (
            f"ceil({num_examples} / {batch_size}) = {per_epoch} updates an epoch; "
            f"n_iter = max(1, round({steps} / {per_epoch})) = {n_iter}; "
            f"{n_iter} x {per_epoch} = {n_iter * per_epoch} updates against jaxgen's {steps}"
        ),
    }


def train_sklearn(bits: np.ndarray, num_hidden: int, batch_size: int, rate: float, n_iter: int):
    from sklearn.neural_network import BernoulliRBM

    rbm = BernoulliRBM(
        n_components=num_hidden,
        learning_rate=rate,
        batch_size=batch_size,
        n_iter=n_iter,
        random_state=0,
    )
    t0 = time.perf_counter()
    rbm.fit(bits)
    return rbm, time.perf_counter() - t0


def sklearn_params(rbm) -> dict:
    """scikit-learn's weights as jaxgen's parameter dict (float32, as jaxgen computes)."""
    return {
        "weights": jnp.asarray(np.asarray(rbm.components_.T, np.float32)),
        "visible_bias": jnp.asarray(np.asarray(rbm.intercept_visible_, np.float32)),
        "hidden_bias": jnp.asarray(np.asarray(rbm.intercept_hidden_, np.float32)),
    }


@contextlib.contextmanager
def loop_phase_timer():
    """Seconds the training loop spends in its periodic evaluations and in its final evaluation
    and report, by wrapping `loop._Run.evaluate` and `loop._finish` for the duration (the loop
    has no timing of its own); {} when those names are gone."""
    spent: dict[str, float] = {}
    run_class, finish = getattr(loop, "_Run", None), getattr(loop, "_finish", None)
    evaluate = getattr(run_class, "evaluate", None)
    if finish is None or evaluate is None:
        yield spent
        return
    spent.update(periodic_evaluation_s=0.0, final_evaluation_and_report_s=0.0)

    def timed(fn, name):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0

        return wrapper

    run_class.evaluate = timed(evaluate, "periodic_evaluation_s")
    loop._finish = timed(finish, "final_evaluation_and_report_s")
    try:
        yield spent
    finally:
        run_class.evaluate, loop._finish = evaluate, finish


def train_jaxgen(config, workdir: pathlib.Path) -> tuple[dict, dict, dict]:
    """(final params, the loop's summary, wall times) of the real training loop."""
    resumed = (workdir / "config.json").exists()
    t0 = time.perf_counter()
    # Keep stdout for the JSON object (the loop's progress bar writes to stderr).
    with contextlib.redirect_stdout(sys.stderr), loop_phase_timer() as spent:
        summary = loop.train(config, workdir)
    total = time.perf_counter() - t0
    params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), loop.restore_params(workdir))
    times = {"total_s": round(total, 3), "resumed_an_existing_run": resumed}
    if spent:
        times.update({k: round(v, 3) for k, v in spent.items()})
        times["steps_compile_checkpoints_pipeline_s"] = round(total - sum(spent.values()), 3)
    return params, summary, times


def hidden_probabilities(params: dict, v: np.ndarray) -> np.ndarray:
    """p(h = 1 | v) = sigmoid(v W + c), in float64: the features of scikit-learn's example."""
    w = np.asarray(params["weights"], np.float64)
    c = np.asarray(params["hidden_bias"], np.float64)
    return 1.0 / (1.0 + np.exp(-(np.asarray(v, np.float64) @ w + c)))


def logistic_accuracy(c: float, train_x, train_y, test_x, test_y) -> dict:
    """scikit-learn's example's classifier, fitted and scored; with its convergence warnings."""
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(solver="newton-cg", tol=CLASSIFIER_TOL, C=c)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        classifier.fit(train_x, train_y)
        fit_s = time.perf_counter() - t0
    out = {
        "test_accuracy": round(float(classifier.score(test_x, test_y)), 4),
        "train_accuracy": round(float(classifier.score(train_x, train_y)), 4),
        "fit_s": round(fit_s, 3),
        "solver_iterations": int(np.max(classifier.n_iter_)),
    }
    if caught:
        out["warnings"] = sorted({str(w.message).splitlines()[0] for w in caught})
    return out


def measure(task: RBMTask, params: dict, data: dict, with_raise: bool) -> dict:
    """The test NLL by AIS (and exactly, and by RAISE), the pseudo-log-likelihood and the
    example's classification accuracy, of one weight set."""
    c = task.config
    v = data["test_bits"]
    free = task.free_energies(params, v)
    mean_free = float(np.mean(free))
    betas = partition.annealing_schedule(c.ais.num_temperatures)
    t0 = time.perf_counter()
    estimate = partition.ais(
        params, task.base_bias, betas, c.ais.num_chains, jax.random.key(rbm_report.AIS_KEY)
    )
    out = {
        "test_nll_nats_ais": mean_free + estimate.log_z,
        # null where the interval is unbounded below (3 standard errors exceed the estimate).
        "test_nll_nats_ais_interval": [
            rbm_report.finite_or_none(mean_free + estimate.log_z_low),
            mean_free + estimate.log_z_high,
        ],
        "log_z_ais": estimate.log_z,
        "log_z_ais_interval": [rbm_report.finite_or_none(estimate.log_z_low), estimate.log_z_high],
        "ais_s": round(time.perf_counter() - t0, 3),
        "mean_test_free_energy": mean_free,
    }
    if task.has_exact_log_z():
        exact = partition.log_z_exact(params)
        out.update(log_z_exact=exact, test_nll_nats_exact=mean_free + exact)
    if with_raise:
        m = min(c.ais.raise_examples, len(v))
        t0 = time.perf_counter()
        raised = partition.raise_log_likelihood(
            params, task.base_bias, betas, v[:m], c.ais.raise_chains,
            jax.random.key(rbm_report.RAISE_KEY),
        )  # fmt: skip
        out.update(
            test_nll_nats_raise=float(-np.mean(raised)),
            test_nll_nats_ais_raise_subset=float(np.mean(free[:m]) + estimate.log_z),
            raise_s=round(time.perf_counter() - t0, 3),
        )
    pll = partition.pseudo_log_likelihood(params, jnp.asarray(v), jnp.asarray(data["flips"]))
    out["test_pseudo_log_likelihood"] = float(np.mean(np.asarray(pll, np.float64)))
    out["rbm_features_logistic"] = logistic_accuracy(
        FEATURES_C,
        hidden_probabilities(params, data["train_bits"]),
        data["train_labels"],
        hidden_probabilities(params, v),
        data["test_labels"],
    )
    out["test_accuracy"] = out["rbm_features_logistic"]["test_accuracy"]
    return out


def sklearn_checks(rbm, params: dict, data: dict) -> dict:
    """scikit-learn's own score_samples and transform against jaxgen's pseudo-log-likelihood
    (with the flipped bits drawn as score_samples draws them) and the features used here."""
    v = data["test_bits"]
    theirs = rbm.score_samples(v)
    ours = np.asarray(partition.pseudo_log_likelihood(params, jnp.asarray(v), data["flips"]))
    features = hidden_probabilities(params, v)
    return {
        "sklearn_score_samples_mean": float(np.mean(theirs)),
        "pseudo_log_likelihood_max_abs_diff_vs_score_samples": float(np.max(np.abs(ours - theirs))),
        "features_max_abs_diff_vs_sklearn_transform": float(
            np.max(np.abs(features - rbm.transform(v)))
        ),
    }


def blas_threads() -> list[dict]:
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "num_threads")
    return [{k: lib.get(k) for k in keep} for lib in threadpool_info()]


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the smoke preset: digits, tiny")
    parser.add_argument(
        "--workdir", type=pathlib.Path, default=None, help="jaxgen's run (default: a temp dir)"
    )
    parser.add_argument(
        "--sklearn-learning-rate",
        type=float,
        default=SKLEARN_LEARNING_RATE,
        help=f"BernoulliRBM's learning_rate (its default {SKLEARN_LEARNING_RATE})",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override of the experiment's config (repeatable), as --config.KEY=VALUE",
    )
    parser.add_argument("--no-raise", action="store_true", help="leave out RAISE (slow)")
    return parser.parse_args(argv)


def main() -> None:
    args = parse()
    load_before = harness.load_average()
    log = harness.log
    spec = f"{EXPERIMENT}:smoke" if args.quick else str(EXPERIMENT)
    config = load_config(spec, args.config)
    log(f"loading {config.dataset} for {spec} ...")
    task = RBMTask(config)
    batch_size, num_hidden = config.batch_size, task.num_hidden

    train_pixels = flat(task.train_split.pixels())
    key = jax.random.key(STATIC_TRAIN_BINARIZATION_KEY)
    train_bits = np.asarray(binarize(key, jnp.asarray(train_pixels)))
    test_bits = task.images["test"]
    data = {
        "train_bits": train_bits,
        "train_labels": task.train_split.int_labels(),
        "test_bits": test_bits,
        "test_labels": task.splits["test"].int_labels(),
        # The bits score_samples flips with random_state=0, drawn once for both models.
        "flips": np.random.RandomState(FLIP_SEED).randint(0, task.num_visible, len(test_bits)),
    }

    updates = sklearn_updates(len(train_bits), batch_size, config.steps)
    log(f"scikit-learn: {updates['arithmetic']} ...")
    rbm, sklearn_s = train_sklearn(
        train_bits, num_hidden, batch_size, args.sklearn_learning_rate, updates["n_iter"]
    )

    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            workdir = pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            workdir = args.workdir
        log(f"jaxgen: {config.steps} steps of the training loop in {workdir} ...")
        jaxgen_params, summary, jaxgen_times = train_jaxgen(config, workdir)

    models = {"jaxgen": jaxgen_params, "sklearn": sklearn_params(rbm)}
    results = {}
    for name, params in models.items():
        log(f"measuring {name}'s RBM ...")
        results[name] = measure(task, params, data, with_raise=not args.no_raise)
    log("logistic regression on the raw pixels ...")
    raw = logistic_accuracy(
        RAW_PIXELS_C, train_bits, data["train_labels"], test_bits, data["test_labels"]
    )

    checks = sklearn_checks(rbm, models["sklearn"], data)
    if "test_nll_nats" in summary:  # the loop's report: the same AIS, key and parameters
        checks["jaxgen_ais_nll_minus_loop_report_nll"] = (
            results["jaxgen"]["test_nll_nats_ais"] - summary["test_nll_nats"]
        )
    o, ais = config.objective, config.ais
    protocol = {
        "config": f"{EXPERIMENT.relative_to(EXPERIMENT.parent.parent)}"
        + (":smoke" if args.quick else ""),
        "config_overrides": list(args.config),
        "dataset": config.dataset,
        "num_visible": task.num_visible,
        "num_hidden": num_hidden,
        "batch_size": batch_size,
        "train_examples": len(train_bits),
        "test_examples": len(test_bits),
        "jaxgen": {
            "algorithm": f"{o.kind.upper()}-{o.gibbs_steps}",
            "steps": config.steps,
            "learning_rate": config.learning_rate,
            "lr_schedule": config.get("lr_schedule", "constant"),
            "momentum": o.momentum,
            "weight_decay": o.weight_decay,
            "binarize": config.binarize,
            "parameters": "the final step's (restore_params: the newest checkpoint)",
        },
        "sklearn": {
            "algorithm": "PCD-1 (BernoulliRBM.fit)",
            "learning_rate": args.sklearn_learning_rate,
            "momentum": 0.0,
            "weight_decay": 0.0,
            "random_state": 0,
            "binarize": "static: the training pixels drawn once with jaxgen's "
            f"STATIC_TRAIN_BINARIZATION_KEY ({STATIC_TRAIN_BINARIZATION_KEY:#x})",
            "dtype": str(rbm.components_.dtype),
            **updates,
        },
        "evaluation": {
            "test_images": "the test split binarized once with jaxgen's fixed test key",
            "ais_temperatures": len(partition.annealing_schedule(ais.num_temperatures)),
            "ais_chains": ais.num_chains,
            "ais_key": rbm_report.AIS_KEY,
            "ais_base": "the task's base-rate model (smoothed pixel rates of the train split)",
            "raise": None
            if args.no_raise
            else {"examples": min(ais.raise_examples, len(test_bits)), "chains": ais.raise_chains},
            "exact_log_z": task.has_exact_log_z(),
            "pseudo_log_likelihood_flips": f"numpy RandomState({FLIP_SEED}).randint(0, V, N), "
            "the bits BernoulliRBM.score_samples flips with random_state=0",
            "classifier": f"LogisticRegression(solver='newton-cg', tol={CLASSIFIER_TOL:g}, "
            f"C={FEATURES_C:g}) on sigmoid(v W + c) of the binary train split (scikit-learn's "
            f"static bits); raw-pixel baseline C={RAW_PIXELS_C:g} on the same bits (scikit-learn's "
            "example, but for tol: its tol=1 stops newton-cg at iteration 0 in this scikit-learn, "
            "leaving zero coefficients and chance accuracy)",
        },
    }
    loop_numbers = {
        k: v
        for k, v in summary.items()
        if isinstance(v, int | float) and ("nll" in k or "log_z" in k or "pseudo" in k)
    }
    record = {
        "benchmark": "rbm_vs_sklearn",
        "flags": {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()},
        **harness.machine_facts(),
        "sklearn_blas": blas_threads(),
        "load_average_before": load_before,
        "load_average_after": harness.load_average(),
        "protocol": protocol,
        "notes": [
            "AIS underestimates log Z on average, so its NLL is optimistic; RAISE's is "
            "conservative (on the first raise_examples test images; compare it with "
            "test_nll_nats_ais_raise_subset, AIS on the same images).",
            "jaxgen's learning rate with momentum m moves at learning_rate / (1 - m) in steady "
            f"state: {config.learning_rate:g} / (1 - {o.momentum:g}) = "
            f"{config.learning_rate / (1 - o.momentum):g} here (scikit-learn's: "
            f"{args.sklearn_learning_rate:g}, no momentum).",
            "scikit-learn sees one static binarization (it has no dynamic binarization); "
            "jaxgen trains as its config says (binarize), on batches reshuffled every epoch.",
            "wall times: scikit-learn's fit alone; jaxgen's training loop whole (compilation, "
            "periodic evaluations, checkpoints, the final evaluation and report), split where "
            "the loop allows. ais_s and raise_s include any compilation of the annealing "
            "(the loop's report compiles it for jaxgen's run before these measurements).",
        ],
        "wall_s": {"sklearn_fit": round(sklearn_s, 3), "jaxgen_train_loop": jaxgen_times},
        "results": results,
        "raw_pixels_logistic": raw,
        "jaxgen_loop_summary": loop_numbers,
        "checks": checks,
    }
    print(json.dumps(record, indent=1, default=float), flush=True)


if __name__ == "__main__":
    main()
