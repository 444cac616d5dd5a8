"""Conv stacks follow the image size: stride-2 stages and their fitted channels."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from jaxgen.families.autoencoder.config import model_config
from jaxgen.families.autoencoder.model import build_autoencoder
from jaxgen.families.gan.config import gan_model_config
from jaxgen.families.gan.model import build_players
from jaxgen.nn.common import fit_channels, stride2_stages


@pytest.mark.parametrize(
    "side, stages", [(8, 1), (28, 2), (32, 3), (64, 4), (256, 6), (7, 0), (12, 1)]
)
def test_stride2_stages_halve_down_to_four_pixels(side, stages):
    assert stride2_stages(side, side) == stages
    assert stride2_stages(side, 2 * side) == stages  # the smaller side decides


def test_fit_channels_keeps_the_narrow_end():
    assert fit_channels((256, 128, 64), 3, widest="first") == (256, 128, 64)
    assert fit_channels((256, 128, 64), 5, widest="first") == (1024, 512, 256, 128, 64)
    assert fit_channels((256, 128, 64), 2, widest="first") == (128, 64)
    assert fit_channels((64, 128), 4, widest="last") == (64, 128, 256, 512)
    assert fit_channels((64, 128), 1, widest="last") == (64,)
    with pytest.raises(ValueError):
        fit_channels((64,), 0, widest="last")


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3)])
def test_dcgan_players_add_stages_with_the_size(shape):
    model = gan_model_config("dcgan", latent_size=8)
    generator, discriminator = build_players(model, shape, 0)
    stages = stride2_stages(*shape[:2])
    assert len(generator.channels) == stages + 1 and len(discriminator.channels) == stages
    z = jnp.zeros((2, 8))
    g_vars = generator.init(jax.random.key(0), z, None, train=False)
    images = generator.apply(g_vars, z, None, train=False)
    assert images.shape == (2, *shape)
    # The generator starts at 7x7 on 28x28 (the tutorial's) and at 4x4 on 32 and 64 (the paper's).
    start = g_vars["params"]["Dense_0"]["kernel"].shape[1] // generator.channels[0]
    assert start == (49 if shape[0] == 28 else 16)
    d_vars = discriminator.init(jax.random.key(1), images, None)
    assert discriminator.apply(d_vars, images, None).shape == (2,)


@pytest.mark.parametrize("shape", [(32, 32, 3), (64, 64, 3)])
def test_conv_autoencoder_adds_levels_with_the_size(shape):
    net = build_autoencoder(model_config("conv", channels=(8, 16), code_size=4), shape)
    assert net.channels == fit_channels((8, 16), stride2_stages(*shape[:2]), widest="last")
    x = jnp.zeros((2, *shape))
    logits, z = net.apply(net.init(jax.random.key(0), x), x)
    assert logits.shape == x.shape and z.shape == (2, 4)
