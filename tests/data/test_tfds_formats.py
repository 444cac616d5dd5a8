"""Data sets in the real TFDS formats (written by TFDS's own mnist, cifar10 and celeb_a builders)
load by name, and every image family trains on them: 1 and 3 channels, 28x28, 32x32 and CelebA
cropped and resized to 64x64, and the `full` presets on `mnist` for a few steps."""

from __future__ import annotations

import math

import pytest

from jaxgen.data import load_split
from jaxgen.data.datasets import clear_caches
from jaxgen.train.loop import train

from ..conftest import REPO, smoke_config
from ..tfds_formats import write_celeb_a, write_cifar10, write_cycle_gan, write_mnist


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tensorflow_datasets")
    write_mnist(root)
    write_cifar10(root)
    write_celeb_a(root)
    write_cycle_gan(root, "horse2zebra", size=32, per_split=20)
    return root


@pytest.fixture(autouse=True)
def _use(tfds_dir, monkeypatch):
    from jaxgen.families.classifier import config as classifier

    monkeypatch.setenv("TFDS_DATA_DIR", str(tfds_dir))
    # One feature classifier per data set for the whole module, trained briefly: these tests
    # check that the families run, not the classifier's accuracy.
    monkeypatch.setenv("JAXGEN_CACHE_DIR", str(tfds_dir / "classifiers"))
    monkeypatch.setattr(classifier, "DEFAULT_STEPS", 100)
    clear_caches()
    yield
    clear_caches()


def test_celeb_a_attributes_train_a_multi_label_feature_classifier(tmp_path):
    from jaxgen.families.classifier.config import classifier_config

    celeb = load_split("celeb_a", "test", "center", 16)
    assert celeb.attributes_NxA.shape == (12, 40) and "Eyeglasses" in celeb.attribute_names
    config = classifier_config("celeb_a", steps=150)
    config.preprocess.update(crop="center", image_size=16)
    config.update(progress=False, batch_size=8)
    result = train(config, tmp_path / "classifier")
    assert result["multi_label"] and result["num_classes"] == 40
    assert 0.4 < result["test_accuracy"] < 1.0  # coin flips sit near 0.5


def test_the_real_formats_load_with_their_splits():
    mnist, cifar = load_split("mnist", "train"), load_split("cifar10", "test")
    assert mnist.image_shape == (28, 28, 1) and mnist.num_classes == 10 and len(mnist) == 50
    assert len(load_split("mnist", "validation")) == 10  # held out from TFDS's train split
    assert cifar.image_shape == (32, 32, 3) and len(cifar) == 20
    celeb = load_split("celeb_a", "validation")  # CelebA's own validation split
    assert celeb.image_shape == (218, 178, 3) and len(celeb) == 12 and celeb.labels_N is None
    cropped = load_split("celeb_a", "train", "center", 64)
    assert cropped.image_shape == (64, 64, 3)


def test_cycle_gan_domains_make_train_and_test_with_the_domain_as_label():
    name = "cycle_gan/horse2zebra"
    train, validation = load_split(name, "train"), load_split(name, "validation")
    test, domain_b = load_split(name, "test"), load_split(name, "trainB")
    assert (len(train), len(validation), len(test)) == (36, 4, 40)  # 10% of each domain held out
    assert train.image_shape == (32, 32, 3) and train.num_classes == 2
    assert sorted(set(test.int_labels())) == [0, 1] and set(domain_b.int_labels()) == {1}
    assert (validation.int_labels() == [0, 0, 1, 1]).all()


DATA = {
    "mnist": {},
    "cifar10": {},
    "celeb_a": {"preprocess.crop": "center", "preprocess.image_size": 64},
    "cycle_gan/horse2zebra": {},
}
# The autoencoder, conv_vae, dcgan and vaegan on at least one set each (the other families
# train on the embedded mnist5k in their own tests; TFDS's mnist format is read by the
# autoencoder); each 3-channel format (cifar10 at 32x32, celeb_a cropped to
# 64x64 with attributes, cycle_gan's two domains) by at least one family, and a GAN's special
# case on CelebA (its attribute classifier: no classifier score). The rest of the full matrix
# (the VAEs' and BiGAN's CelebA cases among it) and the vae_vs_gan comparison on 32x32x3 run
# under `make test-all`: CI's budget on the slower (AVX2) machines.
SAMPLERS = ("vae", "conv_vae", "dcgan", "vaegan", "bigan")
CI_RUNS = {
    "autoencoder": ("mnist", "cifar10"),
    "denoising_ae": (),
    "vae": (),
    "conv_vae": ("cifar10", "cycle_gan/horse2zebra"),
    "dcgan": ("celeb_a",),
    "vaegan": ("cycle_gan/horse2zebra",),
    "bigan": (),
}
RUNS = [
    pytest.param(family, data, marks=[] if data in CI_RUNS[family] else [pytest.mark.slow])
    for family in ("autoencoder", "denoising_ae", *SAMPLERS)
    for data in DATA
    if data in ("mnist", "cifar10") or family in SAMPLERS
] + [pytest.param("vae_vs_gan", "cifar10", marks=[pytest.mark.slow])]


