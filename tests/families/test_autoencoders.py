import jax
import jax.numpy as jnp
import pytest

from jaxgen.families.autoencoder.config import model_config
from jaxgen.families.autoencoder.model import UPSAMPLINGS, build_autoencoder


@pytest.mark.parametrize("hidden", [(), (32, 16)])
def test_dense_shapes(hidden):
    net = build_autoencoder(model_config("dense", hidden=hidden, code_size=3), (28, 28, 1))
    x = jnp.zeros((5, 28, 28, 1))
    params = net.init(jax.random.key(0), x)
    logits, z = net.apply(params, x)
    assert logits.shape == x.shape and z.shape == (5, 3)


@pytest.mark.parametrize("upsample", UPSAMPLINGS)
@pytest.mark.parametrize("shape", [(28, 28, 1), (8, 8, 3)])
def test_conv_decoders_reconstruct_the_input_shape(upsample, shape):
    downsample = "maxpool" if upsample == "max_unpool" else "stride"
    block = model_config(
        "conv", channels=(4, 8), code_size=5, downsample=downsample, upsample=upsample
    )
    net = build_autoencoder(block, shape)
    x = jax.random.uniform(jax.random.key(1), (2, *shape))
    params = net.init(jax.random.key(0), x)
    logits, z = net.apply(params, x)
    assert logits.shape == x.shape and z.shape == (2, 5)
    grads = jax.grad(lambda p: jnp.sum(net.apply(p, x)[0] ** 2))(params)
    assert all(jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads))


def test_max_unpool_needs_the_pooling_encoder():
    block = model_config("conv", downsample="stride", upsample="max_unpool")
    net = build_autoencoder(block, (8, 8, 1))
    with pytest.raises(ValueError, match="maxpool"):
        net.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
