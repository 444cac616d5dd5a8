"""Class visualisation by activation maximisation: one image per class of jaxgen's feature
classifier, each maximising log p(class) under the regularisers of feature visualisation
(decorrelated Fourier parametrisation, jitter, random scale). The report gives every class's
probability under the optimised classifier and under an independently trained one (transfer),
against the highest probability any test image reaches.

Presets: `smoke` (seconds, the 8x8 digits), the default (mnist5k, 512 steps), `full` (2,048
steps, total variation). Any unit: --config.target_layer=conv2 --config.objective=activation."""

from jaxgen.families.reverse.config import visualisation_config, visualisation_smoke


def get_config(preset: str = "default"):
    config = visualisation_config()
    config.preset = preset
    if preset == "smoke":
        visualisation_smoke(config)
    elif preset == "full":
        config.update(steps=2048, tv_weight=1e-4, eval_every=512, checkpoint_every=512)
    return config
