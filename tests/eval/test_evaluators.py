"""The shared evaluators compute what the metrics they wrap compute: chunking, the floor and the
classifier score's single-label rule change no number."""

from __future__ import annotations

import dataclasses
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen.eval import chunked
from jaxgen.eval.likelihood import likelihood_numbers
from jaxgen.eval.reconstruction import reconstruction_error
from jaxgen.eval.sample_quality import SampleQuality, floor_index
from jaxgen.metrics import sample_quality
from jaxgen.train import players


def test_batched_joins_chunks_along_the_asked_axis():
    x = np.arange(1203, dtype=np.float32)
    got = chunked.batched(lambda p, a: jnp.stack([a * p, a + p]), 2.0, x, axis=1, chunk=500)
    np.testing.assert_array_equal(got, np.stack([x * 2, x + 2]))


def test_draws_do_not_depend_on_how_many_are_asked_for():
    def draw(key, start, count):
        return jax.random.normal(key, (count,)) + start

    many, few = chunked.drawn(draw, 1200, 7), chunked.drawn(draw, 600, 7)
    np.testing.assert_array_equal(many[:500], few[:500])
    assert len(many) == 1200 and len(few) == 600


def test_reconstruction_error_is_the_mean_over_every_pixel():
    rng = np.random.default_rng(0)
    pixels = rng.uniform(size=(1100, 4, 4, 1)).astype(np.float32)
    shift = lambda p, x: np.clip(x + p, 0, 1)  # noqa: E731
    expected = np.clip(pixels + 0.1, 0, 1) - pixels
    np.testing.assert_allclose(
        reconstruction_error(shift, 0.1, pixels), np.mean(expected.astype(np.float64) ** 2), 1e-6
    )
    np.testing.assert_allclose(
        reconstruction_error(shift, 0.1, pixels, "l1"), np.mean(np.abs(expected)), 1e-6
    )


def test_likelihood_numbers_in_nats_and_bits_per_dimension():
    numbers = likelihood_numbers(np.array([-100.0, -120.0]), (28, 28, 1))
    assert numbers["nll_nats"] == 110.0
    assert math.isclose(numbers["nll_bits_per_dim"], 110.0 / (784 * math.log(2)))


@dataclasses.dataclass
class _Classifier:
    """A stand-in feature classifier: features are the images' pixels, probabilities a softmax
    of their first three."""

    multi_label: bool = False
    test_accuracy: float = 1.0
    workdir: pathlib.Path = pathlib.Path("stand-in")

    def features_and_probabilities(self, images):
        flat = np.asarray(images, np.float64).reshape(len(images), -1)
        logits = flat[:, :3] * 5
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return flat, probs


def test_sample_quality_scores_and_floor_are_the_metrics_of_the_same_images():
    rng = np.random.default_rng(1)
    real, fake, floor = (rng.uniform(size=(60, 2, 2, 1)) for _ in range(3))
    classifier = _Classifier()
    quality = SampleQuality(classifier, real.reshape(60, -1), floor)
    fake_features, fake_probs = classifier.features_and_probabilities(fake)
    expected = sample_quality.sample_quality(real.reshape(60, -1), fake_features, fake_probs)
    labels = fake_probs.argmax(axis=1)
    got = quality.score(fake, labels)
    assert got == {**expected, "label_accuracy": 1.0}
    floor_expected = sample_quality.sample_quality(
        real.reshape(60, -1), *classifier.features_and_probabilities(floor)
    )
    assert quality.floor_numbers() == {
        "fid_floor": floor_expected["fid"],
        "kid_floor": floor_expected["kid"],
        "precision_floor": floor_expected["precision"],
        "recall_floor": floor_expected["recall"],
        "classifier_score_real": floor_expected["classifier_score"],
    }
    multi = SampleQuality(_Classifier(multi_label=True), real.reshape(60, -1), floor)
    assert "classifier_score" not in multi.score(fake)
    assert "classifier_score_real" not in multi.floor_numbers()


def test_the_floor_is_a_fixed_subset_of_the_train_split():
    a, b = floor_index(1000, 50), floor_index(1000, 50)
    np.testing.assert_array_equal(a, b)
    assert len(set(a.tolist())) == 50 and a.max() < 1000


def test_a_player_update_is_its_optimizers_step():
    tx = optax.adam(0.1)
    params = {"w": jnp.arange(3.0)}
    grads = {"w": jnp.ones(3)}
    opt_state = players.init_optimizers({"g": tx}, {"g": params})["g"]
    new_params, new_state = players.update(tx, grads, opt_state, params)
    updates, expected_state = tx.update(grads, opt_state, params)
    np.testing.assert_array_equal(new_params["w"], optax.apply_updates(params, updates)["w"])
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), new_state, expected_state))


def test_the_weight_average_follows_its_warm_up_schedule():
    average, params = {"w": jnp.zeros(2)}, {"w": jnp.ones(2)}
    # After update n the decay is min(decay, (1 + n) / (10 + n)): 0.1 at the first update.
    got = players.moving_average(average, params, 0.999, jnp.asarray(0))
    np.testing.assert_allclose(got["w"], 0.9)
    assert players.average_decay(0.5, jnp.asarray(1000)) == 0.5
