"""Image parametrisations and regularising transforms of feature visualisation.

After Olah, Mordvintsev & Schubert (2017), "Feature Visualization", Distill, and the ideas of
the lucid library, written afresh in JAX: every function is pure and jittable (shapes, shifts
bounds and scale tuples are static Python values; keys, shifts and scale factors are traced).

All images are float32 NxHxWxC arrays with values in [0, 1] and C in {1, 3}.

Parametrisations come in pairs: `init_*(key, shape_NxHxWxC, ...)` returns a params pytree and
`*_to_image(params, shape_NxHxWxC, ...)` maps it to an image in [0, 1]; an optimiser updates the
params, never the image.

- `pixel`: the params are the pixels themselves.
- `fourier`: the params are the spectrum of a colour-decorrelated image, scaled by 1/frequency
  so that gradient steps are (roughly) whitened: low frequencies are not starved by the high
  ones that a pixel-space gradient favours, which is what makes the optimised images look less
  like adversarial noise.

Transforms (`jitter`, `random_scale`, `random_roll`) are applied to the image before the network
sees it, so that the optimum has to survive small translations and rescalings (transformation
robustness). `total_variation` is the classic smoothness penalty.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

Shape = tuple[int, int, int, int]  # N, H, W, C
Params = dict[str, jax.Array]

# The square root of the colour correlation matrix of natural images (lucid's published values,
# estimated from ImageNet): column 0 is roughly luminance (equal parts of R, G, B), the other two
# are colour-opponent directions. Rows are R, G, B.
COLOR_CORRELATION_SQRT_3x3 = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
# Normalised by the largest column norm (as lucid does) so that no decorrelated channel is
# amplified: a unit step along any decorrelated axis moves the RGB vector by at most 1.
COLOR_MATRIX_3x3 = COLOR_CORRELATION_SQRT_3x3 / np.max(
    np.linalg.norm(COLOR_CORRELATION_SQRT_3x3, axis=0)
)


def _check_shape(shape_NxHxWxC: Shape) -> tuple[int, int, int, int]:
    n, h, w, c = (int(d) for d in shape_NxHxWxC)
    if c not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got shape {tuple(shape_NxHxWxC)}")
    return n, h, w, c


# --------------------------------------------------------------------------------------------
# Pixel parametrisation


def init_pixel(key: jax.Array, shape_NxHxWxC: Shape, sd: float = 0.01) -> Params:
    """Pixels as params: 0.5 + sd * N(0, 1) per pixel, float32, in [0, 1] pixel units."""
    n, h, w, c = _check_shape(shape_NxHxWxC)
    noise = jax.random.normal(key, (n, h, w, c), jnp.float32)
    return {"pixels": 0.5 + sd * noise}


def pixel_to_image(params: Params, shape_NxHxWxC: Shape) -> jax.Array:
    """The image NxHxWxC in [0, 1]: the pixel params clipped to [0, 1].

    The clip sits inside the forward pass, so the optimiser sees a zero gradient for any pixel
    beyond the range (jnp.clip's derivative is 0 there): such a pixel is frozen until momentum
    brings it back. The TensorFlow style-transfer tutorial gets a bounded image with
    `tf.clip_by_value` instead, applied to the variable after each step (a projection, under
    which the gradient is never zeroed); a caller who wants that behaviour clips
    `params["pixels"]` after each update as well, which keeps this clip a no-op.
    """
    pixels_NxHxWxC = params["pixels"]
    if pixels_NxHxWxC.shape != tuple(shape_NxHxWxC):
        raise ValueError(f"params have shape {pixels_NxHxWxC.shape}, expected {shape_NxHxWxC}")
    return jnp.clip(pixels_NxHxWxC, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# Fourier (decorrelated) parametrisation


def fourier_scale(height: int, width: int, decay_power: float = 1.0) -> np.ndarray:
    """The spectrum's amplitude scale, Hx(W//2+1) float32 in `jnp.fft.rfft2` layout.

    scale[i, j] = 1 / max(|f|, 1 / max(H, W)) ** decay_power with |f| = sqrt(fy_i^2 + fx_j^2)
    in cycles per pixel, fy from np.fft.fftfreq(H) and fx from np.fft.rfftfreq(W). The floor
    1 / max(H, W) (the lowest non-zero frequency of the longer side) keeps DC finite: it gets
    the same scale as the lowest frequency. decay_power = 1 gives the 1/f amplitude spectrum of
    natural images; 0 gives a flat spectrum (plain white noise in the spectrum).
    """
    fy_Hx1 = np.fft.fftfreq(height)[:, None]
    fx_1xWf = np.fft.rfftfreq(width)[None, :]
    freq_HxWf = np.sqrt(fy_Hx1**2 + fx_1xWf**2)
    scale_HxWf = 1.0 / np.maximum(freq_HxWf, 1.0 / max(height, width)) ** decay_power
    return scale_HxWf.astype(np.float32)


def init_fourier(key: jax.Array, shape_NxHxWxC: Shape, sd: float = 0.01) -> Params:
    """Spectrum params: real and imaginary parts, each Nx H x (W//2+1) xC, sd * N(0, 1).

    The layout is that of `jnp.fft.rfft2(x, axes=(1, 2))` of an NxHxWxC decorrelated image.
    The layout is redundant, as an rfft2 layout is: in column 0 (and column W/2 when W is even)
    the inverse real FFT keeps only the part that is Hermitian-symmetric over the rows, so e.g.
    the imaginary part of the DC coefficient is ignored and gets a zero gradient. Harmless: the
    redundant directions just do not move the image.
    """
    n, h, w, c = _check_shape(shape_NxHxWxC)
    key_re, key_im = jax.random.split(key)
    shape_NxHxWfxC = (n, h, w // 2 + 1, c)
    return {
        "real": sd * jax.random.normal(key_re, shape_NxHxWfxC, jnp.float32),
        "imag": sd * jax.random.normal(key_im, shape_NxHxWfxC, jnp.float32),
    }


def decorrelated_to_rgb(x_NxHxWx3: jax.Array) -> jax.Array:
    """Maps decorrelated channels to RGB: each pixel's 3-vector times COLOR_MATRIX_3x3.

    rgb = COLOR_MATRIX_3x3 @ d per pixel, i.e. rgb_row = d_row @ COLOR_MATRIX_3x3.T. Optimising
    d (independent, roughly unit-variance directions of natural colour) instead of RGB whitens
    the colour part of the gradient the way the 1/f scale whitens the spatial part.
    """
    return x_NxHxWx3 @ jnp.asarray(COLOR_MATRIX_3x3.T)


def fourier_to_image(params: Params, shape_NxHxWxC: Shape, decay_power: float = 1.0) -> jax.Array:
    """The image NxHxWxC in (0, 1) that the spectrum params describe.

    image = sigmoid(colour(irfft2((real + i imag) * fourier_scale * sqrt(H W)))), where colour
    is `decorrelated_to_rgb` for C = 3 and the identity for C = 1. `shape_NxHxWxC` and
    `decay_power` are static (Python values): the scale is a NumPy constant of the program.
    """
    n, h, w, c = _check_shape(shape_NxHxWxC)
    real, imag = params["real"], params["imag"]
    if real.shape != (n, h, w // 2 + 1, c) or imag.shape != real.shape:
        raise ValueError(
            f"spectrum params {real.shape}/{imag.shape} do not match image shape {shape_NxHxWxC}"
        )
    spectrum_NxHxWfxC = jax.lax.complex(real, imag)
    # irfft2's default ("backward") normalisation divides by H*W: a spectrum of i.i.d.
    # coefficients of standard deviation s would give pixels of standard deviation about
    # s / sqrt(H W), shrinking with the image. The extra sqrt(H W) makes the transform
    # orthonormal, so pixel amplitude (and the size of a gradient step in pixel units) does not
    # depend on the image size, and each frequency contributes in proportion to its 1/f scale
    # alone.
    scale_HxWf = fourier_scale(h, w, decay_power) * np.float32(math.sqrt(h * w))
    scaled_NxHxWfxC = spectrum_NxHxWfxC * jnp.asarray(scale_HxWf)[None, :, :, None]
    decorrelated_NxHxWxC = jnp.fft.irfft2(scaled_NxHxWfxC, s=(h, w), axes=(1, 2))
    if c == 3:
        decorrelated_NxHxWxC = decorrelated_to_rgb(decorrelated_NxHxWxC)
    # The sigmoid maps the unbounded parametrisation into the valid pixel range with a nowhere
    # zero gradient (unlike a clip).
    return jax.nn.sigmoid(decorrelated_NxHxWxC).astype(jnp.float32)


# --------------------------------------------------------------------------------------------
# Transforms


def _random_shift(key: jax.Array, max_shift: int) -> tuple[jax.Array, jax.Array]:
    """(dy, dx), int32 scalars, each uniform on the integers of [-max_shift, max_shift]."""
    shift_2 = jax.random.randint(key, (2,), -max_shift, max_shift + 1, dtype=jnp.int32)
    return shift_2[0], shift_2[1]


def jitter(key: jax.Array, x_NxHxWxC: jax.Array, max_shift: int) -> jax.Array:
    """Translates the whole batch by one random (dy, dx) pixels, each in [-max_shift, max_shift].

    `jnp.roll`: what leaves one edge re-enters on the other. That is fine here: the shift is a
    few pixels, the network sees a seam rather than a made-up border (no padding value to
    choose), and the map is a permutation, so gradients pass back unchanged; DeepDream's tiled
    gradient uses the same wrap-around roll to hide tile boundaries.
    """
    dy, dx = _random_shift(key, max_shift)
    return jnp.roll(x_NxHxWxC, (dy, dx), axis=(1, 2))


def random_roll(
    key: jax.Array, x_NxHxWxC: jax.Array, max_roll: int
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """DeepDream's random roll: (x rolled by (dy, dx), (dy, dx)), dy, dx in [-max_roll, max_roll].

    The shift (int32 scalars, pixels) is returned so that `unroll` can undo it, e.g. on the
    gradient computed for the rolled image. Both bounds are inclusive (the TensorFlow DeepDream
    tutorial draws with an exclusive upper bound; the difference is one value).
    """
    shift = _random_shift(key, max_roll)
    return jnp.roll(x_NxHxWxC, shift, axis=(1, 2)), shift


def unroll(x_NxHxWxC: jax.Array, shift: tuple[jax.Array, jax.Array]) -> jax.Array:
    """The inverse of `random_roll`: rolls by (-dy, -dx) pixels."""
    dy, dx = shift
    return jnp.roll(x_NxHxWxC, (-dy, -dx), axis=(1, 2))


def random_scale(
    key: jax.Array,
    x_NxHxWxC: jax.Array,
    scales: tuple[float, ...] = (0.95, 0.975, 1.0, 1.025, 1.05),
) -> jax.Array:
    """Rescales the whole batch about its centre by one factor drawn uniformly from `scales`.

    Bilinear resampling (`jax.image.scale_and_translate`, antialiased when shrinking) into an
    output of the same HxW: a factor > 1 zooms in and crops, a factor < 1 shrinks and fills the
    border with the edge pixels. The factor is traced (drawn inside jit); `scales` is static.
    """
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales must be a non-empty tuple of positive factors, got {scales}")
    n, h, w, c = x_NxHxWxC.shape
    # scale_and_translate writes zeros where an output pixel maps outside its input, so edge-pad
    # the input by enough that the smallest factor still maps every output pixel inside it
    # (output pixel centre o maps to input H_pad/2 + (o - H/2)/s: a margin of (H/2)(1/s - 1)
    # suffices); one extra pixel keeps the antialiasing kernel over real values at the border.
    shrink = max(0.0, 1.0 / min(scales) - 1.0)
    margin = math.ceil(max(h, w) / 2 * shrink) + 1
    padded_NxHpxWpxC = jnp.pad(
        x_NxHxWxC, ((0, 0), (margin, margin), (margin, margin), (0, 0)), mode="edge"
    )
    scale = jnp.asarray(scales, jnp.float32)[jax.random.randint(key, (), 0, len(scales))]
    # scale_and_translate maps input coordinate u (pixel edges at integers) to output u*s + t;
    # choosing t puts the padded centre on the output centre: t = H/2 - s (H + 2 margin) / 2.
    size_2 = jnp.array([h, w], jnp.float32)
    translation_2 = size_2 / 2 - scale * (size_2 + 2 * margin) / 2
    out = jax.image.scale_and_translate(
        padded_NxHpxWpxC,
        (n, h, w, c),
        spatial_dims=(1, 2),
        scale=jnp.stack([scale, scale]),
        translation=translation_2,
        method="linear",
        antialias=True,
    )
    return out.astype(x_NxHxWxC.dtype)


# --------------------------------------------------------------------------------------------
# Regulariser


def total_variation(x_NxHxWxC: jax.Array) -> jax.Array:
    """Total variation per image, (N,): tf.image.total_variation's definition.

    The sum over all channels of |x[i+1, j] - x[i, j]| (vertical neighbours) plus
    |x[i, j+1] - x[i, j]| (horizontal neighbours), in pixel units (a sum, not a mean, so it
    grows with the image size).
    """
    dy_Nx_ = jnp.abs(x_NxHxWxC[:, 1:, :, :] - x_NxHxWxC[:, :-1, :, :])
    dx_Nx_ = jnp.abs(x_NxHxWxC[:, :, 1:, :] - x_NxHxWxC[:, :, :-1, :])
    return jnp.sum(dy_Nx_, axis=(1, 2, 3)) + jnp.sum(dx_Nx_, axis=(1, 2, 3))
