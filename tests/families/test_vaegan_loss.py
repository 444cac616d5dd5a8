"""VAE-GAN losses against NumPy re-derivations, the players' gradients against the objectives
each player is meant to follow (no GAN gradient in the encoder), and the equilibrium rule."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.vaegan.config import vaegan_model_config, vaegan_objective_config
from jaxgen.families.vaegan.losses import (
    EQUILIBRIUM,
    decoder_adversarial_loss,
    discriminator_loss,
    equilibrium_costs,
    equilibrium_gates,
    feature_nll,
    gan_objective,
    make_player_gradients,
    prior_loss,
)
from jaxgen.families.vaegan.model import build_vaegan

RNG = np.random.default_rng(0)


def _log_d(logits):
    return np.log(1.0 / (1.0 + np.exp(-logits.astype(np.float64))))


def _log_1md(logits):
    return np.log(1.0 - 1.0 / (1.0 + np.exp(-logits.astype(np.float64))))


def test_prior_loss_is_the_gaussian_kl():
    mean, logvar = RNG.normal(size=(2, 16, 5)).astype(np.float32)
    var = np.exp(logvar.astype(np.float64))
    # KL(N(m, s^2) || N(0, 1)) = log(1/s) + (s^2 + m^2)/2 - 1/2 per dimension.
    expected = np.mean(np.sum(-0.5 * logvar + 0.5 * (var + mean**2) - 0.5, axis=1))
    assert float(prior_loss(jnp.asarray(mean), jnp.asarray(logvar))) == pytest.approx(
        expected, rel=1e-5
    )


def test_feature_nll_is_the_unit_gaussian_nll_without_its_constant():
    real, recon = RNG.normal(size=(2, 8, 30)).astype(np.float32)
    f = real.shape[1]
    log_density = -0.5 * np.sum((real - recon) ** 2, axis=1) - 0.5 * f * np.log(2 * np.pi)
    expected = np.mean(-log_density - 0.5 * f * np.log(2 * np.pi))
    assert float(feature_nll(jnp.asarray(real), jnp.asarray(recon))) == pytest.approx(
        expected, rel=1e-5
    )


def test_gan_terms_match_their_definitions():
    real, recon, prior = RNG.normal(size=(3, 32)).astype(np.float32)
    real, recon, prior = real + 1, recon - 1, prior - 0.5
    l_gan = np.mean(_log_d(real)) + np.mean(_log_1md(recon)) + np.mean(_log_1md(prior))
    args = jnp.asarray(real), jnp.asarray(recon), jnp.asarray(prior)
    assert float(gan_objective(*args)) == pytest.approx(l_gan, rel=1e-5)
    assert float(discriminator_loss(*args)) == pytest.approx(-l_gan, rel=1e-5)
    non_sat = -np.mean(_log_d(recon)) - np.mean(_log_d(prior))
    minimax = np.mean(_log_1md(recon)) + np.mean(_log_1md(prior))
    got = decoder_adversarial_loss("non_saturating", args[1], args[2])
    assert float(got) == pytest.approx(non_sat, rel=1e-5)
    got = decoder_adversarial_loss("minimax", args[1], args[2])
    assert float(got) == pytest.approx(minimax, rel=1e-5)
    real_cost, fake_cost = equilibrium_costs(*args)
    assert float(real_cost) == pytest.approx(-np.mean(_log_d(real)), rel=1e-5)
    fakes = np.concatenate([recon, prior])
    assert float(fake_cost) == pytest.approx(-np.mean(_log_1md(fakes)), rel=1e-5)
    with pytest.raises(ValueError):
        decoder_adversarial_loss("hinge", args[1], args[2])


@pytest.mark.parametrize(
    "real_cost, fake_cost, update_d, adversarial",
    [
        (0.68, 0.70, True, True),  # inside the band: both train
        (0.30, 0.70, False, True),  # D wins on real images: skip D
        (0.68, 0.20, False, True),  # D wins on fakes: skip D
        (1.10, 0.70, True, False),  # D loses on real images: no adversarial term
        (0.68, 1.20, True, False),  # D loses on fakes: no adversarial term
        (0.20, 1.30, True, True),  # both skipped -> neither is
    ],
)
def test_equilibrium_rule(real_cost, fake_cost, update_d, adversarial):
    got = equilibrium_gates(jnp.asarray(real_cost), jnp.asarray(fake_cost), EQUILIBRIUM, 0.35)
    assert (bool(got[0]), bool(got[1])) == (update_d, adversarial)


# ---- the players' gradients on tiny networks ---------------------------------------------


def _setup(**objective):
    model = vaegan_model_config(
        latent_size=3, encoder_channels=(4,), decoder_channels=(6, 4), discriminator_channels=(4,)
    )
    nets = build_vaegan(model, (8, 8, 1))
    encoder, decoder, discriminator = nets
    keys = jax.random.split(jax.random.key(0), 3)
    x = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, size=(6, 8, 8, 1)), jnp.float32)
    dec_vars = decoder.init(keys[1], jnp.zeros((2, 3)), None, train=False)
    params = {
        "encoder": encoder.init(keys[0], x)["params"],
        "decoder": dec_vars["params"],
        "discriminator": discriminator.init(keys[2], x)["params"],
    }
    gradients = make_player_gradients(*nets, vaegan_objective_config(**objective))
    return nets, params, dec_vars["batch_stats"], x, gradients


def _direct(nets, params, stats, x, key, gamma, weight, kind="non_saturating"):
    """Each player's objective written out again, and its gradient by jax.grad."""
    encoder, decoder, discriminator = nets
    eps_key, prior_key = jax.random.split(key)
    eps = jax.random.normal(eps_key, (x.shape[0], 3))
    z_p = jax.random.normal(prior_key, (x.shape[0], 3))

    def dec(p, z, s):
        out, upd = decoder.apply(
            {"params": p, "batch_stats": s}, z, None, train=True, mutable=["batch_stats"]
        )
        return out, upd["batch_stats"]

    def code(enc_p):
        mean, logvar = encoder.apply({"params": enc_p}, x)
        return mean, logvar, mean + jnp.exp(0.5 * logvar) * eps

    def llike(dec_p, dis_p, z):
        x_rec, _ = dec(dec_p, z, stats)
        _, f_real = discriminator.apply({"params": dis_p}, x)
        _, f_rec = discriminator.apply({"params": dis_p}, x_rec)
        return jnp.mean(0.5 * jnp.sum((f_real - f_rec) ** 2, axis=1))

    def enc_obj(enc_p):
        mean, logvar, z = code(enc_p)
        kl = 0.5 * jnp.sum(jnp.exp(logvar) + mean**2 - 1 - logvar, axis=1)
        return jnp.mean(kl) + llike(params["decoder"], params["discriminator"], z)

    z = jax.lax.stop_gradient(code(params["encoder"])[2])

    def fakes(dec_p):
        x_rec, s = dec(dec_p, z, stats)
        return x_rec, dec(dec_p, z_p, s)[0]

    def dec_obj(dec_p):
        x_rec, x_p = fakes(dec_p)
        l_rec = discriminator.apply({"params": params["discriminator"]}, x_rec)[0]
        l_p = discriminator.apply({"params": params["discriminator"]}, x_p)[0]
        adv = decoder_adversarial_loss(kind, l_rec, l_p)
        return gamma * llike(dec_p, params["discriminator"], z) + weight * adv

    def dis_obj(dis_p):
        x_rec, x_p = jax.lax.stop_gradient(fakes(params["decoder"]))
        logit = lambda v: discriminator.apply({"params": dis_p}, v)[0]  # noqa: E731
        return -gan_objective(logit(x), logit(x_rec), logit(x_p))

    return {
        "encoder": jax.grad(enc_obj)(params["encoder"]),
        "decoder": jax.grad(dec_obj)(params["decoder"]),
        "discriminator": jax.grad(dis_obj)(params["discriminator"]),
    }


