"""A single autoencoder of any kind and variant; `--config.model.*` and `--config.objective.*`
choose it. Default: the shallow dense 784-32-784 autoencoder on mnist5k."""

from jaxgen.config import base_config
from jaxgen.tasks.autoencoder import model_config, objective_config


def get_config(preset: str = "default"):
    config = base_config(
        task="autoencoder",
        dataset="mnist5k",
        steps=3000,
        batch_size=128,
        learning_rate=1e-3,
        lr_schedule="constant",
        grad_clip_norm=0.0,
        eval_every=500,
        checkpoint_every=500,
        tsne_points=1000,
        model=model_config("dense", hidden=(), code_size=32),
        objective=objective_config(),
    )
    if preset == "smoke":
        config.update(
            steps=20,
            batch_size=32,
            eval_every=10,
            checkpoint_every=10,
            log_every=5,
            tsne_points=0,
            dataset="digits",
        )
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, batch_size=256)
    return config
