import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import load_split
from jaxgen.metrics import classifier

# The default recipe takes ~15 s on digits on 2 cores; these tests only need a working classifier.
FAST_STEPS = 400


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """(cache dir, the digits classifier trained into it with FAST_STEPS steps)."""
    cache = tmp_path_factory.mktemp("classifiers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JAXGEN_CACHE_DIR", str(cache))
        patch.setattr(classifier, "DEFAULT_STEPS", FAST_STEPS)
        yield cache, classifier.load_classifier("digits")
    classifier.load_classifier.cache_clear()


def _assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_training_is_deterministic():
    first = classifier.train_classifier("digits", steps=30, seed=3)
    second = classifier.train_classifier("digits", steps=30, seed=3)
    _assert_trees_equal(first, second)
    other = classifier.train_classifier("digits", steps=30, seed=4)
    assert not np.array_equal(first["Dense_1"]["kernel"], other["Dense_1"]["kernel"])


def test_load_trains_once_and_then_reads_the_cache(digits, monkeypatch):
    cache, trained = digits
    monkeypatch.setenv("JAXGEN_CACHE_DIR", str(cache))
    assert trained.test_accuracy > 0.9
    assert trained.num_classes == 10 and trained.image_shape == (8, 8, 1)

    entry = cache / f"digits-v{classifier.ARCH_VERSION}"
    info = json.loads((entry / "info.json").read_text())
    assert info["dataset"] == "digits"
    assert info["test_accuracy"] == trained.test_accuracy
    assert info["steps"] == FAST_STEPS and info["seed"] == 0 and info["num_train"] == 1438
    assert info["arch_version"] == classifier.ARCH_VERSION
    assert (entry / "params").is_dir()
    assert not [p for p in cache.iterdir() if ".tmp" in p.name]  # the staging folder is gone

    assert classifier.load_classifier("digits") is trained  # memoized
    classifier.load_classifier.cache_clear()

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier was trained again")

    monkeypatch.setattr(classifier, "train_classifier", no_training)
    loaded = classifier.load_classifier("digits")
    assert loaded is not trained
    _assert_trees_equal(loaded.params, trained.params)
    assert loaded.test_accuracy == trained.test_accuracy
    assert loaded.accuracy(load_split("digits", "test")) == trained.test_accuracy


def test_features_and_probabilities(digits):
    _, clf = digits
    images = load_split("digits", "test").pixels()  # 359 images
    features, probs = clf.features_and_probabilities(images)
    assert features.shape == (359, classifier.FEATURE_SIZE) and features.dtype == np.float64
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
    direct_features, direct_logits = classifier.DigitClassifier(10).apply(
        {"params": clf.params}, jnp.asarray(images[:7])
    )
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
    moved = np.asarray(classifier._translate(jax.random.key(0), jnp.asarray(images), 2))
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
