"""GAN players: the classic DCGAN shapes and sizes, labels entering both players."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgen.families.gan.model import DCGANDiscriminator, DCGANGenerator, build_players


def _count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_dcgan_players_have_the_classic_shapes_and_sizes():
    generator, discriminator = DCGANGenerator((28, 28, 1)), DCGANDiscriminator()
    z = jnp.zeros((3, 100))
    g_vars = jax.eval_shape(lambda: generator.init(jax.random.key(0), z, train=False))
    images = jax.eval_shape(
        lambda: generator.apply(generator.init(jax.random.key(0), z, train=False), z, train=False)
    )
    assert images.shape == (3, 28, 28, 1)
    # dense 100 -> 7*7*256 (no bias), transposed 5x5 convs 256->128, 128->64 (no bias), 64->1.
    assert _count(g_vars["params"]) == (
        100 * 7 * 7 * 256
        + 2 * 7 * 7 * 256
        + 25 * 256 * 128
        + 2 * 128
        + 25 * 128 * 64
        + 2 * 64
        + 25 * 64
        + 1
    )
    x = jnp.zeros((3, 28, 28, 1))
    d_vars = jax.eval_shape(lambda: discriminator.init(jax.random.key(0), x))
    assert _count(d_vars["params"]) == 25 * 64 + 64 + 25 * 64 * 128 + 128 + 7 * 7 * 128 + 1
    assert jax.eval_shape(
        lambda: discriminator.apply(discriminator.init(jax.random.key(0), x), x)
    ).shape == (3,)


def test_generator_images_are_in_minus_one_one_and_batch_norm_modes_differ():
    generator = DCGANGenerator((8, 8, 1), channels=(8, 4, 2))
    z = jax.random.normal(jax.random.key(0), (16, 10))
    variables = generator.init(jax.random.key(1), z, train=False)
    train_out, _ = generator.apply(variables, z, train=True, mutable=["batch_stats"])
    eval_out = generator.apply(variables, z, train=False)
    assert train_out.shape == (16, 8, 8, 1)
    assert float(jnp.max(jnp.abs(train_out))) <= 1.0
    assert not np.allclose(train_out, eval_out)  # batch statistics vs running averages


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_label_enters_both_players(kind):
    model = ml_collections.ConfigDict(
        {
            "kind": kind,
            "latent_size": 4,
            "generator_hidden": (8,),
            "discriminator_hidden": (8,),
            "generator_channels": (8, 4, 2),
            "discriminator_channels": (2, 4),
            "spectral_norm": False,
            "conditional": True,
        }
    )
    shape = (2,) if kind == "mlp" else (8, 8, 1)
    generator, discriminator = build_players(model, shape, num_classes=3)
    z = jax.random.normal(jax.random.key(0), (4, 4))
    label_a, label_b = jnp.zeros(4, jnp.int32), jnp.full(4, 2, jnp.int32)
    g_vars = generator.init(jax.random.key(1), z, label_a, train=False)
    assert not np.allclose(
        generator.apply(g_vars, z, label_a, train=False),
        generator.apply(g_vars, z, label_b, train=False),
    )
    x = jax.random.normal(jax.random.key(2), (4, *shape))
    d_vars = discriminator.init(jax.random.key(3), x, label_a)
    assert not np.allclose(
        discriminator.apply(d_vars, x, label_a), discriminator.apply(d_vars, x, label_b)
    )


def test_bad_model_kind_and_image_side_are_rejected():
    model = ml_collections.ConfigDict({"kind": "resnet", "conditional": False})
    with pytest.raises(ValueError, match="unknown GAN model kind"):
        build_players(model, (2,), 0)
    generator = DCGANGenerator((10, 10, 1))
    with pytest.raises(ValueError, match="divisible by 4"):
        generator.init(jax.random.key(0), jnp.zeros((1, 4)), train=False)
