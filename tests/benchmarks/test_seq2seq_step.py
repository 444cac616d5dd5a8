"""benchmarks/seq2seq_step.py's PyTorch copy of the seq2seq model: the parameter mapping (Flax's
per-gate Dense layers <-> PyTorch's stacked gates) and the copy's loss, gradients and one step
against jaxgen's, with every parameter random (the biases start at zero, which would hide a
gate order mistake in them)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.families.seq2seq.model import Seq2Seq
from tests.benchmarks import load_benchmark

from ..conftest import numpy_init, smoke_config


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("seq2seq_step")


def test_parameters_map_to_torch_names_and_back(bench):
    model = Seq2Seq(12, 9, "lstm", 8, 1, 6, False, "bahdanau")
    source, lengths = jnp.array([[4, 5, 6], [7, 8, 0]]), jnp.array([3, 2])
    params = numpy_init(model, source, lengths, jnp.array([1, 1]))["params"]
    names = bench.to_torch_names(params)
    decoder = params["decoder_0"]
    # PyTorch's gates i, f, g, o stacked by rows, each (out x in): Flax's kernels transposed.
    np.testing.assert_array_equal(names["decoder.weight_ih"][8:16], decoder["if"]["kernel"].T)
    np.testing.assert_array_equal(names["decoder.weight_hh"][16:24], decoder["hg"]["kernel"].T)
    np.testing.assert_array_equal(names["decoder.bias_hh"][24:], decoder["ho"]["bias"])
    assert not names["encoder.bias_ih_l0"].any() and names["encoder.weight_ih_l0"].shape == (32, 6)
    back = bench.from_torch_names(names.__getitem__)
    jax.tree.map(np.testing.assert_array_equal, back, jax.tree.map(np.asarray, params))


def test_torch_copy_matches_jaxgen_loss_gradients_and_one_step(bench):
    torch = pytest.importorskip("torch")
    from jaxgen.families import build_task

    task = build_task(smoke_config("seq2seq_addition"))
    bench.check_supported(task)
    source = jnp.full((1, 2), 3, jnp.int32)
    params = numpy_init(task.model, source, jnp.array([2]), jnp.array([1]))["params"]
    (batch,) = bench.largest_bucket_batches(task, 1)
    assert batch["source"].shape[1] == max(task.boundaries["train"])[0]
    checks = bench.check_against_torch(torch, task, params, batch, jax.random.key(0))
    assert checks["loss_rel_diff"] < 1e-5
    assert checks["grads_max_rel_diff"] < 1e-5
    assert checks["params_after_one_step_share_within_1pct_of_lr"] > 0.999
