"""VGG16/VGG19 feature extractors that read Keras applications weights files, without TensorFlow.

Keras publishes the ImageNet weights of VGG16 and VGG19 without the classifier ("notop") as HDF5
files, ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` and
``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``. ``read_keras_weights`` reads them with h5py
into NumPy arrays and ``features`` runs the convolutional part of the network in JAX (oneDNN's
convolutions on the CPU, ``jaxgen.nn.onednn``, XLA's elsewhere, and ``jaxgen.nn.pooling``'s max
pooling), returning the activations of named layers, e.g. for perceptual / style losses.
Weights are never downloaded at run time; ``random_weights`` gives the random-weight VGG of He,
Wang & Hopcroft (2016) for offline use.

File layout (Keras 2 ``save_weights``): a root attribute ``layer_names``; one group per layer named
as the layer; each group's attribute ``weight_names`` lists its datasets (kernel, then bias) as
paths relative to the group. Files written by ``model.save`` hold all of this under a root group
``model_weights``.

Network: 3x3 convolutions, stride 1, SAME padding, ReLU, in blocks of 2,2,3,3,3 (VGG16) or
2,2,4,4,4 (VGG19) layers of 64,128,256,512,512 channels; every block ends in a 2x2, stride 2, VALID
max pooling. Layers are named ``block{b}_conv{i}`` and ``block{b}_pool`` as in Keras.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

import h5py
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.errors import UserError
from jaxgen.nn import onednn
from jaxgen.nn.pooling import max_pool_2x2

Array = jax.Array
Weights = dict[str, dict[str, np.ndarray]]

NETWORKS = ("vgg16", "vgg19")

_BLOCK_DEPTHS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_BLOCK_WIDTHS = (64, 128, 256, 512, 512)
# Keras's "caffe" preprocessing: ImageNet channel means in B, G, R order, in [0, 255] pixel units.
_MEAN_BGR = (103.939, 116.779, 123.68)
_DN = ("NHWC", "HWIO", "NHWC")
_CONV_NAME = re.compile(r"block(\d+)_conv(\d+)")


def _check_network(network: str) -> None:
    if network not in NETWORKS:
        raise UserError(f"unknown VGG network {network!r}; choose one of {', '.join(NETWORKS)}")


def conv_layer_names(network: str) -> list[str]:
    """The convolution layer names of ``network`` ('vgg16' or 'vgg19') in forward order."""
    _check_network(network)
    return [
        f"block{b}_conv{i}"
        for b, depth in enumerate(_BLOCK_DEPTHS[network], start=1)
        for i in range(1, depth + 1)
    ]


def layer_names(network: str) -> list[str]:
    """The convolution and pooling layer names of ``network`` in forward order."""
    _check_network(network)
    names = []
    for b, depth in enumerate(_BLOCK_DEPTHS[network], start=1):
        names += [f"block{b}_conv{i}" for i in range(1, depth + 1)]
        names.append(f"block{b}_pool")
    return names


def _expected_shapes(network: str) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """(kernel shape, bias shape) of every conv layer: (3, 3, in, out) and (out,)."""
    shapes = {}
    c_in = 3  # RGB (BGR after preprocessing)
    for b, depth in enumerate(_BLOCK_DEPTHS[network], start=1):
        c_out = _BLOCK_WIDTHS[b - 1]
        for i in range(1, depth + 1):
            shapes[f"block{b}_conv{i}"] = ((3, 3, c_in, c_out), (c_out,))
            c_in = c_out
    return shapes


def preprocess_input(pixels_NxHxWx3: Array) -> Array:
    """Keras's ``vgg16/vgg19.preprocess_input`` ("caffe" mode) in jax.numpy.

    Args:
      pixels_NxHxWx3: RGB pixels in [0, 255] (any leading axes; the last one is the channel).

    Returns:
      float32 array of the same shape: channels reversed to BGR, minus the ImageNet means
      (103.939, 116.779, 123.68) in B, G, R order; still in pixel units (no scaling).
    """
    x = jnp.asarray(pixels_NxHxWx3, dtype=jnp.float32)
    return x[..., ::-1] - jnp.asarray(_MEAN_BGR, dtype=jnp.float32)


def keras_filename(network: str) -> str:
    """The name of the notop weights file Keras publishes for `network`."""
    return f"{network}_weights_tf_dim_ordering_tf_kernels_notop.h5"


def keras_url(network: str) -> str:
    """Where Keras publishes that file (users download it themselves; jaxgen never does)."""
    return (
        "https://storage.googleapis.com/tensorflow/keras-applications/"
        f"{network}/{keras_filename(network)}"
    )


def _one_line(err: BaseException) -> str:
    """An exception's message on one line (h5py's messages can span several)."""
    return " ".join(str(err).split()) or type(err).__name__


def _decode(names: object) -> list[str]:
    """An HDF5 string-array attribute as a list of str.

    Keras writes bytes; an empty list may come back as an empty float array, and h5py returns
    variable-length strings as str, so every element type is accepted.
    """
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in np.atleast_1d(names)]


def _weights_root(f: h5py.File) -> h5py.Group:
    """The group holding ``layer_names``: the file itself, or ``model_weights`` of model.save."""
    if "layer_names" not in f.attrs and isinstance(f.get("model_weights"), h5py.Group):
        return f["model_weights"]
    return f


def _read_layer(
    root: h5py.Group, name: str, shapes: tuple[tuple[int, ...], ...], path: str
) -> dict[str, np.ndarray]:
    """Kernel and bias of one conv layer group, following its ``weight_names`` in order."""
    group = root[name]
    if not isinstance(group, h5py.Group):
        raise UserError(f"{path}: {name} is not an HDF5 group of weights")
    weight_names = _decode(group.attrs.get("weight_names", []))
    if len(weight_names) != 2:
        raise UserError(
            f"{path}: layer {name} has {len(weight_names)} weights {weight_names}; "
            "expected 2 (kernel, bias)"
        )
    arrays = []
    for weight_name, kind, expected in zip(weight_names, ("kernel", "bias"), shapes, strict=True):
        dataset = group.get(weight_name)
        if not isinstance(dataset, h5py.Dataset):
            raise UserError(
                f"{path}: layer {name} lists weight {weight_name!r} but has no such dataset"
            )
        if dataset.shape != expected:
            raise UserError(
                f"{path}: layer {name} {kind} has shape {tuple(dataset.shape)}, expected {expected}"
            )
        arrays.append(np.asarray(dataset[()], dtype=np.float32))
    return {"kernel": arrays[0], "bias": arrays[1]}


def read_keras_weights(path: str | os.PathLike[str], network: str) -> Weights:
    """Read the conv weights of a Keras VGG16/VGG19 weights file (HDF5) with h5py.

    Accepts the published "notop" files, the with-top files (``fc1`` etc. are ignored), the newer
    nested layout and files saved with the whole model (``model_weights`` root group).

    Returns:
      ``{layer: {"kernel": (3, 3, in, out) float32, "bias": (out,) float32}}`` for every conv layer
      of ``network`` (see ``conv_layer_names``), in forward order.

    Raises:
      UserError (one line): the file is missing, is not HDF5 or is unreadable, lacks a conv layer,
      has a layer with a wrong number of weights or a weight of the wrong shape, or holds conv
      layers that only the other network has (a VGG19 file read as vgg16).
    """
    _check_network(network)
    path = os.fspath(path)
    if not os.path.isfile(path):
        filename = keras_filename(network)
        raise UserError(
            f"no {network} weights file at {path}: download Keras's {filename} "
            f"({keras_url(network)}) "
            "and pass its path with --config.weights=PATH; weights are never downloaded at run time"
        )
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise UserError(
            f"cannot read {path} as an HDF5 Keras weights file: {_one_line(err)}"
        ) from None
    expected = _expected_shapes(network)
    try:
        with f:
            root = _weights_root(f)
            # layer_names is the authoritative list in Keras files; the group names are a fallback
            # for files written by other tools.
            if "layer_names" in root.attrs:
                present = _decode(root.attrs["layer_names"])
            else:
                present = list(root.keys())
            present = [n for n in present if n in root]
            missing = [n for n in expected if n not in present]
            if missing:
                other = "vgg16" if network == "vgg19" else "vgg19"
                hint = ""
                if all(n in present for n in conv_layer_names(other)):
                    hint = f" (it looks like a {other} weights file)"
                raise UserError(
                    f"{path}: no {network} conv layer{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)}{hint}"
                )
            # A VGG16 layer has the same shape in VGG19, so a VGG19 file would pass every check
            # as vgg16 and silently give the wrong network: its extra conv layers give it away.
            foreign = [n for n in present if _CONV_NAME.fullmatch(n) and n not in expected]
            if foreign:
                raise UserError(
                    f"{path}: has conv layers {', '.join(foreign)} that {network} lacks; "
                    "is it a weights file of another network?"
                )
            return {
                name: _read_layer(root, name, shapes, path) for name, shapes in expected.items()
            }
    except UserError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as err:  # a corrupt or truncated file
        raise UserError(f"cannot read {path}: {_one_line(err)}") from None


def random_weights(key: Array | np.random.Generator, network: str) -> Weights:
    """Random VGG weights: He-normal kernels, std sqrt(2 / (9 * in)), and zero biases, float32.

    The random-weight VGG of He, Wang & Hopcroft (2016), usable without downloading anything.
    ``key`` is a JAX PRNG key or a NumPy ``Generator``; the result has the layout of
    ``read_keras_weights`` (NumPy arrays).
    """
    _check_network(network)
    shapes = _expected_shapes(network)
    sizes = [int(np.prod(kernel_shape)) for kernel_shape, _ in shapes.values()]
    # One flat draw sliced per layer: one JAX compilation instead of one per kernel shape.
    if isinstance(key, np.random.Generator):
        flat = key.standard_normal(sum(sizes), dtype=np.float32)
    else:
        flat = np.asarray(jax.random.normal(key, (sum(sizes),), jnp.float32))
    offsets = np.cumsum([0, *sizes])
    draws = [
        flat[start:stop].reshape(kernel_shape)
        for start, stop, (kernel_shape, _) in zip(
            offsets[:-1], offsets[1:], shapes.values(), strict=True
        )
    ]
    weights = {}
    for (name, (kernel_shape, bias_shape)), z in zip(shapes.items(), draws, strict=True):
        std = np.float32(np.sqrt(2.0 / (9 * kernel_shape[2])))
        weights[name] = {"kernel": z * std, "bias": np.zeros(bias_shape, np.float32)}
    return weights


def _check_weights(weights: Mapping[str, Mapping[str, object]], network: str) -> None:
    """The names and shapes of ``weights`` are those of ``network``'s conv layers."""
    expected = _expected_shapes(network)
    if set(weights) != set(expected):
        raise UserError(
            f"weights have layers {sorted(weights)}, expected those of {network}: "
            f"{', '.join(expected)}"
        )
    for name, (kernel_shape, bias_shape) in expected.items():
        layer = weights[name]
        if set(layer) != {"kernel", "bias"}:
            raise UserError(f"weights of {name} have keys {sorted(layer)}, expected bias, kernel")
        for kind, shape in (("kernel", kernel_shape), ("bias", bias_shape)):
            found = tuple(np.shape(layer[kind]))
            if found != shape:
                raise UserError(f"{name} {kind} has shape {found}, expected {shape}")


