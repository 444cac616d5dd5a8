"""The two-player step against a plain re-derivation of its documented update order."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxgen.families.gan import adversarial
from jaxgen.families.gan.losses import discriminator_loss, generator_loss
from jaxgen.families.gan.model import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
)
from tests.nn.test_onednn_conv import requires_onednn

LR = 0.05


def _objective(**overrides):
    block = ml_collections.ConfigDict(
        {
            "loss": "non_saturating",
            "discriminator_steps": 2,
            "gradient_penalty": 10.0,
            "average_decay": 0.0,
            "compare_generator_losses": True,
        }
    )
    block.update(overrides)
    return block


def _setup(spectral_norm=False):
    players = adversarial.Players(
        MLPGenerator((16,), 2, num_classes=3),
        MLPDiscriminator((16,), num_classes=3, spectral_norm=spectral_norm),
        latent_size=4,
        data_shape=(2,),
    )
    txs = {p: optax.sgd(LR) for p in adversarial.PLAYERS}
    state = adversarial.init_adversarial_state(players, txs, jax.random.key(0))
    rng = np.random.default_rng(0)
    batch = {
        "x": jnp.asarray(rng.normal(size=(2 * 8, 2)), jnp.float32),
        "label": jnp.asarray(rng.integers(0, 3, size=16), jnp.int32),
    }
    return players, txs, state, batch


@pytest.mark.parametrize("loss", ["non_saturating", "minimax", "wasserstein_gp", "hinge"])
def test_step_is_k_discriminator_updates_then_one_generator_update(loss):
    players, txs, state, batch = _setup()
    objective = _objective(loss=loss)
    new_state, metrics = jax.jit(adversarial.make_adversarial_step(players, objective, txs))(
        state, batch, jax.random.key(7)
    )

    # The reference: SGD written out, gradients of scalar functions by jax.grad.
    g, d = state.params["generator"], state.params["discriminator"]
    keys = jax.random.split(jax.random.key(7), 3)
    real, labels = batch["x"].reshape(2, 8, 2), batch["label"].reshape(2, 8)
    for i in range(2):
        z_key, penalty_key = jax.random.split(keys[i])
        fake = players.generator.apply({"params": g}, players.latents(z_key, 8), labels[i])

        def d_objective(d_params, real=real[i], fake=fake, label=labels[i], key=penalty_key):
            def critic(x, label=label):
                return players.discriminator.apply({"params": d_params}, x, label)

            value = discriminator_loss(loss, critic(real), critic(fake))
            if loss == "wasserstein_gp":
                u = jax.random.uniform(key, (8, 1))
                x_hat = real + u * (fake - real)
                one = jax.grad(lambda x, y: critic(x[None], y[None])[0])  # per example
                grads = jax.vmap(one)(x_hat, label)
                value += 10.0 * jnp.mean((jnp.linalg.norm(grads, axis=-1) - 1) ** 2)
            return value

        d = jax.tree.map(lambda p, gr: p - LR * gr, d, jax.grad(d_objective)(d))

    z = players.latents(keys[2], 8)

    def g_objective(g_params):
        fake = players.generator.apply({"params": g_params}, z, labels[0])
        return generator_loss(loss, players.discriminator.apply({"params": d}, fake, labels[0]))

    g_grads = jax.grad(g_objective)(g)
    g = jax.tree.map(lambda p, gr: p - LR * gr, g, g_grads)

    close = dict(rtol=2e-4, atol=1e-6)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, **close), new_state.params["discriminator"], d
    )
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, **close), new_state.params["generator"], g
    )
    assert float(metrics["generator_grad_norm"]) == pytest.approx(
        float(optax.tree.norm(g_grads)), rel=1e-4
    )
    assert int(new_state.step) == 1
    # average_decay 0: the evaluation generator is the live one.
    eval_vars = adversarial.evaluation_variables(new_state, use_average=True)
    jax.tree.map(
        np.testing.assert_array_equal,
        eval_vars["generator"]["params"],
        new_state.params["generator"],
    )


@requires_onednn
def test_the_generator_update_waits_for_the_discriminator_s_where_the_players_use_onednn():
    """With convolutional players (jaxgen's oneDNN primitives on the CPU) the generator's latents
    are drawn after every discriminator parameter is updated (onednn.run_after); the MLP players'
    step keeps XLA's concurrency. The reference test above shows that no number changes."""

    def run_after_calls(players, state, batch):
        step = adversarial.make_adversarial_step(players, _objective(), txs)
        text = jax.jit(step).lower(state, batch, jax.random.key(7)).compile().as_text()
        return [line for line in text.splitlines() if '"jaxgen_run_after"' in line]

    players, txs, state, batch = _setup()
    assert run_after_calls(players, state, batch) == []

    conv_players = adversarial.Players(
        DCGANGenerator((8, 8, 1), (8, 4), num_classes=3),
        DCGANDiscriminator((4,), num_classes=3),
        latent_size=4,
        data_shape=(8, 8, 1),
    )
    state = adversarial.init_adversarial_state(conv_players, txs, jax.random.key(0))
    rng = np.random.default_rng(0)
    batch = {
        "x": jnp.asarray(rng.uniform(-1, 1, size=(2 * 4, 8, 8, 1)), jnp.float32),
        "label": jnp.asarray(rng.integers(0, 3, size=8), jnp.int32),
    }
    (call,) = run_after_calls(conv_players, state, batch)
    operands = call.split("custom-call(", 1)[1].split(")", 1)[0].split(",")
    assert len(operands) == 1 + len(jax.tree.leaves(state.params["discriminator"]))


def test_the_diagnostic_norms_are_those_of_each_generator_loss():
    players, txs, state, batch = _setup()
    step = jax.jit(adversarial.make_adversarial_step(players, _objective(), txs))
    _, metrics = step(state, batch, jax.random.key(3))
    assert float(metrics["generator_grad_norm_non_saturating"]) == pytest.approx(
        float(metrics["generator_grad_norm"]), rel=1e-6
    )
    minimax_step = adversarial.make_adversarial_step(players, _objective(loss="minimax"), txs)
    _, minimax_metrics = jax.jit(minimax_step)(state, batch, jax.random.key(3))
    assert float(minimax_metrics["generator_grad_norm"]) == pytest.approx(
        float(metrics["generator_grad_norm_minimax"]), rel=1e-5
    )
    for name in ("d_real", "d_fake"):
        assert 0 < float(metrics[name]) < 1


def test_weight_average_follows_its_decay():
    players, txs, state, batch = _setup()
    step = jax.jit(adversarial.make_adversarial_step(players, _objective(average_decay=0.5), txs))
    expected = state.params["generator"]
    for n in range(4):
        state, _ = step(state, batch, jax.random.key(n))
        decay = min(0.5, (1 + n) / (10 + n))
        expected = jax.tree.map(
            lambda e, p, d=decay: d * e + (1 - d) * p, expected, state.params["generator"]
        )
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
        state.generator_average,
        expected,
    )


def test_spectral_norm_divides_by_the_largest_singular_value():
    players, txs, state, batch = _setup(spectral_norm=True)
    txs = {p: optax.sgd(0.0) for p in adversarial.PLAYERS}  # the weights stay put
    step = jax.jit(adversarial.make_adversarial_step(players, _objective(), txs))
    for n in range(30):  # power iterations, one per discriminator call
        state, _ = step(state, batch, jax.random.key(n))
    stats = state.batch_stats["discriminator"]
    assert len(stats) == 2
    for wrapper, layer_stats in stats.items():
        name = wrapper.replace("SpectralNorm", "Dense")
        kernel = np.asarray(state.params["discriminator"][name]["kernel"])
        sigma = float(layer_stats[f"{name}/kernel/sigma"])
        assert sigma == pytest.approx(np.linalg.norm(kernel, 2), rel=1e-3), wrapper


def test_k_must_be_positive():
    players, txs, _, _ = _setup()
    with pytest.raises(ValueError, match="discriminator_steps"):
        adversarial.make_adversarial_step(players, _objective(discriminator_steps=0), txs)
