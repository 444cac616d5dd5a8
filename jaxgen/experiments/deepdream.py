"""DeepDream (Mordvintsev et al. 2015) with the TensorFlow tutorial's protocol: octaves of
growing size, gradient ascent on the mean activation of chosen layers with the gradient
normalised by its standard deviation, random rolls. The report gives the objective at the start
and end of every octave and the image's distance from where it started.

Presets: `smoke` (seconds), the default (the conv2 maps of jaxgen's mnist5k feature classifier on
scikit-image's `camera`, 256 pixels, 5 octaves of 50 steps), `full` (VGG19 from Keras's file:
--config.weights=PATH; block4_conv2 and block5_conv2, 512 pixels)."""

from jaxgen.families.reverse.config import dream_config, dream_smoke


def get_config(preset: str = "default"):
    config = dream_config()
    config.preset = preset
    if preset == "smoke":
        dream_smoke(config)
    elif preset == "full":
        # The tutorial's step (0.01 on pixels in [-1, 1]).
        config.update(network="vgg19", image_size=512, start_image="astronaut", step_size=0.005)
    return config
