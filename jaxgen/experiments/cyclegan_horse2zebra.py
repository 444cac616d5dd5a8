"""CycleGAN on TFDS `cycle_gan/horse2zebra` (prepare it once with `tfds build
cycle_gan/horse2zebra --file_format=array_record`; any `cycle_gan/*` config works, or two image
folders as --config.dataset= --config.domain_a=DIR --config.domain_b=DIR). `full` is the
reference: 256x256, 9-block ResNet generators, 70x70 PatchGAN, batch 1, 200 epochs of the 1,067
horses (100 constant, 100 decaying). The default runs at 64x64 with narrower networks. FID of each
direction is measured in the features of a jaxgen classifier trained to tell the two domains
apart (the set's labels), with the fraction of translations it puts in the target domain."""

from jaxgen.families.image_translation.config import translation_config, translation_smoke


def get_config(preset: str = "default"):
    config = translation_config(
        "cyclegan", dataset="cycle_gan/horse2zebra", steps=5000, batch_size=4
    )
    config.preprocess.image_size = 64
    config.model.update(generator_base=32, discriminator_base=32)
    if preset == "smoke":
        translation_smoke(config)
    elif preset == "full":
        config.update(steps=200 * 1067, batch_size=1, eval_every=5000, checkpoint_every=5000)
        config.preprocess.image_size = 256
        config.model.update(generator_base=64, discriminator_base=64)
    return config
