"""DCGAN (Radford et al. 2016) on mnist5k: the TensorFlow tutorial's players (dense to 7x7x256,
5x5 transposed convolutions to 128, 64, 1 with batch norm and leaky ReLU, tanh; discriminator of
strided 5x5 convolutions 64, 128 and a dense logit), the non-saturating loss, Adam 2e-4 with
beta1 0.5, and a weight average of the generator for evaluation. The default preset halves every
width so that it trains in minutes on a CPU; `full` is the classic size. The report gives FID,
KID, the classifier score and precision/recall against their real-data floor, and keeps the
checkpoint with the best FID next to the newest."""

from jaxgen.tasks.gan import dcgan_config


def get_config(preset: str = "default"):
    return dcgan_config(preset)
