"""CycleGAN (Zhu et al. 2017) between two digit domains with no pairs: A = mnist5k (28x28 MNIST
digits) and B = scikit-learn's 8x8 `digits` upsampled to 28x28 (other writers, another
resolution, 17 grey levels). ResNet generators, PatchGAN discriminators, instance norm, LSGAN
loss, cycle L1 with lambda 10 each way, identity 0.5 * lambda, a pool of 50 generated images per
discriminator, Adam 2e-4 (beta1 0.5), constant then linear decay: the reference recipe, with
narrower networks so that it trains in minutes on a CPU. The labels are never trained on: the
report scores label preservation with each target domain's digit classifier, against the
no-translation baseline, plus FID in the target domain and the cycle error, both ways."""

from jaxgen.families.image_translation.config import translation_config, translation_smoke


def get_config(preset: str = "default"):
    config = translation_config(
        "cyclegan", dataset="", domain_a="mnist5k", domain_b="digits", steps=2000, batch_size=8
    )
    config.preprocess.image_size = 28
    config.model.update(generator_base=16, discriminator_base=16)
    if preset == "smoke":
        translation_smoke(config)
    elif preset == "full":
        config.update(domain_a="mnist", steps=20000)
        config.model.update(generator_base=64, discriminator_base=64)
    return config
