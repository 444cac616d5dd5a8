"""A GAN on the 5x5 grid of 25 Gaussians (std 0.02, spacing 2): the harder mode-collapse
benchmark. Same players and protocol as experiments/gan_ring.py."""

from jaxgen.families.gan.config import gan_config, gan_smoke


def get_config(preset: str = "default"):
    config = gan_config("mlp", dataset="grid", steps=4000, batch_size=256, seeds="0,1,2")
    config.objective.update(loss="non_saturating", compare_generator_losses=True)
    if preset == "smoke":
        gan_smoke(config)
    elif preset == "full":
        config.update(steps=30000, seeds="0,1,2,3,4,5,6,7,8,9")
    return config
