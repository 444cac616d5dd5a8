"""The character-LM baselines against a direct count on a tiny text."""

import math
from collections import Counter

import numpy as np
import pytest

from jaxgen.data.text import load_text
from jaxgen.metrics.text import (
    uniform_bits_per_char,
    unigram_bits_per_char,
    unigram_probabilities,
)


def test_unigram_bits_per_char_is_the_add_one_cross_entropy_counted_by_hand():
    train, test = "abracadabra", "cab dab!"  # " " and "!" never occur in the training text
    vocab = sorted(set(train + test))
    index = {c: i for i, c in enumerate(vocab)}
    counts = Counter(train)
    # By hand: p(c) = (n_c + 1) / (N + V) with N = 11 training characters, V = 7 characters.
    p = {c: (counts[c] + 1) / (len(train) + len(vocab)) for c in vocab}
    assert p["a"] == 6 / 18 and p["!"] == 1 / 18
    want = -sum(math.log2(p[c]) for c in test) / len(test)
    ids = [np.array([index[c] for c in s]) for s in (train, test)]
    assert unigram_bits_per_char(ids[0], ids[1], len(vocab)) == pytest.approx(want, rel=1e-12)
    probabilities = unigram_probabilities(ids[0], len(vocab))
    assert probabilities.sum() == pytest.approx(1.0, rel=1e-12)
    # No smoothing would give an unseen test character zero probability: infinite bits.
    with pytest.raises(ValueError, match="alpha"):
        unigram_bits_per_char(ids[0], ids[1], len(vocab), alpha=0.0)
    with pytest.raises(ValueError, match="vocabulary"):
        unigram_probabilities(ids[0], 3)


def test_uniform_bits_per_char_is_log2_of_the_vocabulary_size():
    assert uniform_bits_per_char(256) == 8.0 and uniform_bits_per_char(2) == 1.0
    assert uniform_bits_per_char(103) == pytest.approx(math.log(103) / math.log(2), rel=1e-12)


def test_the_unigram_model_beats_the_uniform_one_on_real_text():
    corpus = load_text("pydoc")
    unigram = unigram_bits_per_char(corpus.train_ids, corpus.test_ids, corpus.vocab_size)
    # English letter frequencies carry about 4.1 bits per character (Shannon 1951); a uniform
    # model over ~100 characters pays log2 V, about 6.7.
    assert 3.5 < unigram < uniform_bits_per_char(corpus.vocab_size) - 1.0
