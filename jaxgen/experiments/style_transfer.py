"""Neural style transfer (Gatys, Ecker & Bethge 2016) with the TensorFlow tutorial's recipe:
1,000 Adam steps on the pixels of the content image, clipped to [0, 1], the loss a weighted sum
of the style loss (Gram matrices), the content loss and total variation. Offline by default,
in a random multi-scale network (Ustyuzhaninov et al. 2016), measured in another seed of it.

Presets: `smoke` (seconds), the default (scikit-image's `chelsea` in the style of `coffee`,
256 pixels), `full` (the tutorial exactly: VGG19 from Keras's weights file, 512 pixels; pass the
file with --config.weights=PATH)."""

from jaxgen.families.reverse.config import style_config, style_smoke, vgg19_style


def get_config(preset: str = "default"):
    config = style_config()
    config.preset = preset
    if preset == "smoke":
        style_smoke(config)
    elif preset == "full":
        vgg19_style(config)
    return config
