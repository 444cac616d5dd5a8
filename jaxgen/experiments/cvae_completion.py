"""The image-completion baselines of the Pyro CVAE tutorial (pyro.ai/examples/cvae.html) on
mnist5k: for 1, 2 and 3 quadrants given, a regression network ("NN", masked binary cross-entropy
on the missing pixels) and the conditional VAE of Sohn et al. (2015) whose prior network sees the
NN's guess, both with Pyro's sizes (ReLU MLPs of 500-500, 200 latent units), Adam 1e-3, batch
128. The six models train side by side (the NN's guess reaches the CVAE through stop_gradient,
instead of Pyro's pretrain-then-freeze). The report gives the conditional NLLs of the binarized
missing test pixels (NN; CVAE importance-sampled with K = 100; CVAE 10-particle negative ELBO,
what Pyro's table computes) beside Pyro's table, and scores the completions of the missing
bottom-right quadrant (`--config.completion.missing`) as experiments/pix2pix_completion.py is
scored: L1 and PSNR on the missing region, SSIM, the digit classifier's accuracy, FID. `full`:
full MNIST, Pyro's data."""

from jaxgen.families.completion.config import completion_config, completion_smoke


def get_config(preset: str = "default"):
    config = completion_config(dataset="mnist5k", steps=2000)
    config.model.update(hidden=(500, 500), latent_size=200)
    if preset == "smoke":
        completion_smoke(config)
    elif preset == "full":
        config.update(dataset="mnist", steps=20000, eval_every=2000, checkpoint_every=2000)
    return config
