"""A convolutional VAE: strided 3x3 convolutions down, the fast transposed convolutions up, and
a Gaussian likelihood with one learned scale (`--config.objective.likelihood=bernoulli` for the
binarized version). The NLL uses 100 draws by default: a conv decoder is costly on a CPU."""

from jaxgen.families.vae.config import vae_config, vae_smoke


def get_config(preset: str = "default"):
    config = vae_config(
        batch_size=64,
        learning_rate=1e-3,
        lr_schedule="cosine",
        steps=2000,
        nll_samples=100,
        eval_nll_samples=10,
    )
    config.model.update(kind="conv", channels=(32, 64), latent_size=16)
    config.objective.update(likelihood="gaussian_learned", binarize="none")
    if preset == "smoke":
        vae_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, batch_size=128, nll_samples=1000)
    return config
