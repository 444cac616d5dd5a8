"""A VAE on binarized mnist5k: `--config.model.*` and `--config.objective.*` choose the network,
likelihood and objective. The default is jaxgen's recipe that beats the Flax example VAE
(experiments/flax_example_vae.py) at the same data and step budget: dynamic binarization, a
deeper 784-512-256-32 network, KL warm-up and a cosine learning-rate decay."""

from jaxgen.families.vae.config import vae_config, vae_smoke


def get_config(preset: str = "default"):
    config = vae_config(batch_size=128, learning_rate=1e-3, lr_schedule="cosine")
    config.model.update(kind="dense", hidden=(512, 256), latent_size=32)
    # likelihood and binarize stay "auto": Bernoulli with dynamic binarization on grey digits,
    # the discretized logistic on 8-bit colour pixels.
    config.objective.update(kl_warmup_steps=500)
    if preset == "smoke":
        vae_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=14000)
    return config
