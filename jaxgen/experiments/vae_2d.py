"""A VAE with a 2-D latent space, for the pictures: the decoded normal-quantile grid (the learned
manifold of digits) and the scatter of test codes coloured by label."""

from jaxgen.families.vae.config import vae_config, vae_smoke


def get_config(preset: str = "default"):
    config = vae_config(batch_size=128, learning_rate=1e-3, lr_schedule="cosine")
    config.model.update(kind="dense", hidden=(512, 256), latent_size=2)
    if preset == "smoke":
        vae_smoke(config)
        config.model.update(latent_size=2)
    elif preset == "full":
        config.update(dataset="mnist", steps=14000)
    return config
