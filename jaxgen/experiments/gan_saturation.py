"""The vanishing generator gradient: the ring GAN trained with the original minimax loss, whose
generator minimises log(1 - D(G(z))). Early in training D rejects the generated points with
confidence, where that loss is flat; the report plots the norm of the generator's gradient under
the minimax and the non-saturating loss (-log D(G(z))) at the same players, step by step. Five
discriminator updates per generator update keep D ahead of G, the regime the argument is about."""

from jaxgen.families.gan.config import gan_config, gan_smoke


def get_config(preset: str = "default"):
    config = gan_config("mlp", dataset="ring", steps=1000, batch_size=256, log_every=5)
    config.objective.update(loss="minimax", discriminator_steps=5, compare_generator_losses=True)
    if preset == "smoke":
        gan_smoke(config)
    elif preset == "full":
        config.update(steps=10000)
    return config
