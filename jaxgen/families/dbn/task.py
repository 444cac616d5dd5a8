"""The deep belief network task (families/dbn/model.py): greedy layer-wise pretraining, one phase
a layer, then fine-tuning as a classifier beside the same network from random initialisation.

Phases (the protocol's, jaxgen/train/protocol.py), each with its own budget:
- "pretrain rbmK", for K = 1..L: CD-k or PCD on layer K alone (the RBM family's update and
  optimizer), its data the hidden probabilities that the frozen layers below give each
  dynamically binarized batch, joined to the one-hot labels for the top layer. Entering a layer
  starts its optimizer and its persistent chains afresh (the chains' width is that layer's).
- "fine-tune": SGD with momentum on the cross-entropy of two copies of the network as a
  classifier, on the same batches of pixel intensities: `pretrained` starts from the DBN,
  `random_init` from a Glorot initialisation drawn as the phase is entered. The generative DBN
  (`params`) stays as pretraining left it.

State: `params` (the DBN, every layer from step 0, so its shapes never change), `opt_state` and
`chains` of the layer being trained (of the two classifiers in fine-tuning), `classifiers` ({}
until fine-tuning). Checkpoints hold it all, so a run resumes exactly inside a phase or at a
boundary.

Evaluation, on pixel intensities: `free_energy_error`, the generative DBN's error classifying by
the top RBM's free energy; in fine-tuning `error` and `random_init_error` of the two classifiers
and `pretraining_gain`, their difference (`error` is the free-energy error before). Checkpoints
are ranked by validation `error`.
"""

from __future__ import annotations

import functools

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.data import config_splits, train_dataset
from jaxgen.data.binary import TEST_BINARIZATION_KEY, binarize
from jaxgen.eval.chunked import EVAL_SPLITS, batched
from jaxgen.families.dbn import model as dbn
from jaxgen.families.rbm import model
from jaxgen.families.rbm.task import (
    SAMPLE_KEY,
    binary_splits,
    check_objective,
    flat,
    rbm_optimizer,
)
from jaxgen.train.protocol import EXTRA_STATE_KEY, Phase, Task
from jaxgen.train.state import learning_rate_schedule

PyTree = dict
# `binarize`: a DBN draws fresh bits of the training pixels each step, never a fixed set.
BINARIZE = ("dynamic",)


@flax.struct.dataclass
class DBNState:
    step: jax.Array
    params: PyTree  # the DBN: {"rbm1": ..., "rbmL": ...}
    opt_state: PyTree  # of the layer in training, or of the classifiers in fine-tuning
    chains: jax.Array  # the persistent chains of the layer in training (PCD)
    classifiers: PyTree  # {} until fine-tuning; then {"pretrained": ..., "random_init": ...}


