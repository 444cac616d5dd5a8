"""Single images by name or path: the content, style and texture images of style transfer,
texture synthesis and DeepDream.

`load_image("chelsea")` loads one of EMBEDDED_IMAGES, the pictures that ship inside installed
packages (scikit-image, scikit-learn, matplotlib) and so load offline; any other source is a path
to an image file PIL reads. Pixels come back as float32 HxWxC in [0, 1], C 1 (luminance) or 3
(RGB). `image_identity` fingerprints loaded pixels so a resumed run can check its images did not
change; `save_image` writes results as PNG.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
from collections.abc import Callable

import numpy as np

from jaxgen.errors import UserError

# The image file modes that hold 16-bit grey levels (PNG, TIFF); read as grey / 65535.
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
# How describe() names the other PIL modes, all converted to RGB.
_MODE_KINDS = {"P": "palette", "PA": "palette+alpha", "RGBa": "RGBA"}


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from matplotlib import cbook
        from PIL import Image

        with Image.open(cbook.get_sample_data(filename, asfileobj=False)) as image:
            return np.asarray(image.convert("RGB"))

    return load


# name -> (where it ships, loader of its uint8 HxW or HxWx3 pixels). Each file is inside the
# installed package (none is fetched from the network), so every name loads offline.
EMBEDDED_IMAGES: dict[str, tuple[str, Callable[[], np.ndarray]]] = {
    **{
        name: (f"scikit-image's `{name}`", _skimage(name))
        for name in ("astronaut", "chelsea", "coffee", "rocket", "camera", "coins")
    },
    # Grey textures (Brodatz-like): texture synthesis, or a style with no colour of its own.
    **{
        name: (f"scikit-image's `{name}` texture", _skimage(name))
        for name in ("brick", "grass", "gravel")
    },
    "china": ("scikit-learn's `china.jpg`", _sklearn("china.jpg")),
    "flower": ("scikit-learn's `flower.jpg`", _sklearn("flower.jpg")),
    "grace_hopper": ("matplotlib's `grace_hopper.jpg`", _matplotlib("grace_hopper.jpg")),
}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _unknown(source: str) -> UserError:
    names = ", ".join(sorted(EMBEDDED_IMAGES))
    return UserError(
        _one_line(
            f"no image {source!r}: it is neither an embedded image ({names}) nor an existing "
            "file; give one of those names or a path to an image file"
        )
    )


def _from_file(path: pathlib.Path) -> tuple[np.ndarray, str]:
    """(pixels, kind) of an image file: uint8 HxW / HxWx3 / HxWx4, or float32 HxW in [0, 1] for
    16-bit grey; kind names what the file held ("RGB", "gray", "RGBA", "16-bit gray", ...)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if path.is_dir():
        raise UserError(_one_line(f"{path} is a folder, not an image file"))
    try:
        with Image.open(path) as opened:
            # A photo taken upright but stored sideways carries an EXIF orientation; apply it so
            # the pixels are the picture as every viewer shows it. exif_transpose also loads
            # (decodes) the image here, so a truncated file fails inside this `try`.
            image = ImageOps.exif_transpose(opened)
            image.load()
    except UnidentifiedImageError:
        raise UserError(
            _one_line(f"cannot read the image {path}: not an image format PIL can identify")
        ) from None
    # What PIL raises for damaged or hostile files (truncated data, bad headers, bad EXIF, an
    # image so large it could be a decompression bomb): all mean "cannot read this image".
    except (OSError, SyntaxError, ValueError, IndexError, Image.DecompressionBombError) as err:
        raise UserError(_one_line(f"cannot read the image {path}: {err}")) from None
    mode = image.mode
    if mode in ("L", "RGB", "RGBA"):
        return np.asarray(image), {"L": "gray", "RGB": "RGB", "RGBA": "RGBA"}[mode]
    if mode == "LA":  # grey plus alpha: drop the alpha, as for RGBA
        return np.asarray(image)[..., 0], "gray+alpha"
    if mode == "1":  # black and white is grey with two levels, not a colour image
        return np.asarray(image.convert("L")), "1-bit gray"
    if mode in _SIXTEEN_BIT_MODES:
        # PIL's own conversion to L or RGB clips 16-bit levels at 255 (a white image); scale
        # them instead. Mode I is signed 32-bit: only its 16-bit range is read as grey levels.
        levels = np.asarray(image, dtype=np.int64)
        if levels.min() < 0 or levels.max() > 65535:
            raise UserError(
                _one_line(f"cannot read the image {path}: 32-bit levels outside 0..65535")
            )
        return (levels / 65535).astype(np.float32), "16-bit gray"
    if mode == "F":  # float grey (TIFF): only [0, 1] has an agreed meaning
        levels = np.asarray(image, dtype=np.float32)
        if not (np.isfinite(levels).all() and levels.min() >= 0 and levels.max() <= 1):
            raise UserError(_one_line(f"cannot read the image {path}: float levels outside [0, 1]"))
        return levels, "float gray"
    # Palette, CMYK, YCbCr, LAB, ...: to RGB. A palette with a transparent entry goes through
    # RGBA (PIL warns when such a palette goes straight to RGB); the alpha is dropped below.
    kind = _MODE_KINDS.get(mode, mode)
    if "transparency" in image.info or mode in ("PA", "RGBa", "La"):
        return np.asarray(image.convert("RGBA")), kind
    return np.asarray(image.convert("RGB")), kind


