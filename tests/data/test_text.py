import numpy as np
import pytest

from jaxgen.data.text import IGNORE_TARGET, eval_windows, load_text, tbptt_dataset
from jaxgen.errors import UserError


def test_vocab_encode_decode_round_trip(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text("abc cab\nbä€😀 ab", encoding="utf-8")
    corpus = load_text(str(path), test_fraction=0.25)
    assert corpus.vocab == ("\n", " ", "a", "b", "c", "ä", "€", "😀")
    assert corpus.vocab_size == 8
    ids = corpus.encode("cab😀\n")
    assert ids.dtype == np.int32 and ids.tolist() == [4, 2, 3, 7, 0]
    assert corpus.decode(ids) == "cab😀\n"
    splits = [corpus.decode(corpus.split_ids(s)) for s in ("train", "validation", "test")]
    assert "".join(splits) == corpus.text
    with pytest.raises(ValueError, match=r"\['x', 'z'\]"):
        corpus.encode("abzx")


def test_pydoc_loads_with_a_positional_split():
    from pydoc_data.topics import topics

    corpus = load_text("pydoc", test_fraction=0.1)
    n = len(corpus.text)
    assert n > 400_000
    assert corpus.text.startswith(topics[min(topics)])
    assert len(corpus.test_ids) == round(0.1 * n)
    rest = n - len(corpus.test_ids)
    assert len(corpus.validation_ids) == round(0.1 * rest)  # the end of the rest: validation
    assert len(corpus.train_ids) + len(corpus.validation_ids) + len(corpus.test_ids) == n
    assert corpus.decode(corpus.test_ids) == corpus.text[n - len(corpus.test_ids) :]
    train_text = corpus.decode(corpus.train_ids)
    assert corpus.text.startswith(train_text)
    assert corpus.decode(corpus.validation_ids) == corpus.text[len(train_text) : rest]
    assert corpus.train_ids.dtype == np.int32 and corpus.vocab == tuple(sorted(set(corpus.text)))
    other = load_text("pydoc", test_fraction=0.2)
    assert len(other.test_ids) == round(0.2 * n)


def test_local_file_by_path_and_file_prefix(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("0123456789" * 10, encoding="utf-8")
    corpus = load_text(f"file:{path}", test_fraction=0.3)
    assert corpus.decode(corpus.test_ids) == ("0123456789" * 10)[70:]
    assert corpus.decode(corpus.validation_ids) == ("0123456789" * 10)[63:70]
    assert corpus.decode(corpus.train_ids) == ("0123456789" * 10)[:63]
    assert load_text(str(path)).vocab == tuple("0123456789")


def test_unknown_name_and_missing_file_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown text dataset 'war_and_peace'.*pydoc"):
        load_text("war_and_peace")
    with pytest.raises(UserError, match="text file not found"):
        load_text(str(tmp_path / "missing.txt"))
    with pytest.raises(UserError, match="text file not found"):
        load_text("file:missing.txt")


def test_tiny_shakespeare_not_prepared_says_how(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(UserError, match="tfds build tiny_shakespeare --file_format=array_record"):
        load_text("tiny_shakespeare")


def test_tiny_shakespeare_prepared_keeps_its_three_splits(tmp_path, monkeypatch):
    # The real TFDS builder (its features, version and file names), prepared offline from a
    # stand-in text instead of the downloaded file; `load_text` then reads it like the real set.
    from tensorflow_datasets.datasets.tiny_shakespeare import tiny_shakespeare_dataset_builder

    real = tiny_shakespeare_dataset_builder.Builder
    parts = {"train": "First Citizen:\nBefore", "validation": " we proceed", "test": " hear me."}

    class Fake(real, skip_registration=True):
        name = "tiny_shakespeare"
        pkg_dir_path = real._get_pkg_dir_path()

        def _split_generators(self, dl_manager):
            return {k: self._generate_examples(k, v) for k, v in parts.items()}

    Fake(data_dir=str(tmp_path), file_format="array_record").download_and_prepare()
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    corpus = load_text("tiny_shakespeare")
    assert corpus.decode(corpus.train_ids) == "First Citizen:\nBefore"
    assert corpus.decode(corpus.validation_ids) == " we proceed"
    assert corpus.decode(corpus.test_ids) == " hear me."
    assert corpus.vocab == tuple(sorted(set("".join(parts.values()))))


def _counting_ids(n=1000):
    return np.arange(n, dtype=np.int32)  # id = position, so batches show where they come from


def test_tbptt_rows_continue_across_batches_and_targets_are_shifted():
    ids = _counting_ids()
    ds = tbptt_dataset(ids, batch_size=4, seq_len=10, seed=0)
    windows = (1000 - 10) // 40  # per epoch
    for i in range(2 * windows + 3):
        batch, after = ds[i], ds[i + 1]
        assert batch["inputs"].shape == (4, 10) and batch["inputs"].dtype == np.int32
        assert np.array_equal(batch["targets"][:, :-1], batch["inputs"][:, 1:])
        assert np.array_equal(batch["targets"][:, -1], batch["inputs"][:, -1] + 1)
        if (i + 1) % windows:
            assert np.array_equal(after["inputs"][:, 0], batch["targets"][:, -1])
    # One epoch: every stream contiguous, equal length, streams back to back.
    epoch = np.concatenate([ds[i]["inputs"] for i in range(windows)], axis=1)
    assert np.array_equal(np.diff(epoch, axis=1), np.ones((4, windows * 10 - 1)))
    assert np.array_equal(np.diff(epoch[:, 0]), [windows * 10] * 3)


def test_tbptt_is_a_function_of_the_seed_and_epochs_differ():
    ids = _counting_ids()
    windows = (1000 - 10) // 40
    a, b = tbptt_dataset(ids, 4, 10, seed=7), tbptt_dataset(ids, 4, 10, seed=7)
    for i in [0, 5, windows, 3 * windows + 1]:
        assert np.array_equal(a[i]["inputs"], b[i]["inputs"])
    starts = {int(a[e * windows]["inputs"][0, 0]) for e in range(5)}
    assert len(starts) > 1  # the epochs' offsets differ
    assert not np.array_equal(tbptt_dataset(ids, 4, 10, seed=8)[0]["inputs"], a[0]["inputs"])


def test_processes_get_contiguous_slices_of_the_global_batch():
    ids = _counting_ids()
    full = tbptt_dataset(ids, 4, 10, seed=3)
    shares = [tbptt_dataset(ids, 4, 10, seed=3, process_index=p, process_count=2) for p in (0, 1)]
    for i in [0, 1, 30, 31]:
        assert shares[0][i]["inputs"].shape == (2, 10)
        for key in ("inputs", "targets"):
            joined = np.concatenate([s[i][key] for s in shares])
            assert np.array_equal(joined, full[i][key])


def test_iterator_state_round_trip_resumes_the_same_batches():
    ds = tbptt_dataset(_counting_ids(), 4, 10, seed=1)
    it = iter(ds)
    for _ in range(30):  # past the end of the first epoch
        next(it)
    state = it.get_state()
    expected = [next(it)["inputs"] for _ in range(3)]
    resumed = iter(tbptt_dataset(_counting_ids(), 4, 10, seed=1))
    resumed.set_state(state)
    assert all(np.array_equal(next(resumed)["inputs"], e) for e in expected)
    assert np.array_equal(expected[0], ds[30]["inputs"])


@pytest.mark.parametrize("n", [2, 11, 21, 57])
def test_eval_windows_score_every_character_after_the_first_once(n):
    ids = (np.arange(n) * 7 % 13).astype(np.int32)
    inputs, targets = eval_windows(ids, seq_len=10)
    assert inputs.shape == targets.shape == (-(-(n - 1) // 10), 1, 10)
    flat_in, flat_t = inputs.reshape(-1), targets.reshape(-1)
    scored = flat_t != IGNORE_TARGET
    assert np.array_equal(flat_t[scored], ids[1:])  # each of ids[1:] once, in order
    assert np.array_equal(flat_in[scored], ids[:-1])  # predicted from the character before
    assert not scored[n - 1 :].any()
