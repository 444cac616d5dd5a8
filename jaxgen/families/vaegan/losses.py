"""The VAE-GAN objectives (Larsen et al. 2016, "Autoencoding beyond pixels using a learned
similarity metric"), and the three players' gradients from one set of forward passes.

With x a real batch, z ~ q(z | x) (reparametrized), x~ = Dec(z) its reconstruction, z_p ~ N(0, I)
and x_p = Dec(z_p) a prior sample, D(x) = sigmoid(logit(x)) and Dis_l(x) the discriminator's
layer-l features (flattened, F numbers per example):

  L_prior   = KL(q(z | x) || N(0, I))                              (nats, summed over z)
  L_llike   = -log N(Dis_l(x); Dis_l(x~), I) - F/2 log(2 pi)
            = 0.5 * ||Dis_l(x) - Dis_l(x~)||^2                     (the constant dropped)
  L_GAN     = log D(x) + log(1 - D(x~)) + log(1 - D(x_p))          (reconstructions and prior
                                                                    samples are both fakes)

each a mean over the batch. The updates (Algorithm 1 of the paper):

  encoder        minimises L_prior + L_llike (no GAN gradient: the GAN's x~ is decoded from a
                 stopped z)
  decoder        minimises gamma * L_llike + adversarial_weight * L_G, with L_G the generator
                 side of L_GAN on x~ and x_p: "non_saturating" -log D(x~) - log D(x_p) (the
                 usual DCGAN form), or "minimax" log(1 - D(x~)) + log(1 - D(x_p)), which is the
                 reference code's (andersbll/autoencoding_beyond_pixels, vaegan.py: the
                 generator's gradient is vae_grad_scale * grad(recon) plus the gradient of
                 sum log(1 - D(fake)))
  discriminator  maximises L_GAN (minimises -L_GAN); gets no gradient from L_llike

gamma: the reference (model/aegan.py) weights the decoder's gradient w * grad(recon) +
(1 - w) * grad(GAN) with w = `recon_vs_gan_weight` (1e-2 by default, 1e-5 on CelebA; the paper
quotes gamma = 1e-6 for its own sums); both its terms are sums over the batch and its recon term
sums over the features, as here after dividing both by the batch size. Adam is invariant to a
constant scale of the gradient, so gamma = w / (1 - w) ~ w reproduces it; families/vaegan/config.py
takes gamma = 1e-2.

The equilibrium rule (reference `margin_train`): with the discriminator's costs
real_cost = mean -log D(x) and fake_cost = mean -log(1 - D(fake)) over the 2B fakes of the same
forward pass, and e = `equilibrium_value` (0.68314718, about log 2), m = `margin`:
  - the discriminator is not updated when real_cost < e - m or fake_cost < e - m (it wins);
  - the decoder's adversarial term is dropped when real_cost > e + m or fake_cost > e + m (the
    discriminator is losing: the reference skips the decoder's whole update there; here its
    L_llike term still trains it);
  - when both would be skipped, neither is.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.families.vae.losses import gaussian_kl

GENERATOR_LOSSES = ("non_saturating", "minimax")
EQUILIBRIUM = 0.68314718  # the reference's equilibrium cost, ~ log 2 (D = 1/2)


def check_objective(objective: ml_collections.ConfigDict) -> None:
    if objective.generator_loss not in GENERATOR_LOSSES:
        raise ValueError(
            f"unknown generator_loss {objective.generator_loss!r}; one of {GENERATOR_LOSSES}"
        )
    if objective.margin < 0:
        raise ValueError(f"objective.margin must be >= 0, got {objective.margin}")


def prior_loss(mean_BxZ: jax.Array, logvar_BxZ: jax.Array) -> jax.Array:
    """L_prior: the batch mean of KL(q(z | x) || N(0, I)), in nats."""
    return jnp.mean(gaussian_kl(mean_BxZ, logvar_BxZ))


def feature_nll(real_BxF: jax.Array, recon_BxF: jax.Array) -> jax.Array:
    """L_llike^Dis_l: the batch mean of -log N(Dis_l(x); Dis_l(x~), I) without its constant
    F/2 log(2 pi), i.e. 0.5 * the squared error summed over the features."""
    return jnp.mean(0.5 * jnp.sum(jnp.square(real_BxF - recon_BxF), axis=-1))


def gan_objective(real_logits, recon_logits, prior_logits) -> jax.Array:
    """L_GAN = mean log D(x) + mean log(1 - D(x~)) + mean log(1 - D(x_p)), with
    log D = -softplus(-l) and log(1 - D) = -softplus(l)."""
    return -(
        jnp.mean(jax.nn.softplus(-real_logits))
        + jnp.mean(jax.nn.softplus(recon_logits))
        + jnp.mean(jax.nn.softplus(prior_logits))
    )


def discriminator_loss(real_logits, recon_logits, prior_logits) -> jax.Array:
    """What the discriminator minimises: -L_GAN."""
    return -gan_objective(real_logits, recon_logits, prior_logits)


def decoder_adversarial_loss(kind: str, recon_logits, prior_logits) -> jax.Array:
    """L_G, the decoder's side of L_GAN on its two kinds of fakes (see the module docstring)."""
    if kind == "non_saturating":  # -log D(x~) - log D(x_p)
        return jnp.mean(jax.nn.softplus(-recon_logits)) + jnp.mean(jax.nn.softplus(-prior_logits))
    if kind == "minimax":  # log(1 - D(x~)) + log(1 - D(x_p))
        return -jnp.mean(jax.nn.softplus(recon_logits)) - jnp.mean(jax.nn.softplus(prior_logits))
    raise ValueError(f"unknown generator_loss {kind!r}; one of {GENERATOR_LOSSES}")


