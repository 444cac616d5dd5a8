"""DCGAN (Radford et al. 2016) on mnist5k: the TensorFlow tutorial's players (dense to 7x7x256,
5x5 transposed convolutions to 128, 64, 1 with batch norm and leaky ReLU, tanh; discriminator of
strided 5x5 convolutions 64, 128 and a dense logit), the non-saturating loss, Adam 2e-4 with
beta1 0.5, and a weight average of the generator for evaluation. The default preset halves every
width so that it trains in minutes on a CPU; `full` is the classic size on full MNIST (3.5 min
per 1,000 steps on a 2-core AVX-512 CPU with oneDNN's convolutions, 10 min on an AVX2 one);
`cpu` is the default's widths on full MNIST, 10,000 steps of batch 64 (14 min
there on Fashion-MNIST: `--config.dataset=fashion_mnist` offline). The report
gives FID, KID, the classifier score and precision/recall against their real-data floor; the
checkpoint with the best validation FID is kept next to the newest."""

from jaxgen.families.gan.config import gan_config, gan_smoke


def get_config(preset: str = "default"):
    config = gan_config(
        "dcgan",
        dataset="mnist5k",
        steps=1500,
        batch_size=64,
        generator_learning_rate=2e-4,
        discriminator_learning_rate=2e-4,
        eval_every=250,
        checkpoint_every=250,
        report_samples=4000,
        eval_samples=1000,
    )
    config.model.update(generator_channels=(128, 64, 32), discriminator_channels=(32, 64))
    config.objective.update(loss="non_saturating", average_decay=0.999)
    if preset == "smoke":
        gan_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, batch_size=128, report_samples=10000)
        config.model.update(generator_channels=(256, 128, 64), discriminator_channels=(64, 128))
    elif preset == "cpu":  # the full data at the default's widths and batch, in under an hour
        config.update(
            dataset="mnist",
            steps=10000,
            eval_every=1000,
            checkpoint_every=1000,
            report_samples=10000,
        )
    return config
