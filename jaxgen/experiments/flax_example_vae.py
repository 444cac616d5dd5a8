"""The baseline: the Flax example VAE (google/flax examples/vae) on our data and step budget.

784-500-20 MLP (ReLU), Bernoulli decoder, analytic KL, Adam 1e-3, batch 128, trained on one
static binarization of the training images as the example does with `binarized_mnist`.
"""

from jaxgen.families.vae.config import vae_config, vae_smoke


def get_config(preset: str = "default"):
    config = vae_config(batch_size=128, learning_rate=1e-3)
    config.model.update(kind="dense", hidden=(500,), latent_size=20)
    config.objective.update(binarize="static")
    if preset == "smoke":
        vae_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=14000)  # the example's 30 epochs of 60k at 128
    return config
