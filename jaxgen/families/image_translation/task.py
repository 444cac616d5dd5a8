"""The image-translation tasks: pix2pix (paired; Isola et al. 2017) and CycleGAN (unpaired; Zhu
et al. 2017), after junyanz/pytorch-CycleGAN-and-pix2pix.

Both keep every player in one `TranslationState` and update them in one pure step, as the GAN
family does. pix2pix: the discriminator sees (input, output) concatenated on channels; D is
updated first, then G against the updated D with loss GAN + l1_weight * L1 to the target, the
U-Net's dropout being its noise (keyed). CycleGAN: generators G_AB, G_BA and discriminators
D_A, D_B; the generators are updated first (GAN terms, cycle consistency each way, identity),
then the discriminators on the newest fakes mixed with a history pool of 50
(families/image_translation/image_pool.py, part of the state, so resume is exact). Images are in
[-1, 1] inside the players; every metric is in pixels in [0, 1].
"""

from __future__ import annotations

import functools

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import config_splits
from jaxgen.data import image_pairs as data
from jaxgen.eval.chunked import batched
from jaxgen.eval.features import FeatureSpace
from jaxgen.families.image_translation import image_pool, losses
from jaxgen.families.image_translation import model as nets
from jaxgen.metrics import image_quality
from jaxgen.train import players
from jaxgen.train.protocol import Task
from jaxgen.train.state import PyTree, TrainState, adam

CHUNK = 250  # examples per jitted translation call
SNAPSHOT_EXAMPLES = 8


@flax.struct.dataclass
class TranslationState(TrainState):
    """params: {player: parameters}; opt_state: {"generators": ..., "discriminators": ...}
    (one Adam over all generators and one over all discriminators, as the reference)."""

    batch_stats: PyTree  # {player: batch-norm statistics} ({} with instance norm)
    pools: PyTree  # {"a": ImagePool, "b": ImagePool} of CycleGAN; {} for pix2pix


# `model.generator`: pix2pix's U-Net or CycleGAN's ResNet (build_generator).
GENERATORS = ("unet", "resnet")
# `objective.method`: paired (pix2pix) or unpaired (CycleGAN) translation.
METHODS = ("pix2pix", "cyclegan")


def build_generator(model: ml_collections.ConfigDict, image_size: int, out_channels: int):
    if model.generator == "unet":
        return nets.UNetGenerator(
            out_channels,
            base=model.generator_base,
            depth=model.unet_depth or None,
            norm=model.norm,
            dropout=model.dropout,
        )
    if model.generator == "resnet":
        return nets.ResnetGenerator(
            out_channels,
            base=model.generator_base,
            blocks=model.resnet_blocks or nets.resnet_blocks(image_size),
            norm=model.norm,
        )
    raise ValueError(
        f"unknown model.generator {model.generator!r}; choose one of {', '.join(GENERATORS)}"
    )


def build_discriminator(model: ml_collections.ConfigDict, image_size: int):
    return nets.PatchDiscriminator(
        base=model.discriminator_base,
        n_layers=model.patch_layers or nets.patch_layers(image_size),
        norm=model.norm,
    )


def _to_model(x):
    return x * 2.0 - 1.0


def _to_unit(x):
    return (x + 1.0) / 2.0


