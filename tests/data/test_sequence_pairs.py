import datetime
import os
import re

import ml_collections
import numpy as np
import pytest

from jaxgen.data import sequence_pairs as sp
from jaxgen.data.sequence_pairs import BOS, EOS, PAD, UNK, Vocabulary
from jaxgen.errors import UserError


def pair_config(dataset, **overrides) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict(
        {
            "dataset": dataset,
            "seed": 0,
            "max_length": 40,
            "too_long": "drop",
            "tokens": "auto",
            "validation_fraction": 0.1,
            "test_fraction": 0.1,
            "addition": {"examples": 500, "digits": 2, "reverse": False, "longer_digits": 0},
            "dates": {"examples": 500},
        }
    )
    config.update(overrides)
    return config


def operands(source: str) -> tuple[int, int]:
    a, b = source.split("+")
    return int(a), int(b)


# ---------------------------------------------------------------------------------------------
# addition


def test_addition_targets_are_the_sums_of_unique_problems():
    pairs = sp.addition_pairs(3000, 3, seed=0)
    assert len(pairs) == 3000
    for source, target in pairs:
        a, b = operands(source)
        assert target == str(a + b) and 0 <= a <= 999 and 0 <= b <= 999
    problems = {tuple(sorted(operands(source))) for source, _ in pairs}
    assert len(problems) == 3000  # a+b and b+a count as one problem
    # Keras draws the length first: about a third of the operands have one digit.
    one_digit = np.mean([len(source.split("+")[0]) == 1 for source, _ in pairs])
    assert 0.2 < one_digit < 0.45


def test_addition_reverse_reverses_the_source_only_and_is_seeded():
    plain = sp.addition_pairs(200, 3, seed=7)
    reversed_ = sp.addition_pairs(200, 3, seed=7, reverse=True)
    assert [s[::-1] for s, _ in reversed_] == [s for s, _ in plain]
    assert [t for _, t in reversed_] == [t for _, t in plain]
    assert sp.addition_pairs(200, 3, seed=7) == plain
    assert sp.addition_pairs(200, 3, seed=8) != plain


def test_addition_refuses_more_problems_than_exist():
    every = sp.addition_pairs(55, 1, seed=0)  # a <= b in 0..9: 10 * 11 / 2 problems
    assert {tuple(sorted(operands(s))) for s, _ in every} == {
        (a, b) for a in range(10) for b in range(a, 10)
    }
    with pytest.raises(UserError, match="56 addition examples"):
        sp.addition_pairs(56, 1, seed=0)


def test_addition_longer_test_set_has_longer_operands_and_ignores_max_length():
    splits = sp.load_pairs(pair_config("addition", max_length=5, addition=dict(longer_digits=4)))
    assert all(
        len(s) <= 5 and len(t) <= 5 for split in (splits.train, splits.test) for s, t in split
    )
    assert len(splits.train) + len(splits.validation) + len(splits.test) == 500
    assert (len(splits.validation), len(splits.test)) == (50, 50)
    longer = splits.extra["longer"]
    assert len(longer) == sp.LONGER_EXAMPLES
    for source, target in longer:
        a, b = operands(source)
        assert 100 <= a <= 9999 and 100 <= b <= 9999 and target == str(a + b)
    assert max(len(s) for s, _ in longer) > 5
    no_longer = sp.load_pairs(pair_config("addition", addition=dict(longer_digits=2)))
    assert no_longer.extra == {}


# ---------------------------------------------------------------------------------------------
# dates

# strptime patterns (C locale, English) after ordinals and "the" are removed: an independent
# reading of the sources.
DATE_PATTERNS = (
    "%d %B %Y", "%B %d, %Y", "%A, %d %B %Y", "%Y.%m.%d", "%d-%b-%y", "%B %d %Y", "%d.%m.%Y",
    "%A, %B %d, %Y", "%Y/%m/%d", "%d of %B, %Y", "%a %d %b %y", "%d %b '%y", "%Y%m%d",
)  # fmt: skip