def write_keras_weights(
    path: str | os.PathLike[str], weights: Weights, network: str, nested: bool = False
) -> None:
    """Write ``weights`` (the layout of ``read_keras_weights``) as a Keras VGG weights file.

    ``nested=False`` writes the layout of the files Keras published: root attribute
    ``layer_names`` with ``input_1``, the conv and the pool layers; conv groups with
    ``weight_names`` ``[b"block1_conv1_W_1:0", b"block1_conv1_b_1:0"]`` and those datasets directly
    in the group; input and pool groups with empty ``weight_names``. ``nested=True`` writes the
    later layout: ``block1_conv1/block1_conv1/kernel:0`` with ``weight_names``
    ``[b"block1_conv1/kernel:0", b"block1_conv1/bias:0"]``. Arrays are stored as float32.
    """
    _check_network(network)
    _check_weights(weights, network)
    names = ["input_1", *layer_names(network)]
    with h5py.File(os.fspath(path), "w") as f:
        f.attrs["layer_names"] = np.array([n.encode("utf8") for n in names])
        for name in names:
            group = f.create_group(name)
            if name not in weights:
                group.attrs["weight_names"] = np.array([], dtype="S1")
                continue
            if nested:
                weight_names = [f"{name}/kernel:0", f"{name}/bias:0"]
            else:
                weight_names = [f"{name}_W_1:0", f"{name}_b_1:0"]
            group.attrs["weight_names"] = np.array([n.encode("utf8") for n in weight_names])
            for weight_name, kind in zip(weight_names, ("kernel", "bias"), strict=True):
                # create_dataset makes the intermediate group of a nested path.
                group.create_dataset(weight_name, data=np.asarray(weights[name][kind], np.float32))


