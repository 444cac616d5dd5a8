"""The autoencoder objective: reconstruction + optional sparsity and contractive penalties,
with optional input corruption (denoising). The loss always compares with the clean input."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.families.autoencoder import corruption, reconstruction

RECONSTRUCTIONS = ("mse", "l1", "bce")
SPARSITIES = ("none", "l1", "kl")
OUTPUTS = ("sigmoid", "linear")  # pixels_from_logits: a sigmoid, or the logits as they are


def bernoulli_kl(rho: float, rho_hat: jax.Array, eps: float = 1e-6) -> jax.Array:
    """KL(Bernoulli(rho) || Bernoulli(rho_hat)) in nats, elementwise."""
    rho_hat = jnp.clip(rho_hat, eps, 1.0 - eps)
    return rho * jnp.log(rho / rho_hat) + (1.0 - rho) * jnp.log((1.0 - rho) / (1.0 - rho_hat))


def contractive_penalty(encode, x_BxD: jax.Array) -> jax.Array:
    """Mean over the batch of the squared Frobenius norm of d code / d input, per example.

    `encode` maps a batch to a batch of codes with examples independent, so one vjp per code unit
    (on the batch) gives every example's Jacobian row: ||J||_F^2 = sum_j ||J^T e_j||^2.
    """
    z_BxZ, vjp = jax.vjp(encode, x_BxD)
    basis_ZxZ = jnp.eye(z_BxZ.shape[-1], dtype=z_BxZ.dtype)

    def row_norms(e_Z):
        (g,) = vjp(jnp.broadcast_to(e_Z, z_BxZ.shape))
        return jnp.sum(jnp.square(g).reshape(g.shape[0], -1), axis=1)

    per_unit_ZxB = jax.vmap(row_norms)(basis_ZxZ)
    return jnp.mean(jnp.sum(per_unit_ZxB, axis=0))


def pixels_from_logits(logits: jax.Array, output: str) -> jax.Array:
    """Decoder outputs to pixel space: sigmoid for `output="sigmoid"`, identity for "linear"."""
    return nn.sigmoid(logits) if output == "sigmoid" else logits


def make_autoencoder_loss(model: nn.Module, objective: ml_collections.ConfigDict):
    """Returns the pure `loss(params, batch, key, step) -> (loss, aux)` for one autoencoder.

    `objective` keys: reconstruction (mse | l1 | bce), output (sigmoid | linear), corruption
    (none | gaussian | masking | salt_pepper), noise_level, sparsity (none | l1 | kl),
    sparsity_weight, sparsity_target, contractive_weight.
    """
    validate_objective(objective)

    def loss_fn(params, batch, key, step=None):  # the objective has no schedule in `step`
        x = batch["image"]
        x_in = corruption.corrupt(objective.corruption, key, x, objective.noise_level)

        def encode(inputs):
            return model.apply(params, inputs, method="encode")[0]

        z, switches = model.apply(params, x_in, method="encode")
        logits = model.apply(params, z, switches, method="decode")
        recon = pixels_from_logits(logits, objective.output)
        if objective.reconstruction == "bce":
            rec_loss = reconstruction.bce_with_logits(logits, x)
        elif objective.reconstruction == "l1":
            rec_loss = reconstruction.l1(recon, x)
        else:
            rec_loss = reconstruction.mse(recon, x)
        aux = {"reconstruction": rec_loss, "mse": reconstruction.mse(recon, x)}
        loss = rec_loss
        if objective.sparsity == "l1":
            penalty = jnp.mean(jnp.sum(jnp.abs(z), axis=-1))
            aux["sparsity"] = penalty
            loss = loss + objective.sparsity_weight * penalty
        elif objective.sparsity == "kl":
            penalty = jnp.sum(bernoulli_kl(objective.sparsity_target, jnp.mean(z, axis=0)))
            aux["sparsity"] = penalty
            loss = loss + objective.sparsity_weight * penalty
        if objective.contractive_weight:
            penalty = contractive_penalty(encode, x_in)
            aux["contractive"] = penalty
            loss = loss + objective.contractive_weight * penalty
        return loss, aux

    return loss_fn


def validate_objective(objective: ml_collections.ConfigDict) -> None:
    """ValueError for names and combinations the objective does not support."""
    if objective.reconstruction not in RECONSTRUCTIONS:
        raise ValueError(f"unknown reconstruction {objective.reconstruction!r}: {RECONSTRUCTIONS}")
    if objective.output not in OUTPUTS:
        raise ValueError(f"unknown output {objective.output!r}; choose one of {OUTPUTS}")
    if objective.reconstruction == "bce" and objective.output != "sigmoid":
        raise ValueError("reconstruction='bce' needs output='sigmoid'")
    if objective.corruption not in corruption.CORRUPTIONS:
        raise ValueError(f"unknown corruption {objective.corruption!r}: {corruption.CORRUPTIONS}")
    if objective.sparsity not in SPARSITIES:
        raise ValueError(f"unknown sparsity {objective.sparsity!r}: {SPARSITIES}")
