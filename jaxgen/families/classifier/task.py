"""The classifier task: a small CNN trained on a labelled image set's train split, whose
penultimate features give the sample-quality metrics (metrics/classifier.py caches it).

On a set with class labels: softmax cross-entropy, evaluated by accuracy. On a set with binary
attributes instead (CelebA's 40): one sigmoid per attribute (a multi-label head), binary
cross-entropy, evaluated by the mean per-attribute accuracy. Images are randomly translated by up
to `max_shift` pixels (keyed); the best checkpoint is the one with the best validation accuracy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxgen.data import config_splits, train_dataset
from jaxgen.eval.chunked import EVAL_SPLITS, batched
from jaxgen.nn.classifier import DigitClassifier
from jaxgen.train.protocol import LossTask
from jaxgen.train.state import make_optimizer


def max_shift(image_shape: tuple[int, ...]) -> int:
    """The training augmentation's largest translation, in pixels: a fourteenth of the height
    (2 on 28x28 digits; none on 8x8 ones, where one pixel is an eighth of the digit)."""
    return image_shape[0] // 14


def translate(key: jax.Array, x_BxHxWxC: jax.Array, shift: int) -> jax.Array:
    """Each image moved by its own random (dy, dx) in [-shift, shift]^2, the border zero-filled."""
    _, height, width, channels = x_BxHxWxC.shape
    padded = jnp.pad(x_BxHxWxC, ((0, 0), (shift, shift), (shift, shift), (0, 0)))
    offsets_Bx2 = jax.random.randint(key, (len(x_BxHxWxC), 2), 0, 2 * shift + 1)

    def crop(image_HxWxC, offset_2):
        start = (offset_2[0], offset_2[1], 0)
        return jax.lax.dynamic_slice(image_HxWxC, start, (height, width, channels))

    return jax.vmap(crop)(padded, offsets_Bx2)


class ClassifierTask(LossTask):
    """Trains a `DigitClassifier` on the train split's labels or attributes; evaluates
    accuracy."""

    batch_axis = 0
    best_metric = "accuracy"
    best_mode = "max"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        splits = config_splits(config)
        self.train_split = splits["train"]
        train = self.train_split
        self.multi_label = train.labels_N is None and train.attributes_NxA is not None
        if train.labels_N is None and not self.multi_label:
            raise ValueError(f"dataset {config.dataset!r} has no labels to train a classifier on")
        # Outputs: one logit per class, or per attribute.
        self.num_classes = (
            train.attributes_NxA.shape[1]
            if self.multi_label
            else int(train.num_classes or train.labels_N.max() + 1)
        )
        self.image_shape = self.train_split.image_shape
        self.shift = max_shift(self.image_shape)
        self.splits = {s: splits[s] for s in EVAL_SPLITS}
        self.model = DigitClassifier(self.num_classes)
        self.tx = make_optimizer(config)
        self._logits = jax.jit(lambda params, x: self.model.apply(params, x)[1])

    def init_params(self, key: jax.Array):
        return self.model.init(key, jnp.zeros((1, *self.image_shape)))

    def loss(self, params, batch, key, step):
        x = translate(key, batch["image"], self.shift) if self.shift else batch["image"]
        logits = self.model.apply(params, x)[1]
        if self.multi_label:
            return optax.sigmoid_binary_cross_entropy(logits, batch["attributes"]).mean(), {}
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        return loss, {}

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    def evaluate(self, params, split: str) -> dict[str, float]:
        """The fraction of the split's images whose most probable class is their label (of
        image-attribute pairs predicted right, for attributes)."""
        split_ = self.splits[split]
        logits = batched(self._logits, params, split_.pixel_view())
        if self.multi_label:
            return {"accuracy": float(np.mean((logits > 0) == split_.attributes_NxA))}
        return {"accuracy": float(np.mean(logits.argmax(axis=1) == split_.labels_N))}
