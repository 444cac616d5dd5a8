"""Anomaly detection by reconstruction error: the one-class protocol's ROC-AUC."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def one_class_auc(scores_N: np.ndarray, labels_N: np.ndarray, normal_class: int) -> float:
    """ROC-AUC of `scores` (higher = more anomalous) for telling other classes from
    `normal_class`: the probability that a random anomaly outscores a random normal example."""
    is_anomaly = (np.asarray(labels_N) != normal_class).astype(int)
    return float(roc_auc_score(is_anomaly, np.asarray(scores_N, np.float64)))
