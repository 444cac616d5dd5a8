"""A GAN on the ring of 8 Gaussians (std 0.02, radius 2): MLP players, the non-saturating loss,
three seeds in one program. The report gives the PacGAN mode-collapse numbers (modes covered,
high-quality fraction, mode KL; mean and std over seeds), the points over training, D(x) on real
and generated data, and the generator's gradient under the minimax and the non-saturating loss
at the same players. `--config.objective.loss=minimax|wasserstein_gp|hinge` switches the loss."""

from jaxgen.families.gan.config import gan_config, gan_smoke


def get_config(preset: str = "default"):
    config = gan_config("mlp", dataset="ring", steps=3000, batch_size=256, seeds="0,1,2")
    config.objective.update(loss="non_saturating", compare_generator_losses=True)
    if preset == "smoke":
        gan_smoke(config)
    elif preset == "full":
        config.update(steps=20000, seeds="0,1,2,3,4,5,6,7,8,9")
    return config
