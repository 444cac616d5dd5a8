"""Conditional VAE (Sohn et al. 2015): encoder and decoder both see the digit's label, so z keeps
the style and the label picks the digit. The report's class-by-style grid generates every digit
in several styles; its NLL is log p(x | label)."""

from jaxgen.families.vae.config import vae_config, vae_smoke


def get_config(preset: str = "default"):
    config = vae_config(batch_size=128, learning_rate=1e-3, lr_schedule="cosine")
    config.model.update(kind="dense", hidden=(512, 256), latent_size=8, conditional=True)
    config.objective.update(kl_warmup_steps=500)
    if preset == "smoke":
        vae_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=14000)
    return config
