"""A deep belief network on mnist5k (Hinton, Osindero & Teh 2006; jaxgen/families/dbn/): three
RBMs of 500, 500 and 2,000 hidden units trained greedily, the top one joined to the 10 labels;
generation clamped to a class or free; classification by the top RBM's free energy, then
fine-tuned, beside the same network fine-tuned from random initialisation. With
`--config.seeds=0,1,2` the report gives the verdict on "pretraining helps" over the seeds."""

from jaxgen.families.dbn.config import dbn_config, dbn_smoke


def get_config(preset: str = "default"):
    config = dbn_config()
    if preset == "smoke":
        dbn_smoke(config)
    elif preset == "full":  # full MNIST, Hinton et al.'s 784-500-500-2000
        config.update(dataset="mnist", steps=150000, eval_every=10000, checkpoint_every=10000)
        config.pretrain.steps = (30000, 30000, 30000)
    return config
