import numpy as np

from jaxgen.metrics.linear import fit_pca, max_principal_angle_deg, pca_reconstruction_errors


def test_pca_reconstruction_error_matches_numpy_svd():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
    k = 4
    pca = fit_pca(data, k)
    mean = data.mean(axis=0)
    _, _, vt = np.linalg.svd(data - mean, full_matrices=False)
    basis = vt[:k].T
    recon = (data - mean) @ basis @ basis.T + mean
    np.testing.assert_allclose(
        pca_reconstruction_errors(pca, data), np.mean((recon - data) ** 2, axis=1), rtol=1e-8
    )
    assert max_principal_angle_deg(pca.components_.T, basis) < 1e-5


def test_principal_angle_of_known_subspaces():
    e1, e2, e3 = np.eye(3)
    assert np.isclose(max_principal_angle_deg(e1[:, None], e2[:, None]), 90.0)
    tilted = np.stack([e1, np.cos(np.pi / 6) * e2 + np.sin(np.pi / 6) * e3], axis=1)
    assert np.isclose(max_principal_angle_deg(np.stack([e1, e2], 1), tilted), 30.0)
    # Angles do not depend on the basis chosen for a subspace.
    mixed = np.stack([e1 + e2, e1 - 2 * e2], axis=1)
    assert max_principal_angle_deg(mixed, np.stack([e1, e2], 1)) < 1e-6
