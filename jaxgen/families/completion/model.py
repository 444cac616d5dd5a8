"""The image-completion baselines of the Pyro CVAE tutorial (pyro-ppl/pyro, examples/cvae):
a regression network ("NN") and the conditional VAE of Sohn et al. (2015) built on top of it.

The task: some pixels of an image are given, the rest are missing and must be predicted
(jaxgen/data/masks.py says which). Images are flattened to (N, D), D = H * W * C, pixels in
[0, 1]. The model input x is the image with its missing pixels set to MISSING (-1, Pyro's
`mask_with`); the target y is the whole image, of which only the missing pixels are scored
(jaxgen/families/completion/losses.py). Every network is Pyro's MLP: ReLU hidden layers of `hidden`
units (Pyro: 500, 500) and a linear output layer.

The CVAE has three networks (Pyro's CVAE, z of `latent_size` = 200 units):

    prior network        p(z | x)     sees x with its missing pixels filled by y_hat, the
                                      trained baseline's guess sigmoid(BaselineNet(x))
    recognition network  q(z | x, y)  sees x with its missing pixels filled by the target y,
                                      i.e. the whole image (Pyro passes it no y_hat)
    generation network   p(y | x, z)  Bernoulli logits of all D pixels from z alone, as in
                                      Pyro (x reaches y only through the prior); set
                                      `generation_sees_x` to append x to z as well

Both Gaussians are diagonal and returned as (mean, logvar); Pyro's encoders output log sigma
(scale = exp(fc32)), the same family with the head's output scaled by 2.

The baseline is not a submodule: it is trained first, and its frozen prediction y_hat is an
argument of `prior` (compute it with `baseline_guess`, which stops its gradient). This is
Pyro's design, in which `torch.no_grad()` keeps the CVAE's training off the baseline, without
an optimizer mask over a subtree of the CVAE's parameters, and it keeps the CVAE's parameters
(and checkpoints) separate from the baseline's.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

MISSING = -1.0  # the value of a missing pixel in the model input (Pyro's mask_with=-1)


def masked_input(image_NxD: jax.Array, missing_D: jax.Array) -> jax.Array:
    """The model input x: the image with its missing pixels (True in `missing_D`, (D,) or
    (N, D)) set to MISSING."""
    return jnp.where(missing_D, jnp.asarray(MISSING, image_NxD.dtype), image_NxD)


def fill_missing(x_NxD: jax.Array, fill_NxD: jax.Array) -> jax.Array:
    """x with its missing pixels replaced by those of `fill` (Pyro's `xc[x == -1] = y[x == -1]`).

    A pixel counts as missing where x < 0: the given ones are in [0, 1]. The given pixels of
    `fill` are never read, so a target with -1 there (Pyro's "output") works as well.
    """
    return jnp.where(x_NxD < 0, fill_NxD, x_NxD)


class MLP(nn.Module):
    """Dense layers of `hidden` units with ReLU, then a linear layer of `out_dim` units."""

    out_dim: int
    hidden: tuple[int, ...] = (500, 500)

    @nn.compact
    def __call__(self, h_NxI: jax.Array) -> jax.Array:
        for i, units in enumerate(self.hidden):
            h_NxI = nn.relu(nn.Dense(units, name=f"hidden_{i}")(h_NxI))
        return nn.Dense(self.out_dim, name="out")(h_NxI)


class BaselineNet(nn.Module):
    """Pyro's BaselineNet, "the NN": a plain regression network from x (missing pixels at
    MISSING) to the Bernoulli logits of all D pixels (Pyro returns their sigmoid). Trained with
    `masked_bce`, which scores only the missing pixels."""

    out_dim: int
    hidden: tuple[int, ...] = (500, 500)

    @nn.compact
    def __call__(self, x_NxD: jax.Array) -> jax.Array:
        return MLP(self.out_dim, self.hidden, name="mlp")(x_NxD)


def baseline_guess(baseline: BaselineNet, baseline_params, x_NxD: jax.Array) -> jax.Array:
    """y_hat = sigmoid(baseline(x)), (N, D) pixel probabilities, with its gradient stopped: the
    trained baseline's frozen guess that the CVAE's prior network sees (Pyro computes it under
    torch.no_grad())."""
    return jax.lax.stop_gradient(nn.sigmoid(baseline.apply(baseline_params, x_NxD)))


class GaussianEncoder(nn.Module):
    """Pyro's Encoder after its fill step: an MLP with two linear heads, (mean, logvar) of a
    diagonal Gaussian, each (N, latent_size)."""

    latent_size: int
    hidden: tuple[int, ...] = (500, 500)

    @nn.compact
    def __call__(self, h_NxD: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = MLP(2 * self.latent_size, self.hidden, name="mlp")(h_NxD)
        mean, logvar = jnp.split(out, 2, axis=-1)
        return mean, logvar


class CompletionCVAE(nn.Module):
    """The conditional VAE of Sohn et al. (2015) as in the Pyro tutorial; see the module
    docstring. `init` it through `__call__(x, y, y_hat)`, which runs all three networks."""

    out_dim: int
    latent_size: int = 200
    hidden: tuple[int, ...] = (500, 500)
    generation_sees_x: bool = False  # Pyro: False, the generation network sees z only

    def setup(self):
        self.prior_net = GaussianEncoder(self.latent_size, self.hidden)
        self.recognition_net = GaussianEncoder(self.latent_size, self.hidden)
        self.generation_net = MLP(self.out_dim, self.hidden)

    def prior(self, x_NxD: jax.Array, y_hat_NxD: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(mean, logvar) of p(z | x), from x with its missing pixels filled by the baseline's
        guess y_hat (its given pixels are not read)."""
        return self.prior_net(fill_missing(x_NxD, y_hat_NxD))

    def recognize(self, x_NxD: jax.Array, y_NxD: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(mean, logvar) of q(z | x, y), from x with its missing pixels filled by the target y:
        the whole image (the given pixels of y are not read)."""
        return self.recognition_net(fill_missing(x_NxD, y_NxD))

    def generate(self, z_NxZ: jax.Array, x_NxD: jax.Array | None = None) -> jax.Array:
        """Bernoulli logits (N, D) of p(y | x, z); x is read only when `generation_sees_x`."""
        if self.generation_sees_x:
            if x_NxD is None:
                raise ValueError("generation_sees_x: generate needs x")
            z_NxZ = jnp.concatenate([z_NxZ, x_NxD], axis=-1)
        return self.generation_net(z_NxZ)

    def __call__(self, x_NxD: jax.Array, y_NxD: jax.Array, y_hat_NxD: jax.Array) -> jax.Array:
        """Initialises every parameter: the logits of y decoded from the mean of q(z | x, y)."""
        self.prior(x_NxD, y_hat_NxD)
        mean, _ = self.recognize(x_NxD, y_NxD)
        return self.generate(mean, x_NxD)
