"""k-means (k = 10) on the test digits' raw pixels, PCA codes, plain-AE codes and VAE means
(the AE and the VAE share one 784-512-256-16 network, trained side by side), scored by
clustering accuracy (Hungarian matching), NMI and ARI against the classes, beside the DEC
paper's full-MNIST numbers (Xie et al. 2016). The default trains seeds 0, 1, 2 as replicas and
reports mean and std."""

from jaxgen.families.latent_codes.config import latent_codes_config, latent_codes_smoke


def get_config(preset: str = "default"):
    config = latent_codes_config(
        "clustering",
        steps=3000,
        batch_size=128,
        learning_rate=1e-3,
        lr_schedule="cosine",
        seeds="0,1,2",
    )
    config.objective.update(kl_warmup_steps=500)
    if preset == "smoke":
        latent_codes_smoke(config)
        config.seeds = ""
    elif preset == "full":
        config.update(dataset="mnist", steps=14000, eval_every=2000, checkpoint_every=2000)
    return config
