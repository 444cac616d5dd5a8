"""IWAE (Burda et al. 2016): trained on the K-sample importance-weighted bound (K draws under
`vmap`), which is tighter than the ELBO; evaluated like every VAE, by the 1000-draw NLL."""

from jaxgen.families.vae.config import vae_config, vae_smoke


def get_config(preset: str = "default"):
    config = vae_config(batch_size=128, learning_rate=1e-3, lr_schedule="cosine")
    config.model.update(kind="dense", hidden=(512, 256), latent_size=32)
    config.objective.update(kind="iwae", importance_samples=5)
    if preset == "smoke":
        vae_smoke(config)
        config.objective.update(importance_samples=3)
    elif preset == "full":
        config.update(dataset="mnist", steps=14000, nll_samples=5000)
        config.objective.update(importance_samples=50)
    return config
