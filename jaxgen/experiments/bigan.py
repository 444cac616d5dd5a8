"""BiGAN (Donahue et al. 2017) on mnist5k: a conv encoder E(x) -> z (the DCGAN discriminator's
trunk), the DCGAN generator G(z) -> x, and a discriminator D(x, z) on joint pairs (conv features
of x, MLP features of z, an MLP with dropout to one logit); a discriminator update then a joint
E+G update per step with the non-saturating objective, Adam 2e-4 with beta1 0.5. The report gives
the FID of samples and of reconstructions G(E(x)), the feature classifier's label agreement of x
and G(E(x)), and linear probes on E's codes against PCA codes of the same size and raw pixels.
The default preset halves the DCGAN widths so that it trains in minutes on a CPU; `full` is the
classic size on full MNIST. `--config.model.stochastic_encoder=true` gives ALI's encoder."""

from jaxgen.families.bigan.config import bigan_config, bigan_smoke


def get_config(preset: str = "default"):
    config = bigan_config(dataset="mnist5k", steps=1500, eval_every=250, checkpoint_every=250)
    config.model.update(
        encoder_channels=(32, 64),
        generator_channels=(128, 64, 32),
        discriminator_channels=(32, 64),
        discriminator_z_hidden=(128,),
        discriminator_joint_hidden=(256,),
    )
    if preset == "smoke":
        bigan_smoke(config)
    elif preset == "full":
        config.update(
            dataset="mnist",
            steps=20000,
            batch_size=128,
            eval_every=1000,
            checkpoint_every=1000,
            report_samples=10000,
            probe_train_examples=10000,
        )
        config.model.update(
            encoder_channels=(64, 128),
            generator_channels=(256, 128, 64),
            discriminator_channels=(64, 128),
            discriminator_z_hidden=(256,),
            discriminator_joint_hidden=(512,),
        )
    return config
