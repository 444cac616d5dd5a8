"""Conditional DCGAN (Mirza & Osindero 2014) on mnist5k: the DCGAN recipe of experiments/dcgan.py
with the label in both players, as a one-hot vector concatenated to z and as ten constant planes
concatenated to the discriminator's input image. The report adds a class-by-noise grid and the
share of generated images that the feature classifier assigns to their conditioning label."""

from jaxgen.train.base_config import sibling_experiment


def get_config(preset: str = "default"):
    config = sibling_experiment(__file__, "dcgan").get_config(preset)
    config.model.conditional = True
    return config
