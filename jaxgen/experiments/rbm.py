"""A Bernoulli RBM on dynamically binarized mnist5k, trained by persistent CD (Tieleman 2008),
its test NLL bracketed by AIS and RAISE (jaxgen/families/rbm/). `--config.objective.kind=cd`
and `--config.objective.gibbs_steps=25` give Salakhutdinov & Murray's CD-25."""

from jaxgen.families.rbm.config import rbm_config, rbm_smoke


def get_config(preset: str = "default"):
    config = rbm_config()
    if preset == "smoke":
        rbm_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=120000, eval_every=20000, checkpoint_every=20000)
    return config
