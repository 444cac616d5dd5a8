"""Texture synthesis (Gatys, Ecker & Bethge 2015): the style loss alone, from uniform noise, at
the exemplar's size; 1,000 Adam steps with the TensorFlow style-transfer tutorial's settings.

Ustyuzhaninov et al. (2016) found that one layer of random multi-scale filters synthesises
textures that compete with VGG's. The default repeats their comparison offline on scikit-image's
gray textures (`gravel`, `brick`, `grass`): the texture is made in the random network and its
style loss is also measured in jaxgen's trained feature classifier of mnist5k, which never saw
it; `--config.network=classifier --config.check_network=random_multiscale` makes it the other
way round, `--config.network=vgg19 --config.weights=PATH` in VGG19.

Presets: `smoke` (seconds), the default (`gravel`, 128 pixels, gray), `full` (VGG19 from
Keras's file, RGB, 256 pixels, measured in the random network)."""

from jaxgen.families.reverse.config import style_config, style_smoke, vgg19_style


def get_config(preset: str = "default"):
    config = style_config(texture=True)
    config.preset = preset
    if preset == "smoke":
        style_smoke(config)
    elif preset == "full":
        vgg19_style(config)
        config.update(image_size=256, channels=3, check_network="random_multiscale")
    return config