def _close(a, b):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(u, v, rtol=2e-4, atol=1e-6)


def test_each_player_follows_its_own_objective():
    nets, params, stats, x, gradients = _setup(gamma=0.1, adversarial_weight=1.0)
    key = jax.random.key(7)
    grads, _, update_d, metrics = gradients(params, stats, x, key)
    _close(grads, _direct(nets, params, stats, x, key, gamma=0.1, weight=1.0))
    assert bool(update_d) and float(metrics["decoder_adversarial_on"]) == 1.0


def test_encoder_gets_no_gan_gradient():
    key = jax.random.key(3)
    runs = {}
    for weight in (0.0, 1.0, 30.0):
        nets, params, stats, x, gradients = _setup(gamma=0.5, adversarial_weight=weight)
        runs[weight] = gradients(params, stats, x, key)[0]
    # The encoder's gradient is the same whatever the GAN term weighs; the decoder's is not.
    _close(runs[0.0]["encoder"], runs[1.0]["encoder"])
    _close(runs[0.0]["encoder"], runs[30.0]["encoder"])
    diff = jax.tree.map(
        lambda a, b: jnp.max(jnp.abs(a - b)), runs[0.0]["decoder"], runs[1.0]["decoder"]
    )
    assert max(float(d) for d in jax.tree.leaves(diff)) > 1e-4
    # ... and it is exactly the gradient of L_prior + L_llike.
    direct = _direct(nets, params, stats, x, key, gamma=0.5, weight=0.0)
    _close(runs[30.0]["encoder"], direct["encoder"])


def test_equilibrium_rule_drops_the_adversarial_term_in_the_step():
    # An equilibrium far below any cost: the discriminator "loses", so only gamma * L_llike
    # trains the decoder, and the discriminator still updates.
    nets, params, stats, x, gradients = _setup(
        gamma=0.2, equilibrium=True, equilibrium_value=-10.0, margin=0.35
    )
    key = jax.random.key(5)
    grads, _, update_d, metrics = gradients(params, stats, x, key)
    assert bool(update_d) and float(metrics["decoder_adversarial_on"]) == 0.0
    _close(grads["decoder"], _direct(nets, params, stats, x, key, gamma=0.2, weight=0.0)["decoder"])
    # An equilibrium far above: the discriminator "wins" and is not updated.
    *_, gradients = _setup(equilibrium=True, equilibrium_value=10.0, margin=0.35)
    _, _, update_d, metrics = gradients(params, stats, x, key)
    assert not bool(update_d) and float(metrics["discriminator_updated"]) == 0.0
