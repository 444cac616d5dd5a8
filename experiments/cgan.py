"""Conditional DCGAN (Mirza & Osindero 2014) on mnist5k: the label enters both players, as a
one-hot vector concatenated to z and as ten constant planes concatenated to the discriminator's
input image. The report adds a class-by-noise grid and the share of generated images that jaxgen's
digit classifier assigns to their conditioning label."""

from jaxgen.tasks.gan import dcgan_config


def get_config(preset: str = "default"):
    return dcgan_config(preset, conditional=True)
