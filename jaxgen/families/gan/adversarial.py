"""The two-player train step: k discriminator updates, then one generator update, in one pure
function that the loop jits like any other step.

The state is a `GANState` whose fields hold both players:
  params             {"generator": ..., "discriminator": ...}
  opt_state          {"generator": ..., "discriminator": ...}   (each player's own Adam and rate)
  batch_stats        {"generator": ..., "discriminator": ...}   (batch-norm running averages;
                     spectral norm's power-iteration vectors)
  generator_average  an exponential moving average of the generator's weights

A step's batch holds k real minibatches ({"x": (k*B, ...), "label": (k*B,)}): discriminator
update i sees real minibatch i and B fresh generator samples (with minibatch i's labels when the
players are conditional). The step key is split into k + 1 keys: one per discriminator update and
one for the generator update, so the whole step is a function of (state, batch, key).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen.families.gan.losses import discriminator_loss, generator_loss, gradient_penalty
from jaxgen.nn import onednn
from jaxgen.train import players as players_lib
from jaxgen.train.state import PyTree, TrainState

PLAYERS = ("generator", "discriminator")


@flax.struct.dataclass
class GANState(TrainState):
    """A two-player train state: params and opt_state hold both players (by PLAYERS name)."""

    batch_stats: PyTree  # {"generator": ..., "discriminator": ...}
    generator_average: PyTree  # the weight average that every evaluation uses


@dataclasses.dataclass(frozen=True)
class Players:
    generator: nn.Module
    discriminator: nn.Module
    latent_size: int
    data_shape: tuple[int, ...]

    def latents(self, key: jax.Array, n: int) -> jax.Array:
        """n draws of the generator's standard-normal input."""
        return jax.random.normal(key, (n, self.latent_size))

    def generate(self, variables, z, label, train: bool):
        """G(z) and the generator's updated batch statistics (unchanged unless `train`)."""
        if not train:
            return self.generator.apply(variables, z, label, train=False), variables["batch_stats"]
        x, updates = self.generator.apply(variables, z, label, train=True, mutable=["batch_stats"])
        return x, updates.get("batch_stats", {})

    def discriminate(self, variables, x, label, update_stats: bool = False):
        """D's logits and its updated statistics (unchanged unless `update_stats`)."""
        if not update_stats:
            return self.discriminator.apply(variables, x, label), variables["batch_stats"]
        logits, updates = self.discriminator.apply(
            variables, x, label, update_stats=True, mutable=["batch_stats"]
        )
        return logits, updates.get("batch_stats", {})


def init_adversarial_state(
    players: Players, txs: dict[str, optax.GradientTransformation], key: jax.Array
) -> GANState:
    """Both players' fresh variables and optimizer states at step 0."""
    g_key, d_key = jax.random.split(key)
    label = jnp.zeros((2,), jnp.int32)
    g_vars = players.generator.init(g_key, players.latents(g_key, 2), label, train=False)
    x = jnp.zeros((2,) + tuple(players.data_shape))
    d_vars = players.discriminator.init(d_key, x, label, update_stats=False)
    params = {"generator": g_vars["params"], "discriminator": d_vars["params"]}
    return GANState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=players_lib.init_optimizers(txs, params),
        batch_stats={
            "generator": g_vars.get("batch_stats", {}),
            "discriminator": d_vars.get("batch_stats", {}),
        },
        # A copy, so that a state built outside jit owns separate buffers (donation).
        generator_average=jax.tree.map(jnp.copy, g_vars["params"]),
    )


def evaluation_variables(state: GANState, use_average: bool) -> dict:
    """{"generator": variables, "discriminator": variables} for evaluation; the generator's
    weights are the moving average when `use_average` (its batch-norm averages are the live
    generator's)."""
    g_params = state.generator_average if use_average else state.params["generator"]
    return {
        "generator": {"params": g_params, "batch_stats": state.batch_stats["generator"]},
        "discriminator": {
            "params": state.params["discriminator"],
            "batch_stats": state.batch_stats["discriminator"],
        },
    }


def uses_library(players: Players, g_vars, d_vars, z, x, label) -> bool:
    """Whether either player's pass runs on jaxgen's oneDNN primitives (traced, not run)."""
    return onednn.calls_library(
        lambda g, z, label: players.generate(g, z, label, True), g_vars, z, label
    ) or onednn.calls_library(
        lambda d, x, label: players.discriminate(d, x, label), d_vars, x, label
    )


