"""pix2pix (Isola et al. 2017) as image completion on mnist5k: the input is a digit with its
bottom-right quadrant removed (`--config.completion.missing`: given1, given2, given3, bottom_half;
jaxgen/data/masks.py), the target the whole digit. U-Net generator with dropout as its noise,
PatchGAN discriminator on (input, output), GAN + 100 * L1, Adam 2e-4 (beta1 0.5), constant then
linear decay, batch norm: the reference recipe, with narrower networks by default so that it
trains in minutes on a CPU (`full`: base width 64 on full MNIST). The report gives L1 and PSNR
on the missing region, SSIM, the digit classifier's accuracy on completed and on masked test
digits, and the FID of the completions; `experiments/cvae_completion.py` scores the NN and CVAE
baselines the same way on the same data."""

from jaxgen.families.image_translation.config import translation_config, translation_smoke


def get_config(preset: str = "default"):
    config = translation_config("pix2pix", dataset="mnist5k", steps=2000, batch_size=16)
    config.paired.kind = "completion"
    config.completion.missing = "given3"
    config.model.update(generator_base=32, discriminator_base=32)
    if preset == "smoke":
        translation_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, batch_size=16)
        config.model.update(generator_base=64, discriminator_base=64)
    return config