def read_date(source: str) -> tuple[datetime.date, tuple]:
    """The date a source denotes, and a signature of its format."""
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", r"\1", source)
    text = text.removeprefix("the ")
    for pattern in DATE_PATTERNS:
        try:
            date = datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if date.year > 2049:  # two-digit years: 50..99 are 1950..1999, 00..49 2000..2049
            date = date.replace(year=date.year - 100)
        case = "upper" if source.isupper() else "lower" if source.islower() else "mixed"
        return date, (pattern, case, text != source)
    raise AssertionError(f"unreadable date {source!r}")


def test_date_targets_are_the_dates_the_sources_write():
    pairs = sp.date_pairs(2000, seed=0)
    assert len({source for source, _ in pairs}) == 2000
    formats = set()
    for source, target in pairs:
        date = datetime.date.fromisoformat(target)
        assert target == date.isoformat()
        assert datetime.date(1950, 1, 1) <= date <= datetime.date(2049, 12, 31)
        read, signature = read_date(source)
        assert read == date, (source, target)
        weekday = re.match(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun)", source)
        if weekday:  # strptime does not check weekdays
            assert date.strftime("%a") == weekday.group(1), (source, target)
        formats.add(signature)
    assert len(formats) >= 12
    assert len(formats) == len(sp.DATE_FORMATS)


def test_dates_are_seeded():
    assert sp.date_pairs(100, seed=3) == sp.date_pairs(100, seed=3)
    assert sp.date_pairs(100, seed=3) != sp.date_pairs(100, seed=4)


# ---------------------------------------------------------------------------------------------
# TSV files

ANKI_LINES = (
    "Go.\tGeh.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #8597805 (Roujin)\n"
    "Hi.\tHallo!\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #380701 (cburgmer)\n"
    "\n"
    "  Run!\t Lauf! \tCC-BY 2.0 (France) Attribution: tatoeba.org #906328 (papabear)\n"
)


def test_tsv_pairs_ignore_extra_columns_and_blank_lines(tmp_path):
    path = tmp_path / "deu.txt"
    path.write_text(ANKI_LINES, encoding="utf-8")
    assert sp.read_tsv_pairs(path) == [("Go.", "Geh."), ("Hi.", "Hallo!"), ("Run!", "Lauf!")]


