"""PCA against the linear autoencoder (which spans the PCA subspace) and a nonlinear
convolutional autoencoder at code sizes 2, 8, 16, 32 on mnist5k: the compression curve."""

import ml_collections

from jaxgen.families.autoencoder.config import model_config
from jaxgen.train.base_config import base_config, smoke


def get_config(preset: str = "default"):
    config = base_config(
        task="compression",
        dataset="mnist5k",
        code_sizes=(2, 8, 16, 32),
        steps=3000,
        batch_size=64,
        group_learning_rates=ml_collections.ConfigDict({"linear": 5e-3, "nonlinear": 2e-3}),
        lr_schedule="cosine",  # the linear AEs need the decay to settle on the PCA subspace
        eval_every=1000,
        checkpoint_every=1000,
        nonlinear_models=ml_collections.ConfigDict(
            {"conv": model_config("conv", channels=(32, 64), upsample="transpose")}
        ),
        nonlinear_reconstruction="bce",
    )
    if preset == "smoke":
        smoke(config, steps=10, batch_size=32, code_sizes=(2, 4))
        config.nonlinear_models = ml_collections.ConfigDict(
            {
                "dense": model_config("dense", hidden=(32,)),
                "conv": model_config("conv", channels=(4, 8)),
            }
        )
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, batch_size=256)
    return config