class _Translation(Task):
    """What pix2pix and CycleGAN share: the players, Adam per group, init, application with
    batch statistics and dropout keys, chunked translation for evaluation."""

    batch_axis = 0
    best_mode = "min"
    groups: dict[str, tuple[str, ...]]  # optimizer group -> players

    def __init__(self, config: ml_collections.ConfigDict, modules: dict, input_shapes: dict):
        self.config = config
        losses.check_mode(config.objective.gan_loss)
        self.modules, self.input_shapes = modules, input_shapes
        self.tx = adam(config, config.learning_rate)
        self._translate = {
            name: jax.jit(functools.partial(self._apply_eval, name))
            for name in modules
            if name.startswith("g")
        }

    # ---- players ---------------------------------------------------------------------------

    def apply(self, name, params, stats, x, train: bool, key=None):
        """(output, updated batch statistics) of player `name`; dropout draws from `key`."""
        variables = {"params": params[name]}
        if stats.get(name):
            variables["batch_stats"] = stats[name]
        rngs = {"dropout": key} if key is not None else None
        if train and stats.get(name):
            out, updates = self.modules[name].apply(
                variables, x, train=True, rngs=rngs, mutable=["batch_stats"]
            )
            return out, {**stats, name: updates["batch_stats"]}
        return self.modules[name].apply(variables, x, train=train, rngs=rngs), stats

    def _apply_eval(self, name, variables, x_unit):
        out, _ = self.apply(
            name, variables["params"], variables["batch_stats"], _to_model(x_unit), False
        )
        return _to_unit(out)

    def init_state(self, key: jax.Array) -> TranslationState:
        params, stats = {}, {}
        for name, k in zip(self.modules, jax.random.split(key, len(self.modules)), strict=True):
            x = jnp.zeros((1, *self.input_shapes[name]))
            variables = self.modules[name].init(k, x, train=False)
            params[name] = variables["params"]
            stats[name] = variables.get("batch_stats", {})
        opt_state = players.init_optimizers(
            dict.fromkeys(self.groups, self.tx), {g: self._group(params, g) for g in self.groups}
        )
        return TranslationState(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=opt_state,
            batch_stats=stats,
            pools=self.init_pools(),
        )

    def init_pools(self) -> dict:
        return {}

    def _group(self, params: dict, group: str) -> dict:
        return {name: params[name] for name in self.groups[group]}

    def _update(self, params, group, grads, opt_state):
        """The params after the group's Adam update; stores its new state in `opt_state`."""
        new, opt_state[group] = players.update(
            self.tx, grads, opt_state[group], self._group(params, group)
        )
        return {**params, **new}

    def eval_params(self, state: TranslationState):
        return {"params": state.params, "batch_stats": state.batch_stats}

    def translate(self, params, name: str, x_unit) -> np.ndarray:
        """Player `name` applied (in eval mode) to images in [0, 1], in chunks; in [0, 1]."""
        if len(x_unit) == 0:
            return np.zeros((0,))
        return batched(self._translate[name], params, x_unit, chunk=CHUNK)


# ---- pix2pix -----------------------------------------------------------------------------------


