"""The loop's data iterator: bounded read-ahead, worker processes, the same order and the same
continuation from a saved state for every setting (exact resume after SIGKILL with workers is
tests/train/test_contract.py's)."""

from __future__ import annotations

import pytest

from jaxgen.data import load_split, train_dataset
from jaxgen.data.pipeline import iterate


def _batches(iterator, n):
    return [next(iterator)["label"].tolist() for _ in range(n)]


@pytest.mark.parametrize("workers, prefetch", [(0, 1), (0, 4), (2, 2)])
def test_every_setting_reads_the_dataset_s_order_and_resumes_from_its_state(workers, prefetch):
    dataset = train_dataset(load_split("digits", "train"), 16, seed=3)
    expected = [dataset[i]["label"].tolist() for i in range(12)]
    iterator = iterate(dataset, workers=workers, prefetch=prefetch)
    assert _batches(iterator, 5) == expected[:5]
    state = iterator.get_state()
    assert _batches(iterator, 7) == expected[5:]
    iterator.close()
    resumed = iterate(dataset, workers=workers, prefetch=prefetch)
    resumed.set_state(state)
    assert _batches(resumed, 7) == expected[5:]
    resumed.close()
