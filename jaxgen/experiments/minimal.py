"""The smallest complete family (docs/adding_a_family.md): a factorized Gaussian over pixels,
fitted by maximum likelihood with Adam at 0.05."""

from jaxgen.train.base_config import base_config, smoke


def get_config(preset: str = "default"):
    config = base_config(task="minimal", learning_rate=0.05, steps=500, eval_every=250)
    if preset == "smoke":
        smoke(config, steps=20, batch_size=32)
    elif preset == "full":
        config.update(dataset="mnist", steps=2000)
    return config
