import numpy as np

from jaxgen.data import Split, load_split, train_dataset


def _labels_of(batch):
    return batch["label"].tolist()


def test_batches_are_deterministic_float_and_cover_each_epoch():
    split = load_split("digits", "train")
    n = len(split)
    ds = train_dataset(split, 2, seed=3)
    again = train_dataset(split, 2, seed=3)
    first = [ds[i] for i in range(n // 2)]
    assert all(
        np.array_equal(a["image"], b["image"])
        for a, b in zip(first, [again[i] for i in range(n // 2)], strict=True)
    )
    assert first[0]["image"].dtype == np.float32 and first[0]["image"].shape == (2, 8, 8, 1)
    # One epoch of a 1-example pipeline is a permutation of the split, and epochs differ.
    single = train_dataset(split, 1, seed=3)
    epoch0 = np.concatenate([single[i]["image"] for i in range(n)]).reshape(n, -1)
    epoch1 = np.concatenate([single[i]["image"] for i in range(n, 2 * n)]).reshape(n, -1)
    original = split.pixels().reshape(n, -1)
    key = lambda a: sorted(map(bytes, (a * 255).round().astype(np.uint8)))  # noqa: E731
    assert key(epoch0) == key(original) == key(epoch1)
    assert not np.array_equal(epoch0, epoch1)
    other_seed = train_dataset(split, 2, seed=4)
    assert not np.array_equal(other_seed[0]["image"], first[0]["image"])


def _indexed_split(n: int) -> Split:
    """A synthetic split whose labels are the example indices."""
    images = np.zeros((n, 2, 2, 1), np.uint8)
    return Split("synthetic", "train", images, np.arange(n, dtype=np.int32), None)


def test_processes_read_disjoint_shares_that_cover_the_split():
    split = _indexed_split(40)
    shares = [train_dataset(split, 4, seed=0, process_index=i, process_count=2) for i in range(2)]
    assert shares[0][0]["image"].shape[0] == 2  # global batch 4 over 2 processes
    seen = [{int(v) for i in range(10) for v in s[i]["label"]} for s in shares]  # one epoch each
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(range(40))


def test_iterator_state_restores_the_position():
    split = load_split("digits", "train")
    ds = train_dataset(split, 8, seed=1)
    it = iter(ds)
    for _ in range(5):
        next(it)
    state = it.get_state()
    expected = [next(it)["image"] for _ in range(3)]
    resumed = iter(ds)
    resumed.set_state(state)
    assert all(np.array_equal(next(resumed)["image"], e) for e in expected)