def make_adversarial_step(
    players: Players,
    objective: ml_collections.ConfigDict,
    txs: dict[str, optax.GradientTransformation],
):
    """Returns the pure `step(state, batch, key) -> (state, metrics)`.

    `objective` keys: loss (see families/gan/losses.py), discriminator_steps (k), gradient_penalty
    (its weight, for wasserstein_gp), average_decay (0 keeps no average), compare_generator_losses
    (also log the norms of the minimax and non-saturating generator gradients at the same
    players, a diagnostic that costs one or two extra backward passes).

    metrics: loss (the discriminator's, mean over its k updates), generator_loss,
    discriminator_grad_norm, generator_grad_norm, d_real and d_fake (mean sigmoid of the logits
    on real and generated data), gradient_penalty (for wasserstein_gp), and with the comparison
    generator_grad_norm_minimax and generator_grad_norm_non_saturating.
    """
    kind = objective.loss
    k = objective.discriminator_steps
    if k < 1:
        raise ValueError(f"discriminator_steps must be >= 1, got {k}")

    def discriminator_objective(d_params, d_stats, g_vars, real, label, key):
        z_key, penalty_key = jax.random.split(key)
        fake, _ = players.generate(g_vars, players.latents(z_key, real.shape[0]), label, True)
        fake = jax.lax.stop_gradient(fake)
        # One call on real and generated together: one power iteration per update.
        logits, d_stats = players.discriminate(
            {"params": d_params, "batch_stats": d_stats},
            jnp.concatenate([real, fake]),
            jnp.concatenate([label, label]),
            update_stats=True,
        )
        real_logits, fake_logits = jnp.split(logits, 2)
        loss = discriminator_loss(kind, real_logits, fake_logits)
        aux = {
            "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
            "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
        }
        if kind == "wasserstein_gp":
            d_vars = {"params": d_params, "batch_stats": d_stats}
            penalty = gradient_penalty(
                lambda x: players.discriminate(d_vars, x, label)[0], real, fake, penalty_key
            )
            loss = loss + objective.gradient_penalty * penalty
            aux["gradient_penalty"] = penalty
        return loss, (d_stats, aux)

    d_grad = jax.value_and_grad(discriminator_objective, has_aux=True)

    def step(state: GANState, batch: dict, key: jax.Array):
        keys = jax.random.split(key, k + 1)
        real = batch["x"].reshape((k, -1) + batch["x"].shape[1:])
        labels = batch["label"].reshape(k, -1)
        g_params, g_stats = state.params["generator"], state.batch_stats["generator"]
        g_vars = {"params": g_params, "batch_stats": g_stats}

        d_params = state.params["discriminator"]
        d_opt = state.opt_state["discriminator"]
        d_stats = state.batch_stats["discriminator"]
        # A Python loop, not lax.scan: XLA:CPU runs convolutions inside a loop body about 10x
        # slower (a DCGAN step took 2.4 s under scan, 0.27 s unrolled), and k is small.
        d_metrics = []
        for i in range(k):
            (loss, (d_stats, aux)), grads = d_grad(
                d_params, d_stats, g_vars, real[i], labels[i], keys[i]
            )
            d_params, d_opt = players_lib.update(txs["discriminator"], grads, d_opt, d_params)
            d_metrics.append(
                {"loss": loss, "discriminator_grad_norm": optax.tree.norm(grads), **aux}
            )
        metrics = jax.tree.map(lambda *m: jnp.mean(jnp.stack(m)), *d_metrics)

        # The generator update, against the updated discriminator. Its generator pass needs only
        # the generator, so XLA:CPU would run it beside the discriminator's update; where the
        # players run on jaxgen's oneDNN primitives (each on every core), the two branches then
        # share the cores and both slow down. Ordered after it, the step runs as PyTorch's
        # does, one update then the other (the DCGAN's step: 1036 -> 972 ms). The MLP players'
        # steps keep XLA's concurrency, which is their gain (benchmarks/step_order.py).
        z = players.latents(keys[k], real.shape[1])
        d_vars = {"params": d_params, "batch_stats": d_stats}
        if uses_library(players, g_vars, d_vars, z, real[0], labels[0]):
            z = onednn.run_after(z, d_params)

        def fake_logits(params):
            fake, stats = players.generate(
                {"params": params, "batch_stats": g_stats}, z, labels[0], True
            )
            return players.discriminate(d_vars, fake, labels[0])[0], stats

        # One forward pass; each generator loss then costs one backward pass from its logits.
        logits, pullback, g_stats = jax.vjp(fake_logits, g_params, has_aux=True)

        def generator_loss_and_grads(loss_kind):
            value, d_logits = jax.value_and_grad(lambda lg: generator_loss(loss_kind, lg))(logits)
            return value, pullback(d_logits)[0]

        metrics["generator_loss"], grads = generator_loss_and_grads(kind)
        metrics["generator_grad_norm"] = optax.tree.norm(grads)
        if objective.compare_generator_losses:
            for other in ("minimax", "non_saturating"):
                other_grads = grads if other == kind else generator_loss_and_grads(other)[1]
                metrics[f"generator_grad_norm_{other}"] = optax.tree.norm(other_grads)
        g_opt = state.opt_state["generator"]
        g_params, g_opt = players_lib.update(txs["generator"], grads, g_opt, g_params)

        average = players_lib.moving_average(
            state.generator_average, g_params, objective.average_decay, state.step
        )
        new_state = state.replace(
            step=state.step + 1,
            params={"generator": g_params, "discriminator": d_params},
            opt_state={"generator": g_opt, "discriminator": d_opt},
            batch_stats={"generator": g_stats, "discriminator": d_stats},
            generator_average=average,
        )
        return new_state, jax.tree.map(lambda m: m.astype(jnp.float32), metrics)

    return step
