"""Conditional DCGAN (Mirza & Osindero 2014) on mnist5k: the label enters both players, as a
one-hot vector concatenated to z and as ten constant planes concatenated to the discriminator's
input image. The report adds a class-by-noise grid and the share of generated images that jaxgen's
digit classifier assigns to their conditioning label."""

from jaxgen.tasks.gan import gan_config, gan_smoke


def get_config(preset: str = "default"):
    config = gan_config(
        "dcgan",
        dataset="mnist5k",
        steps=1500,
        batch_size=64,
        generator_learning_rate=2e-4,
        discriminator_learning_rate=2e-4,
        eval_every=250,
        checkpoint_every=250,
        num_samples=4000,
        eval_num_samples=1000,
    )
    config.model.update(
        generator_channels=(128, 64, 32), discriminator_channels=(32, 64), conditional=True
    )
    config.objective.update(loss="non_saturating", average_decay=0.999)
    if preset == "smoke":
        gan_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, batch_size=128, num_samples=10000)
        config.model.update(generator_channels=(256, 128, 64), discriminator_channels=(64, 128))
    return config
