"""Single images by name or path: embedded names, files, resizing, channels, errors, identity."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2gray
from skimage.transform import resize

from jaxgen.data.images import (
    EMBEDDED_IMAGES,
    describe,
    image_identity,
    load_image,
    save_image,
)
from jaxgen.errors import UserError

GREY_NAMES = {"camera", "coins", "brick", "grass", "gravel"}


def _levels(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _png(path, levels):
    Image.fromarray(levels).save(path)
    return str(path)


def _opened(path, mode=None) -> tuple[str, np.ndarray]:
    """(PIL mode, uint8 levels, converted to `mode` if given) of an image file, closed after."""
    with Image.open(path) as image:
        return image.mode, np.asarray(image.convert(mode) if mode else image)


def _user_error(match, call, *args, **kwargs) -> str:
    with pytest.raises(UserError, match=match) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", sorted(EMBEDDED_IMAGES))
def test_every_embedded_name_loads_offline(name):
    where, loader = EMBEDDED_IMAGES[name]
    stored = np.asarray(loader())
    pixels = load_image(name)
    assert pixels.dtype == np.float32 and pixels.shape == (*stored.shape[:2], 3)
    assert 0 <= pixels.min() and pixels.max() <= 1 and pixels.max() > pixels.min()
    np.testing.assert_array_equal(  # grey stored images come back replicated, RGB as stored
        pixels,
        np.broadcast_to(stored.reshape(*stored.shape[:2], -1), pixels.shape) / np.float32(255),
    )
    assert load_image(name, channels=1).shape == (*stored.shape[:2], 1)
    assert (name in GREY_NAMES) == (stored.ndim == 2)
    phrase = describe(name)
    assert phrase.startswith(where) and f"({stored.shape[0]}x{stored.shape[1]} " in phrase


def test_describe_names_the_source():
    assert describe("chelsea") == "scikit-image's `chelsea` (300x451 RGB)"


@pytest.mark.parametrize("image_size", [100, 31, 7])
def test_resizing_sets_the_longer_side_and_keeps_the_aspect(image_size):
    for name, (height, width) in (("chelsea", (300, 451)), ("grace_hopper", (600, 512))):
        pixels = load_image(name, image_size=image_size)
        assert max(pixels.shape[:2]) == image_size and pixels.dtype == np.float32
        shorter = min(pixels.shape[:2])
        assert shorter == max(1, round(min(height, width) * image_size / max(height, width)))
        assert (pixels.shape[0] >= pixels.shape[1]) == (height >= width)
        assert 0 <= pixels.min() and pixels.max() <= 1


def test_downscale_matches_skimage_resize_called_directly():
    full = np.asarray(EMBEDDED_IMAGES["chelsea"][1]()).astype(np.float64) / 255
    expected = resize(full, (100, 150, 3), order=1, anti_aliasing=True)
    np.testing.assert_allclose(load_image("chelsea", image_size=150), expected, atol=1e-5)


def test_upscale_has_the_requested_size(tmp_path):
    path = _png(tmp_path / "small.png", _levels((4, 6, 3)))
    pixels = load_image(path, image_size=12)
    assert pixels.shape == (8, 12, 3) and 0 <= pixels.min() and pixels.max() <= 1


def test_an_image_already_at_the_size_is_not_resampled(tmp_path):
    levels = _levels((5, 9, 3))
    pixels = load_image(_png(tmp_path / "a.png", levels), image_size=9)
    np.testing.assert_array_equal(pixels, levels.astype(np.float32) / 255)
    astronaut = np.asarray(EMBEDDED_IMAGES["astronaut"][1]())
    assert np.array_equal(load_image("astronaut", 512), astronaut.astype(np.float32) / 255)


def test_a_sliver_keeps_at_least_one_pixel(tmp_path):
    assert load_image(_png(tmp_path / "s.png", _levels((1, 40))), image_size=4).shape == (1, 4, 3)


def test_luminance_of_rgb_is_rgb2gray():
    rgb = load_image("coffee")
    grey = load_image("coffee", channels=1)
    assert grey.shape == (*rgb.shape[:2], 1) and grey.dtype == np.float32
    np.testing.assert_allclose(grey[..., 0], rgb2gray(rgb), rtol=0, atol=1e-7)


def test_grey_png_is_replicated_to_rgb_and_kept_as_luminance(tmp_path):
    levels = _levels((7, 5))
    path = _png(tmp_path / "grey.png", levels)
    assert _opened(path)[0] == "L"
    rgb = load_image(path)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], levels / np.float32(255))
    np.testing.assert_array_equal(load_image(path, channels=1)[..., 0], levels / np.float32(255))
    assert describe(path) == f"{path} (7x5 gray)"


def test_rgba_png_drops_the_alpha(tmp_path):
    levels = _levels((6, 4, 4))
    levels[..., 3] = np.arange(24, dtype=np.uint8).reshape(6, 4)  # mostly transparent
    path = _png(tmp_path / "rgba.png", levels)
    assert _opened(path)[0] == "RGBA"
    np.testing.assert_array_equal(load_image(path), levels[..., :3] / np.float32(255))


def test_palette_png_becomes_rgb(tmp_path):
    levels = _levels((6, 8, 3))
    path = tmp_path / "palette.png"
    Image.fromarray(levels).quantize(colors=16).save(path)
    expected = _opened(path, "RGB")[1] / np.float32(255)
    np.testing.assert_array_equal(load_image(str(path)), expected)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    levels = np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(levels).save(path)
    np.testing.assert_allclose(load_image(str(path), channels=1)[..., 0], levels / 65535, atol=1e-7)


def test_png_and_jpeg_paths_load(tmp_path):
    levels = np.repeat(np.repeat(_levels((3, 4, 3)), 8, axis=0), 8, axis=1)  # flat 8x8 blocks
    png = load_image(_png(tmp_path / "x.png", levels))
    np.testing.assert_array_equal(png, levels / np.float32(255))
    Image.fromarray(levels).save(tmp_path / "x.jpg", quality=95)
    jpeg = load_image(str(tmp_path / "x.jpg"))
    assert jpeg.shape == (24, 32, 3) and np.abs(jpeg - png).mean() < 0.05  # lossy, but close


def test_home_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    levels = _levels((3, 2, 3))
    _png(tmp_path / "me.png", levels)
    np.testing.assert_array_equal(load_image("~/me.png"), levels / np.float32(255))


def test_unknown_name_lists_the_embedded_names_and_paths():
    message = _user_error("no image 'chelsae'", load_image, "chelsae")
    assert all(name in message for name in EMBEDDED_IMAGES) and "path" in message


def test_missing_path(tmp_path):
    _user_error("neither an embedded image", load_image, str(tmp_path / "nope.png"))


def test_a_text_file_named_png_is_not_an_image(tmp_path):
    path = tmp_path / "x.png"
    path.write_text("not a picture\nat all\n")
    message = _user_error("cannot read the image", load_image, str(path))
    assert str(path) in message


def test_a_truncated_png_is_not_an_image(tmp_path):
    path = tmp_path / "cut.png"
    _png(path, _levels((40, 40, 3)))
    path.write_bytes(path.read_bytes()[:200])
    _user_error(f"cannot read the image {path}", load_image, str(path))


def test_a_folder_is_not_an_image(tmp_path):
    _user_error("is a folder", load_image, str(tmp_path))


@pytest.mark.parametrize("channels", [0, 2, 4])
def test_bad_channels(channels):
    _user_error("channels must be 1", load_image, "chelsea", channels=channels)


def test_negative_image_size():
    _user_error("image_size must be", load_image, "chelsea", image_size=-1)


def test_identity_follows_pixels_and_shape():
    pixels = load_image("coins", image_size=32)
    identity = image_identity(pixels)
    assert len(identity) == 64 and identity == image_identity(pixels.copy())
    assert identity == image_identity(load_image("coins", image_size=32))
    changed = pixels.copy()
    changed[3, 4, 1] += 1 / 255
    assert image_identity(changed) != identity
    assert image_identity(pixels.reshape(-1, pixels.shape[1] * 3, 1)) != identity


@pytest.mark.parametrize("channels", [1, 3])
def test_save_then_load_round_trips(tmp_path, channels):
    pixels = load_image("chelsea", image_size=40, channels=channels)
    path = save_image(tmp_path / "out" / "chelsea.png", pixels)
    assert _opened(path)[0] == ("L" if channels == 1 else "RGB")
    back = load_image(str(path), channels=channels)
    assert back.shape == pixels.shape
    np.testing.assert_allclose(back, pixels, atol=0.5 / 255 + 1e-6)


def test_save_clips_out_of_range(tmp_path):
    path = save_image(tmp_path / "c.png", np.array([[[-0.5], [1.5]]], dtype=np.float32))
    np.testing.assert_array_equal(_opened(path)[1], [[0, 255]])
