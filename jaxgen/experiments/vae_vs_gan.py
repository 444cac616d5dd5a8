"""VAE, VAE-GAN, DCGAN and BiGAN side by side on mnist5k, for one step budget of batch 64: each
trained by its own experiment's recipe (experiments/conv_vae.py with the Bernoulli likelihood on
grey digits, vaegan.py, dcgan.py, bigan.py), then scored by the same code: FID, KID,
precision/recall and the classifier score of 2,000 prior samples, their sharpness against the
real images', the test reconstruction error of the models with an encoder and the test NLL of
the one with a likelihood; one table, a sample grid per model, and the report's verdict on the
textbook claims (VAEs blurry, GANs sharp; the discriminator sharpens; VAE + GAN the better of
both; a GAN with an encoder reconstructs). `default` trains in about 10 minutes on a 2-core CPU."""

from jaxgen.families.comparison.config import comparison_config
from jaxgen.train.base_config import sibling_experiment

MEMBERS = {"vae": "conv_vae", "vaegan": "vaegan", "dcgan": "dcgan", "bigan": "bigan"}


def get_config(preset: str = "default"):
    members = {
        name: sibling_experiment(__file__, experiment).get_config(preset)
        for name, experiment in MEMBERS.items()
    }
    # The VAE's likelihood "auto": Bernoulli on dynamically binarized grey digits (a test NLL in
    # nats comparable with the literature's, E[x | z] on the grey scale the others draw on), the
    # discretized logistic on colour images.
    members["vae"].objective.update(likelihood="auto", binarize="auto")
    config = comparison_config(
        members,
        dataset="mnist5k",
        steps=1500,
        batch_size=64,
        eval_every=250,
        checkpoint_every=250,
        log_every=20,
        report_samples=2000,
        eval_samples=1000,
        claims="vae_vs_gan",
    )
    if preset == "smoke":
        config.update(
            dataset="digits",
            steps=10,
            batch_size=32,
            eval_every=5,
            checkpoint_every=5,
            log_every=5,
            report_samples=200,
            eval_samples=100,
        )
    elif preset == "full":
        config.update(
            dataset="mnist",
            steps=20000,
            batch_size=128,
            eval_every=2000,
            checkpoint_every=2000,
            report_samples=10000,
        )
    return config