def _read(source: str) -> tuple[np.ndarray, str, str]:
    """(float32 HxWxC pixels in [0, 1] with C 1 or 3, what the source held, its label)."""
    if source in EMBEDDED_IMAGES:
        where, loader = EMBEDDED_IMAGES[source]
        raw = np.asarray(loader())
        kind = "RGB" if raw.ndim == 3 else "gray"
        label = where
    else:
        path = pathlib.Path(os.path.expanduser(source))
        if not os.path.exists(path):  # False also for names no file system allows
            raise _unknown(source)
        raw, kind = _from_file(path)
        label = str(path)
    if raw.dtype == np.uint8:
        # Dividing in float32 keeps an unresized image bit-identical to `pixels / 255`.
        pixels = raw.astype(np.float32) / np.float32(255)
    else:
        pixels = raw.astype(np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    # An alpha channel is dropped, not composited on any background: the colour values stand
    # as they are stored, whatever the transparency.
    return pixels[..., :3] if pixels.shape[-1] == 4 else pixels, kind, label


def _longer_side_to(pixels: np.ndarray, image_size: int) -> np.ndarray:
    """`pixels` resized so the longer side is `image_size` pixels; the shorter side keeps the
    aspect ratio, rounded half up to whole pixels and at least 1."""
    height, width = pixels.shape[:2]
    longer, shorter = max(height, width), min(height, width)
    if longer == image_size:
        return pixels  # already that size: the stored pixels, not a resampled copy
    # Integer arithmetic: round(shorter * image_size / longer), halves up, with no float error.
    scaled = max(1, (2 * shorter * image_size + longer) // (2 * longer))
    shape = (image_size, scaled) if height >= width else (scaled, image_size)
    from skimage.transform import resize

    # Bilinear (order=1) never overshoots [0, 1], unlike cubic. Shrinking first blurs with a
    # Gaussian (anti_aliasing) so fine detail does not alias into moiré; enlarging needs none.
    resized = resize(pixels, (*shape, pixels.shape[2]), order=1, anti_aliasing=image_size < longer)
    return np.clip(resized, 0, 1).astype(np.float32)


def load_image(source: str, image_size: int = 0, channels: int = 3) -> np.ndarray:
    """The image `source` (an EMBEDDED_IMAGES name, else a path to an image file; `~` expanded)
    as float32 HxWxC intensities in [0, 1] (8-bit levels / 255; 16-bit levels / 65535).

    image_size: the longer side in pixels after resizing with the aspect ratio kept; 0 keeps the
    stored size, as does an image_size equal to the longer side (then no resampling at all).
    channels: 1 gives luminance (scikit-image's rgb2gray weights 0.2125 R + 0.7154 G + 0.0721 B;
    a grey source as it is); 3 gives RGB (a grey source repeated in all three). An alpha channel
    is dropped; palette and other modes are converted to RGB first.
    """
    if channels not in (1, 3):
        raise UserError(f"channels must be 1 (luminance) or 3 (RGB), not {channels!r}")
    if image_size < 0:
        raise UserError(
            f"image_size must be 0 (keep the size) or a positive number of pixels, not {image_size}"
        )
    pixels, _, _ = _read(source)
    if channels == 1 and pixels.shape[-1] == 3:
        from skimage.color import rgb2gray

        pixels = rgb2gray(pixels).astype(np.float32)[..., None]
    elif channels == 3 and pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    if image_size:
        pixels = _longer_side_to(pixels, image_size)
    return np.ascontiguousarray(pixels, dtype=np.float32)


def describe(source: str) -> str:
    """One short phrase naming the image for reports, with its stored size (height x width) and
    what it held, e.g. "scikit-image's `chelsea` (300x451 RGB)" or "/data/me.jpg (600x800 RGB)"."""
    pixels, kind, label = _read(source)
    return f"{label} ({pixels.shape[0]}x{pixels.shape[1]} {kind})"


def image_identity(pixels: np.ndarray) -> str:
    """sha256 hex digest of the pixels as float32 (C order) and of their shape: equal digests
    mean the same pixels, so a resumed run can check that its images did not change."""
    array = np.ascontiguousarray(pixels, dtype=np.float32)
    digest = hashlib.sha256(repr(tuple(array.shape)).encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def save_image(path: str | os.PathLike, pixels: np.ndarray) -> pathlib.Path:
    """Writes HxWxC (C 1 or 3) or HxW intensities in [0, 1] as an 8-bit PNG (grey as mode L),
    clipped to [0, 1] and rounded to the nearest level (NaN as 0); returns the path written."""
    from PIL import Image

    array = np.asarray(pixels, dtype=np.float32)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise ValueError(f"save_image takes HxW, HxWx1 or HxWx3 pixels, not shape {array.shape}")
    levels = np.rint(np.clip(np.nan_to_num(array, nan=0.0), 0, 1) * 255).astype(np.uint8)
    target = pathlib.Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(levels).save(target, format="PNG")  # uint8 HxW is mode L, HxWx3 RGB
    return target
