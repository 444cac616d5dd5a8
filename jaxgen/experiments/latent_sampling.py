"""Sampling the latent space of a plain AE and of a VAE with the same 784-512-256-16 network,
trained side by side on mnist5k: z ~ N(0, I) and draws from a Gaussian fitted to the train
codes, decoded by each, scored by FID, precision/recall and the classifier score in the digit
classifier's features; and how often linear paths between test codes of two classes leave both
classes. The textbook claim: an AE's latent space decodes poorly away from its codes, a VAE's
can be sampled."""

from jaxgen.families.latent_codes.config import latent_codes_config, latent_codes_smoke


def get_config(preset: str = "default"):
    config = latent_codes_config(
        "latent_sampling", steps=3000, batch_size=128, learning_rate=1e-3, lr_schedule="cosine"
    )
    config.objective.update(kl_warmup_steps=500)
    if preset == "smoke":
        latent_codes_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=14000, eval_every=2000, checkpoint_every=2000)
    return config
