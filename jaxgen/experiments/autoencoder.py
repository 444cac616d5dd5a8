"""A single autoencoder of any kind and variant; `--config.model.*` and `--config.objective.*`
choose it. Default: the shallow dense 784-32-784 autoencoder on mnist5k."""

from jaxgen.families.autoencoder.config import model_config, objective_config
from jaxgen.train.base_config import base_config, smoke


def get_config(preset: str = "default"):
    config = base_config(
        task="autoencoder",
        dataset="mnist5k",
        steps=3000,
        tsne_points=1000,
        model=model_config("dense", hidden=(), code_size=32),
        objective=objective_config(),
    )
    if preset == "smoke":
        smoke(config, steps=20, batch_size=32, tsne_points=0)
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, batch_size=256)
    return config