def test_tsv_errors_are_one_line_and_say_where(tmp_path):
    one_column = tmp_path / "one.tsv"
    one_column.write_text("a\tb\nc\td\n\nno tab here\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"one\.tsv, line 4: one column") as err:
        sp.read_tsv_pairs(one_column)
    assert "\n" not in str(err.value)
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(UserError, match=r"empty\.tsv holds no pairs"):
        sp.read_tsv_pairs(empty)
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes("Tschüss.\tBye.\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"latin1\.tsv is not UTF-8: byte 0xfc at byte offset 4"):
        sp.read_tsv_pairs(latin1)
    with pytest.raises(UserError, match="not found"):
        sp.read_tsv_pairs(tmp_path / "absent.tsv")


def test_single_tsv_file_is_split_by_a_seeded_permutation(tmp_path):
    path = tmp_path / "pairs.tsv"
    pairs = [(f"s{i}", f"t{i}") for i in range(100)]
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    splits = sp.load_pairs(pair_config(str(path), test_fraction=0.2))
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (70, 10, 20)
    assert sorted(splits.train + splits.validation + splits.test) == sorted(pairs)
    assert splits.name == str(path) and splits.dropped == {"train": 0, "validation": 0, "test": 0}
    assert sp.load_pairs(pair_config(str(path), test_fraction=0.2)) == splits
    assert sp.load_pairs(pair_config(str(path), test_fraction=0.2, seed=1)).test != splits.test


def test_folder_splits_are_used_as_given(tmp_path):
    def write(name, pairs):
        (tmp_path / name).write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")

    train = [(f"train {i}", f"T {i}") for i in range(30)]
    test = [("test a", "T a"), ("test b", "T b")]
    write("train.tsv", train)
    write("test.tsv", test)
    splits = sp.load_pairs(pair_config(str(tmp_path), validation_fraction=0.2))
    assert splits.test == test
    assert len(splits.validation) == 6
    assert sorted(splits.train + splits.validation) == sorted(train)
    write("validation.tsv", [("valid", "V")])
    splits = sp.load_pairs(pair_config(str(tmp_path)))
    assert (splits.train, splits.validation, splits.test) == (train, [("valid", "V")], test)
    (tmp_path / "test.tsv").unlink()
    with pytest.raises(UserError, match="lacks test.tsv"):
        sp.load_pairs(pair_config(str(tmp_path)))
    with pytest.raises(UserError, match="unknown pair dataset"):
        sp.load_pairs(pair_config(str(tmp_path / "nothing")))


# ---------------------------------------------------------------------------------------------
# Ding (Debian's trans-de-en)

# Real lines of /usr/share/trans/de-en (trans-de-en 1.9-6), shortened, and two made up in the
# same shape (the equal synonyms, the unequal parts).
DING_LINES = """\
# Version :: devel 2023-01-30
# Copyright (c) :: Frank Richter <frank.richter.tu-chemnitz.de>,
# 1995 - 2023
Aal {m} (auf der Speisekarte) [cook.] | Aal blau; blauer Aal :: Eel (on a menu) | Eel au bleu
Abschied {m} | Abschied nehmen | Er verabschiedete sich. :: leave | to take leave | He took leave.
Noch ist nicht aller Tage Abend.; Man soll den Tag nicht vor dem Abend loben. :: It’s not over \
until it’s over.; It’s not / It isn’t over till the fat lady sings. [Am.]
Abdrücksignal {n} (Rangiersignal) | Abdrücken verboten! :: humpyard signal | No humping!
Abstand {m} | Ich folgte ihm mit einigem Abstand.; Ich folgte ihm in einiger Entfernung. :: \
distance | I followed him at a distance.
Abschluss {m} | Den Abschluss (des Berichts) bildet ein Anhang. :: end | The report ends with an \
appendix.
Ablehnung {f}; Absage {f} | eine Absage an etw. :: rejection | a rejection of sth.
Abmachung {f} | Hast du vergessen, was wir abgemacht/ausgemacht [Ös.] haben? :: deal | Are you \
forgetting our deal?
Abpraller {m} (Ballsport) [sport] | Er köpfte den Abpraller ein. :: rebound | He headed in the \
rebound.
Abpraller {m} [sport] | Er köpfte den Abpraller ein. :: rebound | He headed in the rebound.
Ablöse {f} /Abl./ <Ablösebetrag> | Sie kam gestern. | Er kam heute. :: key money | She came.
Das ist gut.; Das ist sehr schön. :: That is good.; That is very nice.
Hunger {m} | Ich habe großen Hunger. :: hunger | hungry
"""

DING_EXPECTED = [
    ("Er verabschiedete sich.", "He took leave."),
    ("Noch ist nicht aller Tage Abend.", "It’s not over until it’s over."),
    (
        "Man soll den Tag nicht vor dem Abend loben.",
        "It’s not / It isn’t over till the fat lady sings.",
    ),
    ("Ich folgte ihm mit einigem Abstand.", "I followed him at a distance."),
    ("Den Abschluss bildet ein Anhang.", "The report ends with an appendix."),
    ("Hast du vergessen, was wir abgemacht/ausgemacht haben?", "Are you forgetting our deal?"),
    ("Er köpfte den Abpraller ein.", "He headed in the rebound."),
    ("Das ist gut.", "That is good."),
    ("Das ist sehr schön.", "That is very nice."),
]  # fmt: skip


def test_ding_pairs_keep_sentences_on_both_sides(tmp_path):
    path = tmp_path / "de-en"
    path.write_text(DING_LINES, encoding="utf-8")
    assert sp.ding_pairs(path) == DING_EXPECTED


def test_de_en_splits_the_ding_pairs(tmp_path, monkeypatch):
    path = tmp_path / "de-en"
    path.write_text(DING_LINES, encoding="utf-8")
    monkeypatch.setattr(sp, "DE_EN_PATHS", (str(tmp_path / "absent"), str(path)))
    config = pair_config("de_en", validation_fraction=0.2, test_fraction=0.2, max_length=6)
    splits = sp.load_pairs(config)
    kept = [pair for pair in DING_EXPECTED if max(len(part.split()) for part in pair) <= 6]
    assert sorted(splits.train + splits.validation + splits.test) == sorted(kept)
    assert sum(splits.dropped.values()) == len(DING_EXPECTED) - len(kept) > 0


REAL_DING = sp.DE_EN_PATHS[0]


@pytest.mark.skipif(not os.path.isfile(REAL_DING), reason=f"{REAL_DING} absent (trans-de-en)")
def test_the_real_ding_file_gives_about_20000_sentence_pairs():
    pairs = sp.ding_pairs(REAL_DING)
    assert 15_000 <= len(pairs) <= 30_000
    assert len(set(pairs)) == len(pairs)
    for german, english in pairs[:: len(pairs) // 200]:
        for sentence in (german, english):
            assert sentence[0].isupper() and sentence[-1] in ".!?" and len(sentence.split()) >= 3
            assert not set("{}[]<>") & set(sentence), sentence


def test_de_en_without_the_file_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sp, "DE_EN_PATHS", (str(tmp_path / "de-en"),))
    with pytest.raises(UserError, match="apt-get install trans-de-en") as err:
        sp.load_pairs(pair_config("de_en"))
    assert "\n" not in str(err.value) and "not downloaded" in str(err.value)


# ---------------------------------------------------------------------------------------------
# symbols


def test_auto_tokens_are_characters_without_spaces_and_words_with_them():
    assert sp.side_tokenizers("auto", [("535+61", "596")]) == ("char", "char")
    assert sp.side_tokenizers("auto", [("ich bin", "I am")]) == ("word", "word")
    assert sp.side_tokenizers("auto", [("ja bitte", "yes"), ("535", "I am")]) == ("char", "char")
    # Each side for itself: numbers to words; dates, some formats spaced, are characters.
    dates = [("3 May 1987", "1987-05-03"), ("1987.05.03", "1987-05-03")]
    assert sp.side_tokenizers("auto", dates) == ("char", "char")
    assert sp.side_tokenizers("auto", [("123", "one hundred twenty three")]) == ("char", "word")
    assert sp.side_tokenizers("char", [("ich bin", "I am")]) == ("char", "char")
    with pytest.raises(ValueError, match="tokens"):
        sp.tokenizer("bytes", [])
    assert sp.tokenize("ich  bin\tda", "word") == ["ich", "bin", "da"]
    assert sp.detokenize(sp.tokenize("12+3", "char"), "char") == "12+3"
    assert sp.detokenize(["ich", "bin"], "word") == "ich bin"


def test_vocabulary_is_built_from_training_text_only():
    splits = sp.PairSplits(
        "toy", [("abb", "1"), ("ba", "22")], [], [("abz", "13")], extra={}, dropped={}
    )
    source_vocab = Vocabulary.build([s for s, _ in splits.train], "char")
    target_vocab = Vocabulary.build([t for _, t in splits.train], "char")
    # b: 3, a: 2; 2: 2, 1: 1; the reserved four first.
    assert source_vocab.symbols == ("<pad>", "<s>", "</s>", "<unk>", "b", "a")
    assert target_vocab.symbols == ("<pad>", "<s>", "</s>", "<unk>", "2", "1")
    assert len(source_vocab) == 6
    # min_count 3 keeps b (3 times) and leaves a (twice) to UNK.
    assert Vocabulary.build(["abb", "ba"], "char", min_count=3).symbols[4:] == ("b",)
    source, target = splits.test[0]
    assert source_vocab.encode(source) == [5, 4, UNK]
    assert target_vocab.encode(target) == [5, UNK]
    assert source_vocab.decode(source_vocab.encode(source)) == "ab<unk>"


def test_encode_decode_round_trip_stops_at_eos():
    texts = ["ich bin hier", "du bist da", "er ist <s> weg"]
    vocab = Vocabulary.build(texts, "word")
    for text in texts[:2]:
        ids = vocab.encode(text)
        assert vocab.decode(ids) == text
        assert vocab.decode([BOS, *ids, EOS, *vocab.encode("du da"), PAD]) == text
        assert vocab.decode(np.array([[BOS, *ids, PAD, PAD]])) == text
    assert vocab.encode("er ist <s> weg")[2] == UNK  # a word spelt like a reserved symbol
    assert vocab.encode("sie ist") == [UNK, vocab.symbols.index("ist")]
    assert Vocabulary.build(texts, "word") == vocab  # deterministic


# ---------------------------------------------------------------------------------------------
# too long pairs


def length_tsv(tmp_path):
    path = tmp_path / "lengths.tsv"
    lines = [f"{'x' * (1 + i % 9)}\t{'y' * (1 + i % 4)}\n" for i in range(60)]
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def test_too_long_pairs_are_dropped_and_counted(tmp_path):
    path = length_tsv(tmp_path)
    everything = sp.load_pairs(pair_config(path, max_length=None))
    splits = sp.load_pairs(pair_config(path, max_length=5))
    for name in ("train", "validation", "test"):
        all_pairs = getattr(everything, name)
        kept = [p for p in all_pairs if len(p[0]) <= 5 and len(p[1]) <= 5]
        assert getattr(splits, name) == kept
        assert splits.dropped[name] == len(all_pairs) - len(kept)
    assert sum(splits.dropped.values()) == sum(1 + i % 9 > 5 for i in range(60)) > 0


def test_too_long_pairs_are_refused_naming_the_first(tmp_path):
    path = length_tsv(tmp_path)
    everything = sp.load_pairs(pair_config(path, max_length=None))
    first = next(
        (name, index)
        for name in ("train", "validation", "test")
        for index, (s, t) in enumerate(getattr(everything, name))
        if len(s) > 5
    )
    with pytest.raises(UserError, match=rf"{first[0]} pair {first[1]} of .* max_length=5 "):
        sp.load_pairs(pair_config(path, max_length=5, too_long="refuse"))
    with pytest.raises(UserError, match="too_long"):
        sp.load_pairs(pair_config(path, too_long="truncate"))


# ---------------------------------------------------------------------------------------------
# buckets and batches


def test_bucket_boundaries_step_evenly_to_the_longest_pair():
    assert sp.bucket_boundaries(7, 4, 3) == [(3, 2), (5, 4), (7, 5)]
    assert sp.bucket_boundaries(7, 4, 1) == [(7, 5)]
    assert sp.bucket_boundaries(2, 1, 5) == [(1, 1), (2, 2)]  # repeats merged


@pytest.fixture(scope="module")
def addition_batches_setup():
    pairs = sp.addition_pairs(400, 3, seed=0)
    source_vocab = Vocabulary.build([s for s, _ in pairs], "char")
    target_vocab = Vocabulary.build([t for _, t in pairs], "char")
    encoded = sp.encode_pairs(pairs, source_vocab, target_vocab)
    boundaries = sp.bucket_boundaries(*sp.max_lengths(encoded), num_buckets=3)
    return encoded, boundaries


def check_batch(batch, boundaries, batch_size):
    source, target_in, target_out = batch["source"], batch["target_in"], batch["target_out"]
    assert source.shape[1:] + target_in.shape[1:] in boundaries
    assert source.shape[0] == target_in.shape[0] == batch_size
    assert target_in.shape == target_out.shape == batch["target_mask"].shape
    assert source.dtype == target_in.dtype == target_out.dtype == np.int32
    assert batch["target_mask"].dtype == np.float32
    assert (batch["source_length"] == (source != PAD).sum(axis=1)).all()
    lengths = batch["target_mask"].sum(axis=1).astype(int) - 1  # the EOS is in the mask
    for row, length in enumerate(lengths):
        assert target_in[row, 0] == BOS
        assert (target_in[row, 1 : length + 1] == target_out[row, :length]).all()
        assert (target_out[row, :length] > UNK).all() and target_out[row, length] == EOS
        assert (target_in[row, length + 1 :] == PAD).all()
        assert (target_out[row, length + 1 :] == PAD).all()
        assert (batch["target_mask"][row, : length + 1] == 1).all()
        assert (batch["target_mask"][row, length + 1 :] == 0).all()
    # The smallest bucket that fits: no smaller bucket holds every row.
    rows_fit = [
        (batch["source_length"] <= s).all() and (lengths + 1 <= t).all() for s, t in boundaries
    ]
    assert boundaries[rows_fit.index(True)] == source.shape[1:] + target_in.shape[1:]


def test_one_epoch_of_bucketed_batches_covers_every_pair(addition_batches_setup):
    encoded, boundaries = addition_batches_setup
    dataset = sp.bucketed_train_dataset(encoded, boundaries, batch_size=32, seed=0)
    per_epoch = sp.batches_per_epoch(encoded, boundaries, 32)
    seen = set()
    for i in range(per_epoch):
        batch = dataset[i]
        check_batch(batch, boundaries, 32)
        seen.update(
            tuple(row[:n]) for row, n in zip(batch["source"], batch["source_length"], strict=True)
        )
    assert seen == {tuple(source) for source in encoded.source}
    assert len({dataset[i]["source"].shape for i in range(per_epoch)}) == len(boundaries)


def test_bucketed_batches_are_random_access_and_seeded(addition_batches_setup):
    encoded, boundaries = addition_batches_setup

    def batch(seed, index):
        return sp.bucketed_train_dataset(encoded, boundaries, 32, seed)[index]

    dataset = sp.bucketed_train_dataset(encoded, boundaries, 32, seed=0)
    later = [dataset[i] for i in (3, 40, 17, 3)]
    for index, got in zip((3, 40, 17, 3), later, strict=True):
        fresh = batch(0, index)
        assert fresh.keys() == got.keys()
        assert all((fresh[key] == got[key]).all() for key in fresh)
    first = [dataset[i]["source"] for i in range(4)]
    other_seed = [batch(1, i)["source"] for i in range(4)]
    assert any(a.shape != b.shape or (a != b).any() for a, b in zip(first, other_seed, strict=True))
    per_epoch = sp.batches_per_epoch(encoded, boundaries, 32)
    next_epoch = [dataset[per_epoch + i]["source"] for i in range(4)]
    assert any(a.shape != b.shape or (a != b).any() for a, b in zip(first, next_epoch, strict=True))


def test_a_bucket_smaller_than_a_batch_repeats_its_pairs():
    pairs = [("1+1", "2"), ("2+2", "4"), ("99+99", "198")]
    vocab = Vocabulary.build([s + t for s, t in pairs], "char")
    encoded = sp.encode_pairs(pairs, vocab, vocab)
    boundaries = sp.bucket_boundaries(5, 3, 2)  # [(3, 2), (5, 4)]
    dataset = sp.bucketed_train_dataset(encoded, boundaries, batch_size=4, seed=0)
    batches = [dataset[i] for i in range(2)]
    small = next(b for b in batches if b["source"].shape == (4, 3))
    assert {vocab.decode(row) for row in small["source"]} == {"1+1", "2+2"}
    check_batch(small, boundaries, 4)


def test_eval_batches_hold_every_pair_once(addition_batches_setup):
    encoded, boundaries = addition_batches_setup
    batches = sp.eval_batches(encoded, boundaries, batch_size=48)
    indices = np.concatenate([index for index, _ in batches])
    assert sorted(indices.tolist()) == list(range(len(encoded)))
    for index, batch in batches:
        check_batch(batch, boundaries, 48)
        for row in range(48):
            pair = index[min(row, len(index) - 1)]  # padding rows repeat the last pair
            source = encoded.source[pair]
            assert (batch["source"][row, : len(source)] == source).all()
            assert batch["source_length"][row] == len(source)
    shapes = [batch["source"].shape for _, batch in batches]
    assert shapes == sorted(shapes)  # bucket by bucket
