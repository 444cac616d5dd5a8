"""Config blocks of the RBM family (experiments/rbm.py); the deep belief network's
(families/dbn/config.py) shares the objective and the AIS blocks."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.train.base_config import base_config, smoke


def rbm_config(**overrides) -> ml_collections.ConfigDict:
    """An RBM experiment's config: the common keys, the RBM's blocks, then `overrides`.

    model.num_hidden: hidden units.
    objective.kind: cd (negatives k Gibbs steps from the batch) | pcd (from persistent chains,
        one per batch example, carried in the state; Tieleman 2008).
    objective.gibbs_steps: k. momentum, weight_decay (L2 on the weights only, Hinton's guide)
        and the common `learning_rate` / `lr_schedule` drive plain SGD.
    binarize: dynamic (a fresh Bernoulli draw of the training pixels each step, as the VAE
        family) | static (the training split drawn once with a fixed key). Evaluation splits
        are always drawn once with the VAE family's fixed key: the same binary test images.
    ais: the final log Z by AIS (Salakhutdinov & Murray 2008): num_chains chains over
        num_temperatures inverse temperatures (14,501: their schedule; fewer shortens each
        stretch in proportion); raise_examples test images get RAISE's conservative estimate
        from raise_chains reverse chains each.
    eval_ais: the shorter AIS of the periodic evaluation, which ranks checkpoints by validation
        NLL (exact log Z instead when a layer has at most 20 units).
    pll_examples / free_energy_examples: images for the pseudo-log-likelihood and for the
        free-energy gap between train and validation images.
    compare_runs: comma-separated workdirs of finished runs on the same data set with a test
        NLL (the VAE and IWAE experiments), put beside the RBM in the report's table.
    """
    config = base_config(
        task="rbm",
        dataset="mnist5k",
        steps=10000,
        batch_size=100,
        learning_rate=0.01,
        lr_schedule="cosine",
        eval_every=2000,
        checkpoint_every=2000,
        binarize="dynamic",
        model=ml_collections.ConfigDict({"num_hidden": 500}),
        objective=objective_block(),
        ais=ais_block(raise_examples=50, raise_chains=5),
        eval_ais=ml_collections.ConfigDict({"num_chains": 32, "num_temperatures": 5001}),
        pll_examples=1000,
        free_energy_examples=1000,
        sample_gibbs_steps=(1, 10, 100, 1000, 10000),
        compare_runs="",
    )
    config.update(overrides)
    return config


def objective_block() -> ml_collections.ConfigDict:
    """PCD-1 with momentum 0.5 and weight decay 2e-4 (Hinton's practical guide's values)."""
    return ml_collections.ConfigDict(
        {"kind": "pcd", "gibbs_steps": 1, "momentum": 0.5, "weight_decay": 2e-4}
    )


def ais_block(**more) -> ml_collections.ConfigDict:
    """Salakhutdinov & Murray's AIS: 100 chains over their 14,501 temperatures."""
    return ml_collections.ConfigDict({"num_chains": 100, "num_temperatures": 14501, **more})


def rbm_smoke(config: ml_collections.ConfigDict) -> None:
    """Seconds long: digits (8x8), 12 hidden units (so log Z is also exact), short schedules.
    1,451 temperatures keep a 12-hidden-unit RBM's AIS estimate inside its own interval around
    the exact value (tests/families/test_rbm.py checks it)."""
    smoke(config, steps=40, batch_size=32, pll_examples=100, free_energy_examples=100)
    config.model.num_hidden = 12
    config.ais.update(num_chains=50, num_temperatures=1451, raise_examples=10, raise_chains=2)
    config.eval_ais.update(num_chains=8, num_temperatures=101)
    config.sample_gibbs_steps = (1, 10, 100)


def choices() -> dict[str, Collection[str]]:
    """The RBM's enumerated keys and the values families/rbm/task.py takes for each
    (jaxgen/families/__init__.py: Family.choices)."""
    from jaxgen.families.rbm.task import BINARIZE, OBJECTIVE_KINDS

    return {"objective.kind": OBJECTIVE_KINDS, "binarize": BINARIZE}
