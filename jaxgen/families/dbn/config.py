"""Config blocks of the deep belief network (experiments/dbn.py): the RBM family's objective
and AIS blocks, a stack of layers, the pretraining budgets and fine-tuning."""

from __future__ import annotations

from collections.abc import Collection

import ml_collections

from jaxgen.families.rbm.config import ais_block, objective_block
from jaxgen.train.base_config import base_config, smoke


def dbn_config(**overrides) -> ml_collections.ConfigDict:
    """A deep belief network's config: the common keys, the DBN's blocks, then `overrides`.

    model.num_hidden: hidden units of each layer, bottom to top (at least two); the top RBM's
        visible layer is the layer below it joined to one softmax unit group of the labels.
    pretrain.steps: each layer's budget of greedy training steps, bottom to top (one phase a
        layer, each with a fresh optimizer and fresh PCD chains); `learning_rate`,
        `lr_schedule` (over each layer's own budget), `objective` and `binarize` (dynamic only:
        a fresh draw of the training pixels each step) are the RBM's.
    steps: the whole run; fine-tuning gets the steps left after pretraining.
    fine_tune: SGD with momentum on the cross-entropy of the DBN as a classifier (the up pass,
        then the top RBM's free energy of each label), from the pretrained weights and, on the
        same batches, the same network from random initialisation (the baseline of
        "pretraining helps"); its learning rate follows `lr_schedule` over the fine-tuning
        steps.
    ais: the AIS of the report's likelihoods (the first RBM's log Z; the second's, for the
        two-layer DBN's variational bound, when the second RBM is not the top one).
    bound_samples: draws of h1 from Q(h1 | v) per test image in the bound's expectation.
    generation_gibbs_steps: Gibbs steps in the top RBM before the down pass, for the report's
        samples.
    """
    config = base_config(
        task="dbn",
        dataset="mnist5k",
        steps=20000,
        batch_size=100,
        learning_rate=0.01,
        lr_schedule="cosine",
        eval_every=1000,
        checkpoint_every=1000,
        binarize="dynamic",
        model=ml_collections.ConfigDict({"num_hidden": (500, 500, 2000)}),
        pretrain=ml_collections.ConfigDict({"steps": (5000, 5000, 5000)}),
        objective=objective_block(),
        fine_tune=ml_collections.ConfigDict({"learning_rate": 0.1, "momentum": 0.0}),
        ais=ais_block(),
        bound_samples=10,
        generation_gibbs_steps=1000,
    )
    config.update(overrides)
    return config


def dbn_smoke(config: ml_collections.ConfigDict) -> None:
    """Seconds long: digits (8x8), layers of 16, 12 and 24 units (so both lower RBMs also have
    an exact log Z), 20 steps a layer and 40 of fine-tuning."""
    smoke(config, steps=100, batch_size=32)
    config.model.num_hidden = (16, 12, 24)
    config.pretrain.steps = (20, 20, 20)
    config.ais.update(num_chains=50, num_temperatures=1451)
    config.generation_gibbs_steps = 100


def choices() -> dict[str, Collection[str]]:
    """The DBN's enumerated keys: the RBM's objective, and binarization by fresh draws only
    (jaxgen/families/__init__.py: Family.choices)."""
    from jaxgen.families.dbn.task import BINARIZE
    from jaxgen.families.rbm.task import OBJECTIVE_KINDS

    return {"objective.kind": OBJECTIVE_KINDS, "binarize": BINARIZE}
