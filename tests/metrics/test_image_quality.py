"""L1, PSNR and SSIM of translations against scikit-image and NumPy."""

from __future__ import annotations

import numpy as np
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from jaxgen.data.masks import missing_mask
from jaxgen.metrics import image_quality


def _images(seed, shape=(3, 28, 28, 1)):
    rng = np.random.default_rng(seed)
    target = rng.uniform(size=shape)
    return np.clip(target + rng.normal(0, 0.1, shape), 0, 1), target


def test_psnr_and_l1_on_a_region_match_scikit_image_on_its_pixels():
    pred, target = _images(0)
    mask = missing_mask(28, 28, "given1")  # three quadrants missing
    psnr = image_quality.psnr_region(pred, target, mask)
    l1 = image_quality.l1_region(pred, target, mask)
    for i in range(3):
        p, t = pred[i][mask], target[i][mask]
        np.testing.assert_allclose(psnr[i], peak_signal_noise_ratio(t, p, data_range=1.0), 1e-12)
        np.testing.assert_allclose(l1[i], np.mean(np.abs(p - t)), rtol=1e-12)
    whole = image_quality.psnr_region(pred, target)
    np.testing.assert_allclose(whole[0], 10 * np.log10(1 / mean_squared_error(target[0], pred[0])))


def test_ssim_is_scikit_image_s_and_one_for_a_perfect_output():
    pred, target = _images(1, (2, 32, 32, 3))
    values = image_quality.ssim(pred, target)
    for i in range(2):
        expected = structural_similarity(target[i], pred[i], data_range=1.0, channel_axis=-1)
        np.testing.assert_allclose(values[i], expected, rtol=1e-12)
    np.testing.assert_allclose(image_quality.ssim(target, target), 1.0)
    assert image_quality.psnr_region(target, target)[0] == 100.0  # the MSE floor


def test_masks_show_the_quadrants_the_pyro_protocol_names():
    given = {r: ~missing_mask(4, 4, r) for r in ("given1", "given2", "given3", "bottom_half")}
    assert given["given1"].sum() == 4 and given["given1"][2:, :2].all()  # bottom left
    assert given["given2"].sum() == 8 and given["given2"][:, :2].all()  # left half
    assert given["given3"].sum() == 12 and not given["given3"][2:, 2:].any()  # bottom right gone
    assert given["bottom_half"][:2].all() and not given["bottom_half"][2:].any()
