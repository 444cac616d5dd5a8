"""WGAN-GP (Gulrajani et al. 2017) on the ring of 8 Gaussians: the critic takes 5 updates per
generator update with a gradient penalty of weight 10, Adam betas (0.5, 0.9). The paper's toy runs
use a learning rate of 1e-4 for 100k steps; 1e-3 reaches the modes within this CPU budget (at 1e-4
and 3,000 steps the samples are still diffuse). `--config.dataset=grid` for the 5x5 grid."""

from jaxgen.families.gan.config import gan_config, gan_smoke


def get_config(preset: str = "default"):
    config = gan_config(
        "mlp",
        dataset="ring",
        steps=3000,
        batch_size=256,
        adam_b1=0.5,
        adam_b2=0.9,
        generator_learning_rate=1e-3,
        discriminator_learning_rate=1e-3,
        seeds="0,1,2",
    )
    config.objective.update(loss="wasserstein_gp", discriminator_steps=5, gradient_penalty=10.0)
    if preset == "smoke":
        gan_smoke(config)
    elif preset == "full":
        config.update(steps=20000, seeds="0,1,2,3,4,5,6,7,8,9")
    return config
