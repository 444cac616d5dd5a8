"""The autoencoder task: one autoencoder (dense or conv, any variant) on an image data set."""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import load_split, train_dataset
from jaxgen.losses import corruption
from jaxgen.losses.autoencoder import make_autoencoder_loss, pixels_from_logits
from jaxgen.models.autoencoders import build_autoencoder
from jaxgen.train.logging import read_metrics
from jaxgen.viz import figures
from jaxgen.viz.report import Report, markdown_table

EVAL_BATCH = 500


def model_config(kind: str = "dense", **overrides) -> ml_collections.ConfigDict:
    """A `config.model` block with every key an autoencoder reads."""
    block = ml_collections.ConfigDict(
        {
            "kind": kind,
            "code_size": 32,
            "hidden": (512, 256),
            "channels": (32, 64),
            "downsample": "stride",
            "upsample": "transpose",
            "activation": "relu",
            "code_activation": "linear",
        }
    )
    block.update(overrides)
    return block


def objective_config(**overrides) -> ml_collections.ConfigDict:
    """A `config.objective` block with every key the autoencoder loss reads."""
    block = ml_collections.ConfigDict(
        {
            "reconstruction": "mse",
            "output": "sigmoid",
            "corruption": "none",
            "noise_level": 0.0,
            "sparsity": "none",
            "sparsity_weight": 0.0,
            "sparsity_target": 0.05,
            "contractive_weight": 0.0,
        }
    )
    block.update(overrides)
    return block


def check_model_objective(model: ml_collections.ConfigDict, objective) -> None:
    if objective.sparsity == "kl" and model.code_activation != "sigmoid":
        raise ValueError("sparsity='kl' needs model.code_activation='sigmoid' (codes in (0, 1))")


def make_reconstruct(model, output: str):
    """jitted (params, x) -> reconstruction in pixel space."""
    return jax.jit(lambda params, x: pixels_from_logits(model.apply(params, x)[0], output))


def make_encode(model):
    """jitted (params, x) -> codes."""
    return jax.jit(lambda params, x: model.apply(params, x, method="encode")[0])


def batched(fn, params, *arrays: np.ndarray):
    """Applies fn(params, *chunks) over the leading axis of `arrays` in chunks of EVAL_BATCH;
    returns fn's output (an array or a pytree of arrays) for all of them, in NumPy."""
    parts = [
        fn(params, *(jnp.asarray(a[i : i + EVAL_BATCH]) for a in arrays))
        for i in range(0, len(arrays[0]), EVAL_BATCH)
    ]
    return jax.tree.map(lambda *xs: np.concatenate([np.asarray(x) for x in xs]), *parts)


def corrupt_fixed(objective, images: np.ndarray, seed: int) -> np.ndarray:
    """The eval split corrupted once with a fixed key (the same for every evaluation)."""
    key = jax.random.fold_in(jax.random.key(seed), 0xD0)
    return np.asarray(
        corruption.corrupt(objective.corruption, key, jnp.asarray(images), objective.noise_level)
    )


def tsne_codes(codes: np.ndarray, labels, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """t-SNE (scikit-learn) of the first `count` codes; returns (points, labels)."""
    from sklearn.manifold import TSNE

    count = min(count, len(codes))
    points = TSNE(n_components=2, init="pca", random_state=seed, perplexity=30.0).fit_transform(
        codes[:count].astype(np.float64)
    )
    return points, (None if labels is None else labels[:count])


class AutoencoderTask:
    """Trains one autoencoder; reports test reconstruction error and the figures."""

    batch_axis = 0
    best_metric = "test_mse"
    best_mode = "min"

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        self.train_split = load_split(config.dataset, "train")
        self.test_split = load_split(config.dataset, "test")
        check_model_objective(config.model, config.objective)
        self.model = build_autoencoder(config.model, self.train_split.image_shape)
        self.loss = make_autoencoder_loss(self.model, config.objective)
        self.test_images = self.test_split.pixels()
        self.test_inputs = corrupt_fixed(config.objective, self.test_images, config.seed)
        self._reconstruct = make_reconstruct(self.model, config.objective.output)

    def init_params(self, key: jax.Array):
        return self.model.init(key, jnp.zeros((1, *self.train_split.image_shape)))

    def train_dataset(self, seed: int):
        return train_dataset(self.train_split, self.config.batch_size, seed)

    def evaluate(self, params) -> dict[str, float]:
        """Per-pixel MSE on the test split (of the corrupted input's reconstruction when
        denoising: the denoising error)."""
        recon = batched(self._reconstruct, params, self.test_inputs)
        return {"test_mse": float(np.mean((recon - self.test_images) ** 2))}

    def report(self, params, workdir: pathlib.Path) -> Report:
        config, objective = self.config, self.config.objective
        recon = batched(self._reconstruct, params, self.test_inputs)
        x = self.test_images
        summary = {
            "test_mse": float(np.mean((recon - x) ** 2)),
            "test_l1": float(np.mean(np.abs(recon - x))),
            "test_examples": len(x),
        }
        denoising = objective.corruption != "none"
        if denoising:
            summary["test_corrupted_input_mse"] = float(np.mean((self.test_inputs - x) ** 2))
        protocol = (
            f"Per-pixel error on the `{config.dataset}` test split ({len(x)} images, pixels in "
            "[0, 1]), reconstructing "
            + (
                f"inputs corrupted once by `{objective.corruption}` noise at level "
                f"{objective.noise_level} (fixed key) and comparing with the clean images."
                if denoising
                else "the clean images."
            )
        )
        rows = [[k, v] for k, v in summary.items()]
        sections = [
            ("Reconstruction error", protocol + "\n\n" + markdown_table(["metric", "value"], rows))
        ]

        n = 12
        figures.image_rows(
            [x[:n], recon[:n]],
            ["input", "output"],
            workdir / "reconstructions.png",
            "test reconstructions",
        )
        body = "![reconstructions](reconstructions.png)"
        if denoising:
            figures.image_rows(
                [x[:n], self.test_inputs[:n], recon[:n]],
                ["clean", "corrupted", "denoised"],
                workdir / "denoising.png",
                f"denoising: {objective.corruption} at {objective.noise_level}",
            )
            body += "\n\n![denoising triptych](denoising.png)"
        sections.append(("Figures", body))

        codes = batched(make_encode(self.model), params, x)
        labels = self.test_split.labels_N
        code_figs = []
        if codes.shape[1] == 2:
            figures.scatter_codes(
                codes, labels, workdir / "codes_2d.png", "test codes (2-unit bottleneck)"
            )
            code_figs.append("![codes](codes_2d.png)")
        if config.tsne_points:
            points, point_labels = tsne_codes(codes, labels, config.tsne_points, config.seed)
            figures.scatter_codes(
                points,
                point_labels,
                workdir / "codes_tsne.png",
                f"t-SNE of {len(points)} test codes (perplexity 30)",
            )
            code_figs.append("![t-SNE of codes](codes_tsne.png)")
        if code_figs:
            sections.append(("Codes", "\n\n".join(code_figs)))
        records = read_metrics(workdir, "train")
        if records:
            figures.learning_curves(
                records, ["loss", "mse"], workdir / "learning_curve.png", "train"
            )
            sections.append(("Learning curve", "![learning curve](learning_curve.png)"))
        return Report(summary, sections)
