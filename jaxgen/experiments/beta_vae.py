"""beta-VAE (Higgins et al. 2017): the KL term weighted by beta > 1, ramped up from 0 over a
KL warm-up, on mnist5k. Compare its traversals and active units with experiments/vae.py."""

from jaxgen.families.vae.config import vae_config, vae_smoke


def get_config(preset: str = "default"):
    config = vae_config(batch_size=128, learning_rate=1e-3, lr_schedule="cosine")
    config.model.update(kind="dense", hidden=(512, 256), latent_size=10)
    config.objective.update(beta=4.0, kl_warmup_steps=1000)
    if preset == "smoke":
        vae_smoke(config)
        config.objective.update(kl_warmup_steps=10)
    elif preset == "full":
        config.update(dataset="mnist", steps=14000)
    return config