def _network_of(weights: Mapping[str, object]) -> str:
    """vgg16 or vgg19, from the exact set of conv layer names in ``weights``."""
    for network in NETWORKS:
        if set(weights) == set(conv_layer_names(network)):
            return network
    raise UserError(
        f"weights have layers {sorted(weights)}, which are neither vgg16's nor vgg19's conv layers"
    )


def min_image_size(layers: Sequence[str]) -> int:
    """The smallest image side (pixels) for which every requested layer is non-empty.

    Each 2x2 VALID pooling halves the side (rounding down), so a layer needs 2 ** (number of
    poolings up to and including it): ``block1_conv1`` needs 1, ``block5_conv1`` 16 and
    ``block5_pool`` 32 (Keras's minimum for notop). Layer names are those of ``layer_names`` of
    either network; no layers need 1.
    """
    valid = set(layer_names("vgg19"))
    unknown = [n for n in layers if n not in valid]
    if unknown:
        raise UserError(
            f"unknown VGG layers {', '.join(unknown)}; valid: {', '.join(layer_names('vgg19'))}"
        )
    pools = 0
    for name in layers:
        block = int(name.partition("_")[0].removeprefix("block"))
        # Block b's convs follow b - 1 poolings; its pool layer also counts itself.
        pools = max(pools, block if name.endswith("_pool") else block - 1)
    return 2**pools