class DBNTask(Task):
    best_metric = "error"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        check_objective(config.objective)
        self.num_hidden = tuple(int(h) for h in config.model.num_hidden)
        self.budgets = tuple(int(s) for s in config.pretrain.steps)
        if len(self.num_hidden) < 2:
            raise ValueError("a DBN stacks at least two RBMs: give model.num_hidden two sizes")
        if len(self.budgets) != len(self.num_hidden):
            raise ValueError(
                f"pretrain.steps gives {len(self.budgets)} budgets for "
                f"{len(self.num_hidden)} layers (model.num_hidden): one a layer"
            )
        if config.binarize not in BINARIZE:
            raise ValueError("a DBN binarizes its training pixels dynamically: binarize=dynamic")
        splits = config_splits(config)
        self.train_split, binary = binary_splits(config, splits)
        if self.train_split.labels_N is None:
            raise ValueError(f"a DBN's top RBM joins the class labels; {config.dataset!r} has none")
        self.num_labels = int(self.train_split.num_classes)
        self.image_shape = self.train_split.image_shape
        self.num_visible = int(np.prod(self.image_shape))
        self.top = len(self.num_hidden) - 1
        self.layer_sizes = dbn.layer_sizes(self.num_visible, self.num_hidden, self.num_labels)
        # Classification reads pixel intensities (as probabilities, the up pass's mean field);
        # the likelihoods read the evaluation splits binarized once with the fixed key.
        self.intensities = {s: flat(splits[s].pixels()) for s in EVAL_SPLITS}
        self.labels = {s: splits[s].int_labels() for s in EVAL_SPLITS}
        self.images = {s: flat(split.pixels()) for s, split in binary.items()}
        self.train_pixels = flat(self.train_split.pixels())
        self.pixel_rates = model.pixel_rates(self.train_pixels)
        self.layer_tx = [rbm_optimizer(config, budget) for budget in self.budgets]
        self.fine_tune_steps = max(config.steps - sum(self.budgets), 1)
        rate = learning_rate_schedule(config, config.fine_tune.learning_rate, self.fine_tune_steps)
        self.fine_tune_tx = optax.sgd(rate, momentum=config.fine_tune.momentum)
        self._logits = jax.jit(functools.partial(dbn.class_logits, num_labels=self.num_labels))

    # ---- training ------------------------------------------------------------------------------

    def init_state(self, key: jax.Array) -> DBNState:
        params = dbn.init_params(
            key, self.num_visible, self.num_hidden, self.num_labels, self.pixel_rates
        )
        return DBNState(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=self.layer_tx[0].init(params[dbn.layer_name(0)]),
            chains=self._fresh_chains(0, jax.random.fold_in(key, EXTRA_STATE_KEY)),
            classifiers={},
        )

    def _fresh_chains(self, layer: int, key: jax.Array) -> jax.Array:
        """PCD's chains for `layer`: the bottom layer's from the base-rate model (independent
        pixels at the data's rates), the others' from fair coins, with uniform labels on top."""
        shape = (self.config.batch_size, self.layer_sizes[layer][0])
        key_bits, key_labels = jax.random.split(key)
        if layer == 0:
            rates = jnp.asarray(self.pixel_rates, jnp.float32)
            return jax.random.bernoulli(key_bits, rates, shape).astype(jnp.float32)
        if layer < self.top:
            return jax.random.bernoulli(key_bits, 0.5, shape).astype(jnp.float32)
        features = (shape[0], shape[1] - self.num_labels)
        bits = jax.random.bernoulli(key_bits, 0.5, features).astype(jnp.float32)
        labels = jax.random.randint(key_labels, (shape[0],), 0, self.num_labels)
        return dbn.with_labels(bits, labels, self.num_labels)

    def phases(self) -> list[Phase]:
        pretrain = [
            Phase(
                f"pretrain {dbn.layer_name(i)}",
                budget,
                functools.partial(self._pretrain_step, i),
                None if i == 0 else functools.partial(self._enter_layer, i),
            )
            for i, budget in enumerate(self.budgets)
        ]
        return [*pretrain, Phase("fine-tune", None, self._fine_tune_step, self._enter_fine_tune)]

    def _enter_layer(self, layer: int, state: DBNState, key: jax.Array) -> DBNState:
        params = state.params[dbn.layer_name(layer)]
        opt_state = self.layer_tx[layer].init(params)
        return state.replace(opt_state=opt_state, chains=self._fresh_chains(layer, key))

    def _pretrain_step(self, layer: int, state: DBNState, batch: dict, key: jax.Array):
        o = self.config.objective
        key_bits, key_gibbs = jax.random.split(key)
        v = binarize(key_bits, batch["image"].reshape(batch["image"].shape[0], -1))
        x = dbn.up(state.params, v, layer)  # the frozen layers below: no gradient reaches them
        sampler, units = None, None
        if layer == self.top:
            x = dbn.with_labels(x, batch["label"], self.num_labels)
            sampler = functools.partial(dbn.sample_labelled_visible, num_labels=self.num_labels)
            units = -self.num_labels  # the reconstruction error of the features only
        name = dbn.layer_name(layer)
        params = state.params[name]
        start = state.chains if o.kind == "pcd" else x
        negatives = model.gibbs(params, start, key_gibbs, o.gibbs_steps, visible_sampler=sampler)
        loss, grads = jax.value_and_grad(model.contrastive_divergence)(params, x, negatives)
        updates, opt_state = self.layer_tx[layer].update(grads, state.opt_state, params)
        metrics = {
            "loss": loss,
            "reconstruction_error": model.reconstruction_error(params, x, units),
        }
        state = state.replace(
            step=state.step + 1,
            params={**state.params, name: optax.apply_updates(params, updates)},
            opt_state=opt_state,
            chains=negatives if o.kind == "pcd" else state.chains,
        )
        return state, metrics

    def _enter_fine_tune(self, state: DBNState, key: jax.Array) -> DBNState:
        classifiers = {
            "pretrained": jax.tree.map(jnp.copy, state.params),
            "random_init": dbn.random_init(key, state.params),
        }
        return state.replace(opt_state=self.fine_tune_tx.init(classifiers), classifiers=classifiers)

    def _fine_tune_step(self, state: DBNState, batch: dict, key: jax.Array):
        del key  # deterministic: the batch is the only randomness
        v = batch["image"].reshape(batch["image"].shape[0], -1)

        def loss(classifiers):
            entropy = {
                name: jnp.mean(
                    optax.softmax_cross_entropy_with_integer_labels(
                        dbn.class_logits(net, v, self.num_labels), batch["label"]
                    )
                )
                for name, net in classifiers.items()
            }
            return entropy["pretrained"] + entropy["random_init"], entropy

        (value, entropy), grads = jax.value_and_grad(loss, has_aux=True)(state.classifiers)
        updates, opt_state = self.fine_tune_tx.update(grads, state.opt_state, state.classifiers)
        state = state.replace(
            step=state.step + 1,
            classifiers=optax.apply_updates(state.classifiers, updates),
            opt_state=opt_state,
        )
        metrics = {
            "loss": value,
            "cross_entropy": entropy["pretrained"],
            "random_init_cross_entropy": entropy["random_init"],
        }
        return state, metrics

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    # ---- evaluation ----------------------------------------------------------------------------

    def eval_params(self, state: DBNState) -> PyTree:
        return {"dbn": state.params, "classifiers": state.classifiers}

    def error(self, network: PyTree, split: str) -> float:
        """The classification error of `network` (the DBN or a fine-tuned copy) on `split`."""
        logits = batched(self._logits, network, self.intensities[split])
        return float(np.mean(np.argmax(logits, axis=-1) != self.labels[split]))

    def evaluate(self, params: PyTree, split: str) -> dict[str, float]:
        numbers = {"free_energy_error": self.error(params["dbn"], split)}
        classifiers = params["classifiers"]
        if not classifiers:
            return {"error": numbers["free_energy_error"], **numbers}
        error = self.error(classifiers["pretrained"], split)
        random_error = self.error(classifiers["random_init"], split)
        return {
            "error": error,
            "random_init_error": random_error,
            "pretraining_gain": random_error - error,
            **numbers,
        }

    def snapshot(self, params: PyTree) -> dict[str, np.ndarray]:
        """One image of each class, generated with the label clamped (the first of each class
        in the report's figure)."""
        steps = min(1000, self.config.generation_gibbs_steps)
        images = self.generate(params["dbn"], steps, free=False)
        return {"samples": images[:: self.samples_per_class]}

    samples_per_class = 10

    def generate(self, params: PyTree, steps: int, free: bool) -> np.ndarray:
        """`samples_per_class` images of each class generated by the DBN, class by class:
        `steps` Gibbs steps in the top RBM with the label clamped (or, `free`, drawn with the
        rest: then the rows' labels mean nothing), then a down pass."""
        labels = jnp.repeat(jnp.arange(self.num_labels), self.samples_per_class)
        key = jax.random.key(SAMPLE_KEY)
        images = dbn.generate(params, key, steps, labels, self.num_labels, free)
        return np.asarray(images).reshape(len(labels), *self.image_shape)

    def hidden_rates(self, params: PyTree, layer: int) -> np.ndarray:
        """The mean activity of each unit of hidden layer `layer` (1-based) over the training
        images binarized with the evaluation key: the base-rate model of that layer's RBM
        above it, as the pixels' rates are the first one's."""
        bits = binarize(jax.random.key(TEST_BINARIZATION_KEY), jnp.asarray(self.train_pixels))
        up = jax.jit(dbn.up, static_argnums=2)
        return model.pixel_rates(batched(lambda p, v: up(p, v, layer), params, np.asarray(bits)))
