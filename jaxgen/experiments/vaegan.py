"""VAE-GAN (Larsen et al. 2016, "Autoencoding beyond pixels using a learned similarity metric")
on mnist5k: a conv encoder to q(z | x), the DCGAN generator as decoder, and a DCGAN
discriminator whose last conv layer's features give the reconstruction likelihood L_llike;
reconstructions and prior samples are both the discriminator's fakes; the decoder minimises
gamma * L_llike + the non-saturating GAN loss with gamma = 1e-2 (the reference code's
recon_vs_gan_weight); one Adam per player, 3e-4 (the reference's rate) with beta1 0.5 (DCGAN's).
The report gives FID, KID, precision/recall and the classifier score of prior samples, the
test reconstruction error and the sharpness ratio against real images. `default` trains in
about 6 minutes on a 2-core CPU; `full` is wider on full MNIST."""

from jaxgen.families.vaegan.config import vaegan_config, vaegan_smoke


def get_config(preset: str = "default"):
    # ~0.55 s a step on the 2-core CPU: 600 steps train in about 6 minutes.
    config = vaegan_config(
        dataset="mnist5k", steps=600, batch_size=64, eval_every=200, checkpoint_every=200
    )
    if preset == "smoke":
        vaegan_smoke(config)
    elif preset == "full":
        config.update(
            dataset="mnist",
            steps=20000,
            batch_size=128,
            eval_every=1000,
            checkpoint_every=1000,
            report_samples=10000,
        )
        config.model.update(
            latent_size=64,
            encoder_channels=(64, 128),
            decoder_channels=(256, 128, 64),
            discriminator_channels=(64, 128),
        )
    return config
