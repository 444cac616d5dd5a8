"""Denoising convolutional autoencoder on mnist5k: salt-and-pepper corruption, the loss compares
with the clean input; transposed-convolution decoder. The demo's main job."""

from jaxgen.families.autoencoder.config import model_config, objective_config
from jaxgen.train.base_config import base_config, smoke


def get_config(preset: str = "default"):
    config = base_config(
        task="autoencoder",
        dataset="mnist5k",
        steps=2000,
        batch_size=64,
        tsne_points=1000,
        model=model_config("conv", code_size=32, channels=(32, 64), upsample="transpose"),
        objective=objective_config(reconstruction="bce", corruption="salt_pepper", noise_level=0.2),
    )
    if preset == "smoke":
        smoke(config, steps=12, batch_size=16, tsne_points=0)
        config.model.channels = (8, 16)
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, batch_size=128)
    return config
