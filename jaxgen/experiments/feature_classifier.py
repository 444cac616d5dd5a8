"""The feature classifier behind FID, KID and the classifier score, trained on its own: a small
CNN (nn/classifier.py) on the train split's labels, Adam 1e-3 with a cosine decay, random
shifts. The GAN reports train and cache the same recipe by themselves on first use; run this to
look at its report, or to prepare it before a multi-process run (`--config.dataset=mnist`)."""

from jaxgen.families.classifier.config import classifier_config, classifier_smoke


def get_config(preset: str = "default"):
    config = classifier_config("mnist5k")
    if preset == "smoke":
        classifier_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=5000, batch_size=128)
    return config
