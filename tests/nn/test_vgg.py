"""jaxgen.nn.vgg: Keras weights files round-trip, features match NumPy, errors are one line."""

import shutil

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.errors import UserError
from jaxgen.nn import vgg

MEAN_BGR = np.array([103.939, 116.779, 123.68])


@pytest.fixture(scope="module")
def weights():
    """Full-size random weights of both networks, from NumPy generators with fixed seeds."""
    return {
        net: vgg.random_weights(np.random.default_rng(seed), net)
        for seed, net in enumerate(vgg.NETWORKS)
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory, weights):
    """Each network written once in the published ("flat") and the newer ("nested") layout."""
    root = tmp_path_factory.mktemp("vgg")
    paths = {}
    for net in vgg.NETWORKS:
        for layout in ("flat", "nested"):
            path = root / f"{net}_{layout}.h5"
            vgg.write_keras_weights(path, weights[net], net, nested=layout == "nested")
            paths[net, layout] = path
    return paths


def _assert_one_line_error(excinfo, *fragments):
    message = str(excinfo.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def _assert_weights_equal(got, expected):
    assert list(got) == list(expected)
    for name in expected:
        assert set(got[name]) == {"kernel", "bias"}
        for kind in ("kernel", "bias"):
            assert got[name][kind].dtype == np.float32
            np.testing.assert_array_equal(got[name][kind], expected[name][kind])


# ---- layer names, random weights ---------------------------------------------------------------


def test_layer_names():
    assert len(vgg.conv_layer_names("vgg16")) == 13
    assert len(vgg.conv_layer_names("vgg19")) == 16
    names = vgg.layer_names("vgg19")
    assert names[:3] == ["block1_conv1", "block1_conv2", "block1_pool"]
    assert names[-3:] == ["block5_conv3", "block5_conv4", "block5_pool"]
    assert [n for n in vgg.layer_names("vgg16") if "pool" not in n] == vgg.conv_layer_names("vgg16")
    with pytest.raises(UserError):
        vgg.layer_names("vgg11")


def _kernel_shapes(net):
    """(3, 3, in, out) of every conv layer, from the published widths 64, 128, 256, 512, 512."""
    shapes, c_in = {}, 3
    for name in vgg.conv_layer_names(net):
        c_out = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}[int(name[5])]
        shapes[name], c_in = (3, 3, c_in, c_out), c_out
    return shapes


@pytest.mark.parametrize("net", vgg.NETWORKS)
def test_random_weights_shapes_and_scale(weights, net):
    w = weights[net]
    assert list(w) == vgg.conv_layer_names(net)
    for name, shape in _kernel_shapes(net).items():
        layer = w[name]
        assert layer["kernel"].shape == shape and layer["bias"].shape == (shape[3],)
        assert layer["kernel"].dtype == layer["bias"].dtype == np.float32
        assert not layer["bias"].any()
        # He normal: std sqrt(2 / fan_in), fan_in = 9 * in; >= 1728 samples per layer.
        assert abs(layer["kernel"].std() / np.sqrt(2 / (9 * shape[2])) - 1) < 0.1


def test_random_weights_jax_key():
    w = vgg.random_weights(jax.random.key(0), "vgg16")
    assert {n: p["kernel"].shape for n, p in w.items()} == _kernel_shapes("vgg16")
    kernel = w["block1_conv1"]["kernel"]
    assert kernel.dtype == np.float32 and abs(kernel.std() / np.sqrt(2 / 27) - 1) < 0.1
    again = vgg.random_weights(jax.random.key(0), "vgg16")
    np.testing.assert_array_equal(again["block5_conv3"]["kernel"], w["block5_conv3"]["kernel"])


# ---- reading weights files ---------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["flat", "nested"])
@pytest.mark.parametrize("net", vgg.NETWORKS)
def test_read_returns_written_arrays(files, weights, net, layout):
    _assert_weights_equal(vgg.read_keras_weights(files[net, layout], net), weights[net])


def test_published_layout(files):
    with h5py.File(files["vgg19", "flat"], "r") as f:
        assert [n.decode() for n in f.attrs["layer_names"]] == [
            "input_1",
            *vgg.layer_names("vgg19"),
        ]
        assert len(f["input_1"].attrs["weight_names"]) == 0
        assert len(f["block3_pool"].attrs["weight_names"]) == 0
        group = f["block1_conv1"]
        assert list(group.attrs["weight_names"]) == [b"block1_conv1_W_1:0", b"block1_conv1_b_1:0"]
        assert isinstance(group["block1_conv1_W_1:0"], h5py.Dataset)
        assert group["block1_conv1_W_1:0"].shape == (3, 3, 3, 64)
        assert group["block1_conv1_b_1:0"].dtype == np.float32
    with h5py.File(files["vgg19", "nested"], "r") as f:
        group = f["block5_conv4"]
        assert list(group.attrs["weight_names"]) == [
            b"block5_conv4/kernel:0",
            b"block5_conv4/bias:0",
        ]
        assert isinstance(group["block5_conv4"]["kernel:0"], h5py.Dataset)
        assert group["block5_conv4"]["bias:0"].shape == (512,)


