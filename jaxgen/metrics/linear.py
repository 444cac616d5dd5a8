"""PCA reconstruction error and principal angles between subspaces."""

from __future__ import annotations

import numpy as np
import scipy.linalg
from sklearn.decomposition import PCA


def fit_pca(train_NxD: np.ndarray, components: int, seed: int = 0) -> PCA:
    """scikit-learn PCA (exact SVD) with `components` components on rows of `train_NxD`."""
    return PCA(n_components=components, svd_solver="full", random_state=seed).fit(train_NxD)


def pca_reconstruction_errors(pca: PCA, data_NxD: np.ndarray) -> np.ndarray:
    """Per-example mean squared error per dimension of projecting onto the PCA subspace."""
    recon = pca.inverse_transform(pca.transform(data_NxD))
    return np.mean((recon - data_NxD) ** 2, axis=1)


def max_principal_angle_deg(basis_a_DxK: np.ndarray, basis_b_DxL: np.ndarray) -> float:
    """The largest principal angle (degrees) between the column spans of two matrices."""
    angles = scipy.linalg.subspace_angles(
        np.asarray(basis_a_DxK, np.float64), np.asarray(basis_b_DxL, np.float64)
    )
    return float(np.degrees(np.max(angles)))
