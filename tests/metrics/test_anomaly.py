import numpy as np
import scipy.stats

from jaxgen.metrics.anomaly import one_class_auc


def test_auc_equals_the_pairwise_ranking_probability():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 300)
    scores = rng.normal(size=300) + (labels != 2) * 0.8
    scores[:20] = scores[20:40]  # ties count one half
    normal, anomalous = scores[labels == 2], scores[labels != 2]
    pairs = (anomalous[:, None] > normal[None, :]) + 0.5 * (anomalous[:, None] == normal[None, :])
    assert np.isclose(one_class_auc(scores, labels, 2), pairs.mean())
    u = scipy.stats.mannwhitneyu(anomalous, normal).statistic
    assert np.isclose(one_class_auc(scores, labels, 2), u / (len(normal) * len(anomalous)))