def equilibrium_costs(real_logits, recon_logits, prior_logits) -> tuple[jax.Array, jax.Array]:
    """(real_cost, fake_cost) = (mean -log D(x), mean -log(1 - D) over all 2B fakes)."""
    fake = jnp.concatenate([recon_logits, prior_logits])
    return jnp.mean(jax.nn.softplus(-real_logits)), jnp.mean(jax.nn.softplus(fake))


def equilibrium_gates(
    real_cost, fake_cost, equilibrium: float = EQUILIBRIUM, margin: float = 0.35
) -> tuple[jax.Array, jax.Array]:
    """(update the discriminator, keep the decoder's adversarial term): booleans of the
    equilibrium rule (module docstring)."""
    update_d = ~((real_cost < equilibrium - margin) | (fake_cost < equilibrium - margin))
    adversarial = ~((real_cost > equilibrium + margin) | (fake_cost > equilibrium + margin))
    neither = ~update_d & ~adversarial
    return update_d | neither, adversarial | neither


def make_player_gradients(encoder, decoder, discriminator, objective: ml_collections.ConfigDict):
    """Returns the pure `gradients(params, decoder_stats, x, key) -> (grads, decoder_stats,
    update_discriminator, metrics)`: each player's gradient of its own objective, all at the
    same (current) parameters, as the reference computes them in one pass before stepping.

    params and grads are {"encoder", "decoder", "discriminator"} (each player's flax params);
    decoder_stats are the decoder's batch-norm statistics (updated by its training-mode passes
    on x~ then x_p). `key` draws the reparametrization noise and z_p.
    """
    check_objective(objective)
    gamma = objective.gamma
    adversarial_weight = objective.adversarial_weight

    def decode(dec_params, stats, z):
        x, updates = decoder.apply(
            {"params": dec_params, "batch_stats": stats},
            z,
            None,
            train=True,
            mutable=["batch_stats"],
        )
        return x, updates["batch_stats"]

    def discriminate(dis_params, x):
        return discriminator.apply({"params": dis_params}, x)

    def encoder_objective(enc_params, dec_params, stats, dis_params, x, eps):
        mean, logvar = encoder.apply({"params": enc_params}, x)
        z = mean + jnp.exp(0.5 * logvar) * eps
        x_rec, _ = decode(dec_params, stats, z)
        _, features = discriminate(dis_params, jnp.concatenate([x, x_rec]))
        f_real, f_rec = jnp.split(features, 2)
        prior, llike = prior_loss(mean, logvar), feature_nll(f_real, f_rec)
        return prior + llike, {"prior": prior, "llike": llike, "z": z}

    def decoder_terms(dec_params, stats, dis_params, x, z, z_p):
        # z is a constant here: no GAN (or decoder-side) gradient reaches the encoder.
        x_rec, stats = decode(dec_params, stats, z)
        x_p, stats = decode(dec_params, stats, z_p)
        logits, features = discriminate(dis_params, jnp.concatenate([x, x_rec, x_p]))
        f_real, f_rec, _ = jnp.split(features, 3)
        l_real, l_rec, l_p = jnp.split(logits, 3)
        terms = jnp.stack(
            [
                feature_nll(f_real, f_rec),
                decoder_adversarial_loss(objective.generator_loss, l_rec, l_p),
            ]
        )
        return terms, (stats, x_rec, x_p, (l_real, l_rec, l_p))

    def gradients(params, stats, x, key):
        eps_key, prior_key = jax.random.split(key)
        b = x.shape[0]
        eps = jax.random.normal(eps_key, (b, encoder.latent_size))
        z_p = jax.random.normal(prior_key, (b, encoder.latent_size))
        (enc_value, enc_aux), enc_grads = jax.value_and_grad(encoder_objective, has_aux=True)(
            params["encoder"], params["decoder"], stats, params["discriminator"], x, eps
        )
        z = jax.lax.stop_gradient(enc_aux["z"])
        terms, pullback, (new_stats, x_rec, x_p, logits) = jax.vjp(
            lambda p: decoder_terms(p, stats, params["discriminator"], x, z, z_p),
            params["decoder"],
            has_aux=True,
        )
        real_cost, fake_cost = equilibrium_costs(*logits)
        if objective.equilibrium:
            update_d, adversarial = equilibrium_gates(
                real_cost, fake_cost, objective.equilibrium_value, objective.margin
            )
        else:
            update_d, adversarial = jnp.asarray(True), jnp.asarray(True)
        adv = jnp.where(adversarial, adversarial_weight, 0.0)
        (dec_grads,) = pullback(jnp.stack([jnp.asarray(gamma, terms.dtype), adv]))
        fakes = jax.lax.stop_gradient(jnp.concatenate([x_rec, x_p]))

        def dis_objective(dis_params):
            out, _ = discriminate(dis_params, jnp.concatenate([x, fakes]))
            return discriminator_loss(*jnp.split(out, 3))

        dis_value, dis_grads = jax.value_and_grad(dis_objective)(params["discriminator"])
        l_real, l_rec, l_p = logits
        metrics = {
            "loss": enc_value,
            "prior_nats": enc_aux["prior"],
            "llike": enc_aux["llike"],
            "decoder_adversarial": terms[1],
            "discriminator_loss": dis_value,
            "real_cost": real_cost,
            "fake_cost": fake_cost,
            "d_real": jnp.mean(jax.nn.sigmoid(l_real)),
            "d_recon": jnp.mean(jax.nn.sigmoid(l_rec)),
            "d_fake": jnp.mean(jax.nn.sigmoid(l_p)),
            "discriminator_updated": update_d.astype(jnp.float32),
            "decoder_adversarial_on": adversarial.astype(jnp.float32),
        }
        grads = {"encoder": enc_grads, "decoder": dec_grads, "discriminator": dis_grads}
        return grads, new_stats, update_d, metrics

    return gradients
