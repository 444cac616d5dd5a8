"""Denoising convolutional autoencoder on mnist5k: salt-and-pepper corruption, the loss compares
with the clean input; transposed-convolution decoder. The demo's main job."""

from jaxgen.config import base_config
from jaxgen.tasks.autoencoder import model_config, objective_config


def get_config(preset: str = "default"):
    config = base_config(
        task="autoencoder",
        dataset="mnist5k",
        steps=2000,
        batch_size=64,
        learning_rate=1e-3,
        lr_schedule="constant",
        grad_clip_norm=0.0,
        eval_every=500,
        checkpoint_every=500,
        tsne_points=1000,
        model=model_config("conv", code_size=32, channels=(32, 64), upsample="transpose"),
        objective=objective_config(reconstruction="bce", corruption="salt_pepper", noise_level=0.2),
    )
    if preset == "smoke":
        config.update(
            steps=12,
            batch_size=16,
            eval_every=6,
            checkpoint_every=6,
            log_every=3,
            tsne_points=0,
            dataset="digits",
        )
        config.model.channels = (8, 16)
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, batch_size=128)
    return config