@pytest.mark.parametrize("family, data", RUNS)
def test_every_image_family_on_one_and_three_channels_at_several_sizes(family, data, tmp_path):
    overrides = {"progress": "false", "dataset": data, **DATA[data], "steps": 4}
    result = train(smoke_config(family, **overrides), tmp_path / "run")
    numbers = [v for k, v in result.items() if isinstance(v, float)]
    assert numbers and all(math.isfinite(v) for v in numbers)
    if family in ("dcgan", "vaegan"):  # CelebA's feature network is an attribute classifier
        assert math.isfinite(result["fid"])
        assert ("classifier_score" in result) == (data != "celeb_a")
    if family == "bigan":  # the probes and clusters need classes
        assert math.isfinite(result["fid_bigan"])
        assert ("probe_accuracy_bigan" in result) == (data != "celeb_a")
    if family == "vae_vs_gan":
        assert all(math.isfinite(result[f"fid_{m}"]) for m in ("vae", "vaegan", "dcgan", "bigan"))
    if family in ("vae", "conv_vae"):
        assert result["test_nll_bits_per_dim"] > 0
        report = (tmp_path / "run" / "report.md").read_text()
        assert "## Attribute vectors" in report
        # CelebA's labelled attributes; a digit set's ink mass and slant; none for the others.
        expected = {"celeb_a": "Eyeglasses", "mnist": "ink mass"}.get(data)
        if expected is None:
            assert "| ink mass |" not in report and "not a set of grey handwritten" in report
        else:
            assert f"| {expected} |" in report
        # 8-bit colour pixels (the discretized logistic) come with the uniform model's 8 bits.
        if "Likelihood `discretized_logistic`" in report:
            assert result["uniform_nll_bits_per_dim"] == 8.0


@pytest.mark.parametrize("name", ["autoencoder", "vae", "dcgan", "vaegan", "bigan"])
def test_full_presets_name_a_real_tfds_set_and_run(name, tmp_path):
    from jaxgen.config import load_config

    overrides = ["progress=false", "steps=2", "eval_every=2", "checkpoint_every=2"]
    if name in ("dcgan", "vaegan", "bigan"):
        overrides += ["eval_samples=100", "report_samples=100"]
    if name == "bigan":
        overrides += ["probe_train_examples=100"]
    if name == "vae":
        overrides += ["nll_samples=10", "eval_nll_samples=5"]
    config = load_config(f"{REPO}/experiments/{name}.py:full", overrides)
    assert config.dataset == "mnist"
    if name in ("dcgan", "vaegan", "bigan"):  # their networks run on mnist in the matrix above
        return
    result = train(config, tmp_path / name)
    assert result["step"] == 2 and result["dataset"] == "mnist"


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_celeb_a_attribute_vectors_raise_the_classifier_s_probability(tmp_path):
    # Eyeglasses marks the brighter half of the stand-in faces: its vector, added to codes of
    # faces without it, must raise the attribute classifier's probability of Eyeglasses.
    overrides = {"progress": "false", "dataset": "celeb_a", "steps": 300}
    overrides.update({"preprocess.crop": "center", "preprocess.image_size": 16})
    result = train(smoke_config("vae", **overrides), tmp_path / "run")
    assert result["attribute_gain_eyeglasses"] > 0


@pytest.mark.slow  # minutes on the slower CI machines: `make test-all`
def test_cyclegan_on_the_cycle_gan_format_scores_the_target_domain(tmp_path):
    overrides = {"progress": "false", "dataset": "cycle_gan/horse2zebra", "domain_a": ""}
    overrides.update({"domain_b": "", "preprocess.image_size": 32})
    result = train(smoke_config("cyclegan_horse2zebra", **overrides), tmp_path / "run")
    assert result["test_examples_a"] == result["test_examples_b"] == 20
    # The feature network tells the two domains apart: FID and the target-domain rate.
    for key in ("fid_a2b", "fid_b2a", "target_domain_rate_a2b", "cycle_l1_b"):
        assert math.isfinite(result[key]), key