class Pix2PixTask(_Translation):
    """Paired translation: completion, edges to image, or side-by-side pairs."""

    groups = {"generators": ("generator",), "discriminators": ("discriminator",)}

    def __init__(self, config: ml_collections.ConfigDict):
        splits = config_splits(config)
        self.train_split = splits["train"]
        self.splits = {s: splits[s] for s in ("validation", "test")}
        self.make = data.pair_maker(config)
        in_shape, out_shape = self.make.shapes(self.train_split.image_shape)
        self.in_shape, self.out_shape = in_shape, out_shape
        size = out_shape[0]
        self.mask = self.make.mask(*out_shape[:2])
        self.completion = config.paired.kind == "completion"
        self.best_metric = "l1_missing" if self.completion else "l1"
        modules = {
            "generator": build_generator(config.model, size, out_shape[-1]),
            "discriminator": build_discriminator(config.model, size),
        }
        shapes = {
            "generator": in_shape,
            "discriminator": (*out_shape[:2], in_shape[-1] + out_shape[-1]),
        }
        super().__init__(config, modules, shapes)
        self.train_step = self._make_step()

    def train_dataset(self, seed: int):
        return data.paired_train_dataset(self.train_split, self.make, self.config.batch_size, seed)

    def _make_step(self):
        mode, weight = self.config.objective.gan_loss, self.config.objective.l1_weight

        def step(state: TranslationState, batch: dict, key: jax.Array):
            x, y = _to_model(batch["input"]), _to_model(batch["target"])
            params, stats, opt_state = state.params, state.batch_stats, dict(state.opt_state)

            def generate(g_params):
                return self.apply(
                    "generator", {**params, "generator": g_params}, stats, x, True, key
                )

            # One forward pass of G: its output is D's fake now and, through its pullback, gives
            # G's gradient against the updated D below (the same dropout draw for both).
            out, pullback, stats = jax.vjp(generate, params["generator"], has_aux=True)
            fake = jax.lax.stop_gradient(out)

            def d_objective(d_params):
                both = {**params, "discriminator": d_params}
                pairs = jnp.concatenate(
                    [jnp.concatenate([x, y], -1), jnp.concatenate([x, fake], -1)]
                )
                logits, new_stats = self.apply("discriminator", both, stats, pairs, True)
                real_logits, fake_logits = jnp.split(logits, 2)
                return losses.discriminator(mode, real_logits, fake_logits), new_stats

            (d_loss, stats), d_grads = jax.value_and_grad(d_objective, has_aux=True)(
                params["discriminator"]
            )
            params = self._update(params, "discriminators", {"discriminator": d_grads}, opt_state)

            # D stays in train mode for G's gradient (batch statistics of the fake pairs, as the
            # reference's netD does in backward_G); its running averages advance again.
            def g_objective(out):
                logits, new_stats = self.apply(
                    "discriminator", params, stats, jnp.concatenate([x, out], -1), True
                )
                g_loss, parts = losses.pix2pix_generator(mode, logits, out, y, weight)
                return g_loss, (parts, new_stats)

            (g_loss, (parts, stats)), out_grad = jax.value_and_grad(g_objective, has_aux=True)(out)
            (g_grads,) = pullback(out_grad)
            params = self._update(params, "generators", {"generator": g_grads}, opt_state)
            new_state = state.replace(
                step=state.step + 1, params=params, opt_state=opt_state, batch_stats=stats
            )
            return new_state, {"loss": d_loss, "generator_loss": g_loss, **parts}

        return step

    def examples(self, split: str, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inputs, targets, labels) in [0, 1] of the split's first `count` (0: all)."""
        source = self.splits[split]
        n = len(source) if not count else min(count, len(source))
        x, y = data.pairs(source, self.make, 0, n)
        return x, y, source.int_labels()[:n]

    def evaluate(self, params, split: str) -> dict[str, float]:
        """Mean L1 and PSNR of the outputs against the targets on the missing region (for
        completion) and on the whole image, over `eval_examples` of the split."""
        x, y, _ = self.examples(split, self.config.eval_examples)
        out = self.translate(params, "generator", x)
        return {k: float(np.mean(v)) for k, v in self.image_numbers(out, y).items()}

    def evaluation_protocol(self, split: str) -> dict[str, str]:
        source = self.splits[split]
        count = self.config.eval_examples
        n = len(source) if not count else min(count, len(source))
        where = f"over the first {n} of the {len(source)} {split} pairs"
        protocol = {
            "l1": f"mean |output - target| per pixel in [0, 1], whole image, {where}",
            "psnr": f"mean PSNR (dB, peak 1) per image, whole image, {where}",
        }
        if self.completion:
            protocol["l1_missing"] = f"mean |output - target| on the missing region, {where}"
            protocol["psnr_missing"] = f"mean PSNR (dB) on the missing region, {where}"
        return protocol

    def image_numbers(self, out, y) -> dict[str, np.ndarray]:
        numbers = {
            "l1": image_quality.l1_region(out, y),
            "psnr": image_quality.psnr_region(out, y),
        }
        if self.completion:
            numbers["l1_missing"] = image_quality.l1_region(out, y, self.mask)
            numbers["psnr_missing"] = image_quality.psnr_region(out, y, self.mask)
        return numbers

    def snapshot(self, params) -> dict[str, np.ndarray]:
        x, y, _ = self.examples("validation", SNAPSHOT_EXAMPLES)
        out = self.translate(params, "generator", x)
        x = data.to_channels(x, y.shape[-1])
        return {"input_output_target": np.concatenate([x, out, y])}


# ---- CycleGAN ----------------------------------------------------------------------------------


