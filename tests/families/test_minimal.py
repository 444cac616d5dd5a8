"""The minimal family (docs/adding_a_family.md) computes what it says: its density against
SciPy's, and its trained parameters against the closed-form maximum-likelihood fit."""

import numpy as np
import pytest
from scipy import stats

from jaxgen.families.minimal.task import GaussianTask, negative_log_density
from jaxgen.train.loop import restore_params, train

from ..conftest import smoke_config


def test_negative_log_density_is_scipy_s():
    rng = np.random.default_rng(0)
    mu, log_sigma, x = rng.normal(size=5), rng.normal(size=5) * 0.3, rng.normal(size=(3, 5))
    expected = -stats.norm(mu, np.exp(log_sigma)).logpdf(x).sum(axis=1)
    got = negative_log_density({"mu": mu, "log_sigma": log_sigma}, x)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_training_reaches_the_closed_form_maximum_likelihood_fit(tmp_path):
    config = smoke_config("minimal", progress="false", steps=600, batch_size=256)
    train(config, tmp_path)
    params = restore_params(tmp_path)
    x = GaussianTask(config).train_split.pixels().reshape(-1, 64)
    np.testing.assert_allclose(params["mu"], x.mean(axis=0), atol=0.03)
    varying = x.std(axis=0) > 0.1  # a constant pixel's MLE sigma is 0: no finite optimum
    np.testing.assert_allclose(
        np.exp(params["log_sigma"])[varying], x.std(axis=0)[varying], rtol=0.15
    )
    assert pytest.approx(0) != float(np.abs(params["mu"]).sum())