def test_read_model_save_layout_ignores_top(files, weights, tmp_path):
    """A `model.save` file: everything under `model_weights`, plus classifier layers."""
    path = tmp_path / "model.h5"
    with h5py.File(files["vgg16", "nested"], "r") as src, h5py.File(path, "w") as dst:
        dst.attrs["model_config"] = b"{}"
        group = dst.create_group("model_weights")
        for name in src:
            src.copy(src[name], group, name=name)
        fc1 = group.create_group("fc1")
        fc1.attrs["weight_names"] = np.array([b"fc1/kernel:0", b"fc1/bias:0"])
        fc1.create_dataset("fc1/kernel:0", data=np.ones((8, 4), np.float32))
        fc1.create_dataset("fc1/bias:0", data=np.ones((4,), np.float32))
        names = [*src.attrs["layer_names"], b"flatten", b"fc1"]
        group.create_group("flatten").attrs["weight_names"] = np.array([], dtype="S1")
        group.attrs["layer_names"] = np.array(names)
    _assert_weights_equal(vgg.read_keras_weights(path, "vgg16"), weights["vgg16"])


# ---- errors --------------------------------------------------------------------------------------


def _edited_copy(src, dst, edit):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "a") as f:
        edit(f)
    return dst


def test_missing_file(tmp_path):
    with pytest.raises(UserError) as excinfo:
        vgg.read_keras_weights(tmp_path / "nope.h5", "vgg19")
    _assert_one_line_error(
        excinfo,
        "nope.h5",
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/",
        "--config.weights=",
        "never downloaded",
    )
    with pytest.raises(UserError) as excinfo:  # a directory is not a weights file either
        vgg.read_keras_weights(tmp_path, "vgg16")
    _assert_one_line_error(excinfo, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")


def test_not_hdf5(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_text("<html>\n404 Not Found\n</html>\n")
    with pytest.raises(UserError) as excinfo:
        vgg.read_keras_weights(path, "vgg16")
    _assert_one_line_error(excinfo, str(path), "HDF5")


def test_missing_layer(files, tmp_path):
    def drop_block3_conv2(f):
        del f["block3_conv2"]
        f.attrs["layer_names"] = np.array(
            [n for n in f.attrs["layer_names"] if n != b"block3_conv2"]
        )

    path = _edited_copy(files["vgg16", "flat"], tmp_path / "v.h5", drop_block3_conv2)
    with pytest.raises(UserError) as excinfo:
        vgg.read_keras_weights(path, "vgg16")
    _assert_one_line_error(excinfo, "block3_conv2")
    assert "block3_conv1" not in str(excinfo.value)


def test_wrong_shape(files, tmp_path):
    def shrink_block2_conv1(f):
        del f["block2_conv1/block2_conv1_W_1:0"]
        f["block2_conv1"].create_dataset(
            "block2_conv1_W_1:0", data=np.zeros((3, 3, 64, 64), np.float32)
        )

    path = _edited_copy(files["vgg16", "flat"], tmp_path / "v.h5", shrink_block2_conv1)
    with pytest.raises(UserError) as excinfo:
        vgg.read_keras_weights(path, "vgg16")
    _assert_one_line_error(excinfo, "block2_conv1", "(3, 3, 64, 64)", "(3, 3, 64, 128)")


def test_wrong_number_of_weights(files, tmp_path):
    def kernel_only(f):
        f["block4_conv1"].attrs["weight_names"] = np.array([b"block4_conv1_W_1:0"])

    path = _edited_copy(files["vgg16", "flat"], tmp_path / "v.h5", kernel_only)
    with pytest.raises(UserError) as excinfo:
        vgg.read_keras_weights(path, "vgg16")
    _assert_one_line_error(excinfo, "block4_conv1", "1 weights", "expected 2")


def test_other_network(files):
    with pytest.raises(UserError) as excinfo:
        vgg.read_keras_weights(files["vgg16", "flat"], "vgg19")
    _assert_one_line_error(excinfo, "block3_conv4", "block5_conv4", "vgg16")
    # Every VGG16 layer has its shape in VGG19 too: the extra conv layers must still be refused.
    with pytest.raises(UserError) as excinfo:
        vgg.read_keras_weights(files["vgg19", "nested"], "vgg16")
    _assert_one_line_error(excinfo, "block3_conv4")


# ---- preprocessing and features ------------------------------------------------------------------


def test_preprocess_input():
    pixels = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3)).astype(np.uint8)
    expected = pixels.astype(np.float64)[..., [2, 1, 0]] - MEAN_BGR
    got = vgg.preprocess_input(jnp.asarray(pixels))
    assert got.shape == pixels.shape and got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-4)
    red = vgg.preprocess_input(jnp.array([[[[255.0, 0.0, 0.0]]]]))
    np.testing.assert_allclose(np.asarray(red)[0, 0, 0], [-103.939, -116.779, 131.32], atol=1e-4)