class CycleGANTask(_Translation):
    """Unpaired translation between domains A and B."""

    groups = {"generators": ("g_ab", "g_ba"), "discriminators": ("d_a", "d_b")}

    def __init__(self, config: ml_collections.ConfigDict):
        self.domains = data.domain_splits(config)
        self.names = data.domain_names(config)
        shapes = {d: self.domains[d]["train"].image_shape for d in "ab"}
        self.shapes = shapes
        size = shapes["a"][0]
        objective = config.objective
        if objective.identity and shapes["a"][-1] != shapes["b"][-1]:
            raise ValueError(
                "the identity loss needs domains with the same channels "
                f"({shapes['a'][-1]} and {shapes['b'][-1]}); set objective.identity=0"
            )
        modules = {
            "g_ab": build_generator(config.model, size, shapes["b"][-1]),
            "g_ba": build_generator(config.model, size, shapes["a"][-1]),
            "d_a": build_discriminator(config.model, size),
            "d_b": build_discriminator(config.model, size),
        }
        inputs = {"g_ab": shapes["a"], "g_ba": shapes["b"], "d_a": shapes["a"], "d_b": shapes["b"]}
        super().__init__(config, modules, inputs)
        self.labelled = all(self.domains[d]["train"].labels_N is not None for d in "ab")
        self.best_metric = "fid" if self.labelled else "cycle_l1"
        preprocess, progress = config.get("preprocess"), config.progress
        # Each domain's images are scored in the features of its own data set's classifier.
        self.spaces = {d: FeatureSpace(self.names[d], preprocess, progress) for d in "ab"}
        self.train_step = self._make_step()

    def init_pools(self) -> dict:
        size = self.config.objective.pool_size
        return {d: image_pool.ImagePool.empty(size, self.shapes[d]) for d in "ab"}

    def train_dataset(self, seed: int):
        return data.unpaired_train_dataset(self.domains, self.config.batch_size, seed)

    def _make_step(self):
        o = self.config.objective
        mode = o.gan_loss

        def step(state: TranslationState, batch: dict, key: jax.Array):
            a, b = _to_model(batch["a"]), _to_model(batch["b"])
            params, opt_state = state.params, dict(state.opt_state)
            stats = state.batch_stats

            def g_objective(g_params):
                p = {**params, **g_params}
                fake_b, s = self.apply("g_ab", p, stats, a, True)
                rec_a, s = self.apply("g_ba", p, s, fake_b, True)
                fake_a, s = self.apply("g_ba", p, s, b, True)
                rec_b, s = self.apply("g_ab", p, s, fake_a, True)
                if o.identity:
                    idt_a, s = self.apply("g_ab", p, s, b, True)
                    idt_b, s = self.apply("g_ba", p, s, a, True)
                else:
                    idt_a, idt_b = b, a
                # The discriminators in train mode, as the reference's (batch statistics when
                # norm is batch; instance norm has none).
                logits_ab, s = self.apply("d_b", p, s, fake_b, True)
                logits_ba, s = self.apply("d_a", p, s, fake_a, True)
                total, parts = losses.cycle_generators(
                    mode, logits_ab, logits_ba, a, b, rec_a, rec_b, idt_a, idt_b,
                    o.lambda_a, o.lambda_b, o.identity,
                )  # fmt: skip
                return total, (s, fake_a, fake_b, parts)

            (g_loss, (stats, fake_a, fake_b, parts)), g_grads = jax.value_and_grad(
                g_objective, has_aux=True
            )(self._group(params, "generators"))
            params = self._update(params, "generators", g_grads, opt_state)

            key_a, key_b = jax.random.split(key)
            pool_a, seen_a = image_pool.query(
                state.pools["a"], jax.lax.stop_gradient(fake_a), key_a
            )
            pool_b, seen_b = image_pool.query(
                state.pools["b"], jax.lax.stop_gradient(fake_b), key_b
            )

            def d_objective(d_params):
                p = {**params, **d_params}
                logits_a, s = self.apply("d_a", p, stats, jnp.concatenate([a, seen_a]), True)
                logits_b, s = self.apply("d_b", p, s, jnp.concatenate([b, seen_b]), True)
                loss_a = losses.discriminator(mode, *jnp.split(logits_a, 2))
                loss_b = losses.discriminator(mode, *jnp.split(logits_b, 2))
                return loss_a + loss_b, (s, loss_a, loss_b)

            (d_loss, (stats, loss_a, loss_b)), d_grads = jax.value_and_grad(
                d_objective, has_aux=True
            )(self._group(params, "discriminators"))
            params = self._update(params, "discriminators", d_grads, opt_state)
            new_state = state.replace(
                step=state.step + 1,
                params=params,
                opt_state=opt_state,
                batch_stats=stats,
                pools={"a": pool_a, "b": pool_b},
            )
            metrics = {"loss": d_loss, "generator_loss": g_loss, "d_a": loss_a, "d_b": loss_b}
            return new_state, {**metrics, **parts}

        return step

    # ---- evaluation --------------------------------------------------------------------------

    def images(self, domain: str, split: str, count: int):
        """(images in [0, 1], labels) of the domain's split, its first `count` (0: all)."""
        source = self.domains[domain][split]
        n = len(source) if not count else min(count, len(source))
        return np.asarray(source.pixel_view()[:n]), source.int_labels()[:n]

    def _pixels(self, domain: str, split: str, count: int) -> np.ndarray:
        return self.images(domain, split, count)[0]

    def translations(self, params, split: str, count: int) -> dict[str, np.ndarray]:
        """Both domains' images, their translations and their cycles back."""
        a, labels_a = self.images("a", split, count)
        b, labels_b = self.images("b", split, count)
        fake_b = self.translate(params, "g_ab", a)
        fake_a = self.translate(params, "g_ba", b)
        return {
            "a": a,
            "b": b,
            "labels_a": labels_a,
            "labels_b": labels_b,
            "fake_b": fake_b,
            "fake_a": fake_a,
            "rec_a": self.translate(params, "g_ba", fake_b),
            "rec_b": self.translate(params, "g_ab", fake_a),
        }

    def prepare_evaluation(self) -> None:
        if self.labelled:  # each domain's classifier, loaded or trained while the run is set up
            for space in self.spaces.values():
                space.load_classifier()

    def evaluate(self, params, split: str) -> dict[str, float]:
        """Cycle L1 each way; with labelled domains, FID of each direction's translations in
        the target domain's classifier features (and their mean, `fid`)."""
        n = self.config.eval_examples
        t = self.translations(params, split, n)
        numbers = {
            "cycle_l1_a": float(np.mean(np.abs(t["rec_a"] - t["a"]))),
            "cycle_l1_b": float(np.mean(np.abs(t["rec_b"] - t["b"]))),
        }
        numbers["cycle_l1"] = (numbers["cycle_l1_a"] + numbers["cycle_l1_b"]) / 2
        if self.labelled:
            for direction, target, fake in (("a2b", "b", "fake_b"), ("b2a", "a", "fake_a")):
                space = self.spaces[target]
                real = space.reference(
                    (split, n), functools.partial(self._pixels, target, split, n)
                )
                numbers[f"fid_{direction}"] = space.fid(real, t[fake])
            numbers["fid"] = (numbers["fid_a2b"] + numbers["fid_b2a"]) / 2
        return numbers

    def evaluation_protocol(self, split: str) -> dict[str, str]:
        count = self.config.eval_examples
        sizes = {d: len(self.domains[d][split]) for d in "ab"}
        n = {d: sizes[d] if not count else min(count, sizes[d]) for d in "ab"}
        name = {d: f"domain {d.upper()}" for d in "ab"}
        protocol = {
            f"cycle_l1_{d}": f"mean |{d} - cycle({d})| per pixel in [0, 1] over the first "
            f"{n[d]} of the {sizes[d]} {split} images of {name[d]}"
            for d in "ab"
        }
        protocol["cycle_l1"] = "the mean of cycle_l1_a and cycle_l1_b"
        if self.labelled:
            for direction, source, target in (("a2b", "a", "b"), ("b2a", "b", "a")):
                protocol[f"fid_{direction}"] = (
                    f"FID of {n[source]} translations of {name[source]}'s {split} images against "
                    f"the first {n[target]} {split} images of {name[target]}, in the features "
                    f"of the classifier of `{self.names[target]}`"
                )
            protocol["fid"] = "the mean of fid_a2b and fid_b2a"
        return protocol

    def snapshot(self, params) -> dict[str, np.ndarray]:
        t = self.translations(params, "validation", SNAPSHOT_EXAMPLES)
        c = max(self.shapes["a"][-1], self.shapes["b"][-1])
        rows = [t[k] for k in ("a", "fake_b", "rec_a", "b", "fake_a", "rec_b")]
        return {"cycles": np.concatenate([data.to_channels(r, c) for r in rows])}


def build_translation_task(config: ml_collections.ConfigDict):
    method = config.objective.method
    if method == "pix2pix":
        return Pix2PixTask(config)
    if method == "cyclegan":
        return CycleGANTask(config)
    raise ValueError(f"unknown objective.method {method!r}; choose one of {', '.join(METHODS)}")
