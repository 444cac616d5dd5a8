"""Baselines of a character-level language model, in bits per character: the uniform model over
the vocabulary and the unigram model (character frequencies, no context)."""

from __future__ import annotations

import math

import numpy as np


def uniform_bits_per_char(vocab_size: int) -> float:
    """log2 V: the cross-entropy of the uniform model over V characters on any text."""
    return math.log2(vocab_size)


def unigram_probabilities(train_ids: np.ndarray, vocab_size: int, alpha: float = 1.0) -> np.ndarray:
    """(V,) character probabilities estimated on `train_ids` with add-alpha smoothing,
    p(c) = (n_c + alpha) / (N + alpha V): add-one (Laplace) by default, so that a character
    that never occurs in the training text still has a probability above zero."""
    if alpha <= 0:
        raise ValueError(f"alpha must be positive (a zero probability is infinite bits), {alpha}")
    counts = np.bincount(np.asarray(train_ids).reshape(-1), minlength=vocab_size)
    if len(counts) > vocab_size:
        raise ValueError(f"ids outside the vocabulary [0, {vocab_size})")
    return (counts + alpha) / (counts.sum() + alpha * vocab_size)


def unigram_bits_per_char(
    train_ids: np.ndarray, test_ids: np.ndarray, vocab_size: int, alpha: float = 1.0
) -> float:
    """The cross-entropy in bits per character of `test_ids` under the unigram model of
    `train_ids` (`unigram_probabilities`): -mean over the test characters of log2 p(c)."""
    probabilities = unigram_probabilities(train_ids, vocab_size, alpha)
    return float(-np.mean(np.log2(probabilities[np.asarray(test_ids)])))