def _np_features(weights, net, x, layers):
    """VGG written independently in float64 NumPy: explicit padding, a sum over the 9 taps."""
    out = {}
    x = x.astype(np.float64)
    depths = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}[net]
    for b, depth in enumerate(depths, start=1):
        for i in range(1, depth + 1):
            k = weights[f"block{b}_conv{i}"]["kernel"].astype(np.float64)
            n, h, w, _ = x.shape
            xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
            y = sum(
                np.einsum(
                    "nhwc,co->nhwo", xp[:, dy : dy + h, dx : dx + w], k[dy, dx], optimize=True
                )
                for dy in range(3)
                for dx in range(3)
            )
            x = np.maximum(y + weights[f"block{b}_conv{i}"]["bias"], 0)
            out[f"block{b}_conv{i}"] = x
        n, h, w, c = x.shape
        x = x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
        out[f"block{b}_pool"] = x
    return {name: out[name] for name in layers}


@pytest.mark.parametrize(
    ("net", "layers"),
    [
        ("vgg19", ("block1_conv1", "block2_pool", "block3_conv2", "block5_conv4", "block5_conv3")),
        ("vgg16", ("block4_pool", "block5_conv3", "block1_conv2")),
    ],
)
@pytest.mark.parametrize("hw", [(32, 32), (32, 48)])
def test_features_match_numpy(weights, net, layers, hw):
    w = weights[net]
    # Nonzero biases so that the bias path is exercised.
    rng = np.random.default_rng(1)
    w = {
        n: {"kernel": p["kernel"], "bias": rng.normal(0, 0.1, p["bias"].shape)}
        for n, p in w.items()
    }
    w = {n: {k: v.astype(np.float32) for k, v in p.items()} for n, p in w.items()}
    pixels = rng.uniform(0, 255, (2, *hw, 3)).astype(np.float32)
    x = np.asarray(vgg.preprocess_input(pixels))
    # Full float32 convolutions also on accelerators (TF32 would need a much looser tolerance).
    with jax.default_matmul_precision("float32"):
        got = vgg.features(w, x, layers)
    expected = _np_features(w, net, x, layers)
    assert list(got) == list(layers)
    for name in layers:
        assert got[name].shape == expected[name].shape, name
        scale = np.abs(expected[name]).max()
        assert scale > 0, name
        np.testing.assert_allclose(
            np.asarray(got[name]), expected[name], rtol=1e-4, atol=1e-4 * scale, err_msg=name
        )


def test_features_jit_and_stops_early(weights):
    w = weights["vgg19"]
    x = vgg.preprocess_input(np.random.default_rng(2).uniform(0, 255, (1, 16, 16, 3)))
    layers = ("block2_conv1", "block1_pool")
    eager = vgg.features(w, x, layers)
    jitted = jax.jit(vgg.features, static_argnames="layers")(w, x, layers)
    for name in layers:
        np.testing.assert_allclose(np.asarray(jitted[name]), np.asarray(eager[name]), rtol=1e-5)
    assert eager["block2_conv1"].shape == (1, 8, 8, 128)
    # block1_conv1, block1_conv2, block2_conv1 and nothing deeper.
    jaxpr = str(jax.make_jaxpr(lambda w, x: vgg.features(w, x, layers))(w, x))
    assert jaxpr.count("conv_general_dilated[") == 3
    assert jaxpr.count("reduce_max[") == 1  # block1_pool (jaxgen.nn.pooling.max_pool_2x2)


def test_features_errors(weights):
    x = jnp.zeros((1, 32, 32, 3))
    with pytest.raises(UserError) as excinfo:
        vgg.features(weights["vgg16"], x, ["block5_conv4"])
    _assert_one_line_error(excinfo, "block5_conv4", "valid:", "block5_conv3")
    with pytest.raises(UserError) as excinfo:
        vgg.features(weights["vgg19"], x[:, :8], ["block5_conv1"])
    _assert_one_line_error(excinfo, "16")
    partial = {n: weights["vgg16"][n] for n in vgg.conv_layer_names("vgg16")[:4]}
    with pytest.raises(UserError) as excinfo:
        vgg.features(partial, x, ["block1_conv1"])
    _assert_one_line_error(excinfo, "vgg16")


@pytest.mark.parametrize(
    ("layers", "size"),
    [
        (["block1_conv1"], 1),
        (["block1_pool"], 2),
        (["block2_conv2", "block1_conv1"], 2),
        (["block3_conv4"], 4),
        (["block5_conv1"], 16),
        (["block1_conv1", "block5_conv4"], 16),
        (["block5_pool"], 32),
        ([], 1),
    ],
)
def test_min_image_size(layers, size):
    assert vgg.min_image_size(layers) == size


def test_min_image_size_unknown_layer():
    with pytest.raises(UserError) as excinfo:
        vgg.min_image_size(["fc1"])
    _assert_one_line_error(excinfo, "fc1", "block1_conv1")
