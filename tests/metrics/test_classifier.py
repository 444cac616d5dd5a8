import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import feature_classifier as classifier
from jaxgen.data import load_split
from jaxgen.families.classifier import config as recipe
from jaxgen.families.classifier.config import classifier_config
from jaxgen.families.classifier.task import translate
from jaxgen.nn.classifier import FEATURE_SIZE, DigitClassifier
from jaxgen.train import loop

# The default recipe takes ~15 s on digits on 2 cores; these tests only need a working classifier.
FAST_STEPS = 400


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """(cache dir, the digits classifier trained into it with FAST_STEPS steps)."""
    cache = tmp_path_factory.mktemp("classifiers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JAXGEN_CACHE_DIR", str(cache))
        patch.setattr(recipe, "DEFAULT_STEPS", FAST_STEPS)
        yield cache, classifier.load_classifier("digits")
    classifier.load_classifier.cache_clear()


def _assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_training_is_deterministic(tmp_path):
    def fingerprint(name, seed):
        config = classifier_config("digits", steps=30)
        config.update(seed=seed, progress=False)
        return loop.train(config, tmp_path / name)["params_fingerprint"]

    assert fingerprint("a", 3) == fingerprint("b", 3) != fingerprint("c", 4)


def test_load_trains_once_and_then_reads_the_cache(digits, monkeypatch):
    cache, trained = digits
    monkeypatch.setenv("JAXGEN_CACHE_DIR", str(cache))
    assert trained.test_accuracy > 0.9
    assert trained.num_classes == 10 and trained.image_shape == (8, 8, 1)

    # A normal jaxgen workdir, named by the recipe's hash.
    entry = cache / f"digits-{classifier.recipe_hash(classifier_config('digits', FAST_STEPS))}"
    assert trained.workdir == entry
    summary = json.loads((entry / "summary.json").read_text())
    config = json.loads((entry / "config.json").read_text())
    assert summary["test_accuracy"] == trained.test_accuracy
    assert config["steps"] == FAST_STEPS and config["seed"] == 0 and config["task"] == "classifier"
    assert summary["train_examples"] == len(load_split("digits", "train"))
    assert (entry / "report.md").exists() and (entry / "checkpoints").is_dir()

    assert classifier.load_classifier("digits") is trained  # memoized
    classifier.load_classifier.cache_clear()

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier was trained again")

    monkeypatch.setattr(loop, "train", no_training)
    loaded = classifier.load_classifier("digits")
    assert loaded is not trained
    _assert_trees_equal(loaded.params, trained.params)
    assert loaded.test_accuracy == trained.test_accuracy
    assert loaded.accuracy(load_split("digits", "test")) == trained.test_accuracy


def test_another_recipe_is_another_entry():
    a, b = classifier_config("digits", 30), classifier_config("digits", 31)
    assert classifier.recipe_hash(a) != classifier.recipe_hash(b)
    assert classifier.recipe_hash(a) == classifier.recipe_hash(classifier_config("digits", 30))


def test_a_folder_s_classifier_stays_in_the_cache_and_seeds_are_entries(tmp_path):
    folder = str(tmp_path / "my" / "images")
    name = classifier.entry_name(folder, classifier_config(folder))
    assert "/" not in name and name.startswith("images-")
    other = classifier.entry_name("/elsewhere/images", classifier_config("/elsewhere/images"))
    assert other != name  # the recipe's hash holds the whole path
    seeded = classifier_config("digits")
    seeded.seed = 1
    assert classifier.recipe_hash(seeded) != classifier.recipe_hash(classifier_config("digits"))


def test_features_and_probabilities(digits):
    _, clf = digits
    images = load_split("digits", "test").pixels()  # 359 images
    features, probs = clf.features_and_probabilities(images)
    assert features.shape == (359, FEATURE_SIZE) and features.dtype == np.float64
    assert probs.shape == (359, 10) and probs.dtype == np.float64
    assert features.min() >= 0  # relu features
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(clf.features(images), features)
    np.testing.assert_array_equal(clf.probabilities(images), probs)

    # Chunks of 100 (the last one padded) give what one pass over all images gives.
    chunked_features, chunked_probs = clf.features_and_probabilities(images, chunk_size=100)
    np.testing.assert_allclose(chunked_features, features, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(chunked_probs, probs, rtol=1e-5, atol=1e-6)

    # The same as applying the module directly.
    direct_features, direct_logits = DigitClassifier(10).apply(clf.params, jnp.asarray(images[:7]))
    np.testing.assert_allclose(features[:7], direct_features, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(probs[:7], jax.nn.softmax(direct_logits), rtol=1e-5, atol=1e-6)

    empty_features, empty_probs = clf.features_and_probabilities(np.zeros((0, 8, 8, 1)))
    assert empty_features.shape == (0, 128) and empty_probs.shape == (0, 10)


def test_wrong_images_raise(digits):
    _, clf = digits
    with pytest.raises(ValueError, match=r"\(N, 8, 8, 1\)"):
        clf.features(np.zeros((2, 28, 28, 1)))
    with pytest.raises(ValueError, match=r"\(N, 8, 8, 1\)"):
        clf.probabilities(np.zeros((8, 8, 1)))
    with pytest.raises(ValueError, match="float images"):
        clf.features(np.zeros((2, 8, 8, 1), np.uint8))


def test_translate_moves_each_image_by_at_most_the_shift():
    images = np.random.default_rng(0).random((16, 9, 7, 2)).astype(np.float32)
    moved = np.asarray(translate(jax.random.key(0), jnp.asarray(images), 2))
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
    seen = set()
    for image, out in zip(padded, moved, strict=True):
        matches = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if np.array_equal(image[dy : dy + 9, dx : dx + 7], out)
        ]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 1