def features(
    weights: Mapping[str, Mapping[str, Array | np.ndarray]],
    x_NxHxWx3: Array,
    layers: Sequence[str],
) -> dict[str, Array]:
    """Activations of the requested VGG layers on preprocessed images.

    Args:
      weights: ``{conv layer: {"kernel", "bias"}}`` as from ``read_keras_weights`` or
        ``random_weights``; the network (vgg16 or vgg19) is inferred from its layer names.
      x_NxHxWx3: the output of ``preprocess_input`` (BGR, mean-subtracted pixel units), with
        H and W at least ``min_image_size(layers)``.
      layers: conv layer names (post-ReLU activation) and pool names (pool output); static under
        ``jax.jit``. Layers past the deepest requested one are not computed.

    Returns:
      ``{name: (N, h, w, C) array}`` for every requested name, in x's floating dtype.
    """
    network = _network_of(weights)
    valid = layer_names(network)
    unknown = [n for n in layers if n not in valid]
    if unknown:
        raise UserError(f"unknown {network} layers {', '.join(unknown)}; valid: {', '.join(valid)}")
    x = jnp.asarray(x_NxHxWx3)
    if x.ndim != 4 or x.shape[-1] != 3 or not jnp.issubdtype(x.dtype, jnp.floating):
        raise UserError(
            f"VGG input must be floating (N, H, W, 3) images, got {x.dtype} {tuple(x.shape)}"
        )
    need = min_image_size(layers)
    if min(x.shape[1], x.shape[2]) < need:
        raise UserError(
            f"VGG layers {', '.join(layers)} need images of at least {need}x{need} pixels, "
            f"got {x.shape[1]}x{x.shape[2]}"
        )
    wanted = set(layers)
    found: dict[str, Array] = {}
    for name in valid:
        if len(found) == len(wanted):
            break  # everything requested is computed: skip the deeper layers
        if name.endswith("_pool"):
            x = max_pool_2x2(x)
        else:
            kernel = jnp.asarray(weights[name]["kernel"], x.dtype)
            bias = jnp.asarray(weights[name]["bias"], x.dtype)
            x = onednn.conv_general_dilated_compatible(
                x, kernel, (1, 1), "SAME", dimension_numbers=_DN
            )
            x = jax.nn.relu(x + bias)
        if name in wanted:
            found[name] = x
    return {name: found[name] for name in layers}
