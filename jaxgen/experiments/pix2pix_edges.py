"""pix2pix edges to digit on mnist5k: the input is the digit's Canny edges (scikit-image,
sigma `--config.paired.edge_sigma`), the target the digit; the recipe of
experiments/pix2pix_completion.py. The report gives L1, PSNR and SSIM of the outputs, and the
digit classifier's accuracy on them and on the edge images themselves."""

from jaxgen.families.image_translation.config import translation_config, translation_smoke


def get_config(preset: str = "default"):
    config = translation_config("pix2pix", dataset="mnist5k", steps=2000, batch_size=16)
    config.paired.kind = "edges"
    config.model.update(generator_base=32, discriminator_base=32)
    if preset == "smoke":
        translation_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=20000)
        config.model.update(generator_base=64, discriminator_base=64)
    return config
