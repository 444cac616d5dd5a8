"""Per-image quality of translations against their targets, in pixels in [0, 1]: L1 and PSNR
on a region (the missing pixels of a completion, or the whole image) and SSIM
(scikit-image's structural_similarity, on the whole image).

PSNR per image is 10 log10(1 / MSE) over the region's values (data range 1), as scikit-image's
peak_signal_noise_ratio computes it on those values; the reports give the mean over images (an
image reproduced exactly would be infinite: its MSE is floored at 1e-10, 100 dB).
"""

from __future__ import annotations

import numpy as np

MSE_FLOOR = 1e-10


def _region(mask_HxW: np.ndarray | None, shape) -> np.ndarray:
    if mask_HxW is None:
        return np.ones(shape[1:3], bool)
    return np.asarray(mask_HxW, bool)


def l1_region(pred_NxHxWxC, target_NxHxWxC, mask_HxW=None) -> np.ndarray:
    """(N,) mean |pred - target| over the region's pixels and channels."""
    pred, target = np.asarray(pred_NxHxWxC, np.float64), np.asarray(target_NxHxWxC, np.float64)
    region = _region(mask_HxW, pred.shape)
    return np.abs(pred - target)[:, region].reshape(len(pred), -1).mean(axis=1)


def psnr_region(pred_NxHxWxC, target_NxHxWxC, mask_HxW=None) -> np.ndarray:
    """(N,) PSNR in dB over the region's pixels and channels (data range 1)."""
    pred, target = np.asarray(pred_NxHxWxC, np.float64), np.asarray(target_NxHxWxC, np.float64)
    region = _region(mask_HxW, pred.shape)
    mse = ((pred - target) ** 2)[:, region].reshape(len(pred), -1).mean(axis=1)
    return 10.0 * np.log10(1.0 / np.maximum(mse, MSE_FLOOR))


def ssim(pred_NxHxWxC, target_NxHxWxC) -> np.ndarray:
    """(N,) SSIM of each image with its target (scikit-image: a uniform 7x7 window, data
    range 1, channels averaged)."""
    from skimage.metrics import structural_similarity

    pred, target = np.asarray(pred_NxHxWxC, np.float64), np.asarray(target_NxHxWxC, np.float64)
    return np.array(
        [
            structural_similarity(t, p, data_range=1.0, channel_axis=-1)
            for p, t in zip(pred, target, strict=True)
        ]
    )
