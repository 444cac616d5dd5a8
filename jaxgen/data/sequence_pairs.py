"""Sequence pairs for sequence-to-sequence models: N symbols in, M symbols out.

Data sets (`load_pairs`, `config.dataset`):

- `"addition"`: the Keras `addition_rnn` task, "535+61" -> "596", generated from the seed.
  `config.addition.longer_digits` > `digits` adds an extra test set "longer" whose operands have
  more digits than any training operand: it measures length extrapolation.
- `"dates"`: dates between 1950 and 2049 written in 16 human formats, target ISO 8601
  ("3 May 1987" -> "1987-05-03"), generated from the seed.
- `"de_en"`: German-English sentence pairs from the Ding dictionary that Debian's `trans-de-en`
  package installs (`ding_pairs`); nothing is downloaded at run time.
- a path to a TSV file of pairs (the Anki/Tatoeba format: source TAB target, extra columns
  ignored), or to a folder holding train.tsv, test.tsv and optionally validation.tsv.

Generated sets, Ding pairs and a single TSV file are split by one seeded permutation into
train/validation/test by `config.validation_fraction` and `config.test_fraction`; a folder keeps
its files' splits. Pairs longer than `config.max_length` symbols are dropped and counted, or
refused (`config.too_long`).

Symbols are characters or whitespace-separated words (`config.tokens`, "auto" picks words when
the training text has spaces). A `Vocabulary` is built from the training split only, so that
the validation and test splits measure what a model does with symbols it never saw (UNK).

Batches (`bucketed_train_dataset`, `eval_batches`) come from a few (source, target) length
buckets, so that `jax.jit` compiles one program per bucket instead of one per length, and short
pairs do not pay for the padding of the longest one.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import functools
import os
import pathlib
import re
from collections.abc import Callable, Iterable, Sequence

import grain
import ml_collections
import numpy as np

from jaxgen.errors import UserError

# Reserved ids: padding, start of sequence (the decoder's first input), end of sequence (the
# decoder's last output) and unknown symbol (one the training split never showed).
PAD, BOS, EOS, UNK = 0, 1, 2, 3
RESERVED_SYMBOLS = ("<pad>", "<s>", "</s>", "<unk>")

NAMED_SETS = ("addition", "dates", "de_en")
TOKEN_KINDS = ("char", "word")
TOKEN_CHOICES = ("auto", *TOKEN_KINDS)  # `config.tokens`: "auto" lets `tokenizer` choose a kind
TOO_LONG_POLICIES = ("drop", "refuse")
SPLIT_NAMES = ("train", "validation", "test")
# Where Debian's trans-de-en package puts the Ding dictionary (`dpkg -L trans-de-en`).
DE_EN_PATHS = ("/usr/share/trans/de-en",)
# tokens=auto: a side whose training texts hold a space at least this often is sentences (words).
SENTENCE_SHARE = 0.9
# Size of the extra "longer" test set of the addition task.
LONGER_EXAMPLES = 1000

Pair = tuple[str, str]


@dataclasses.dataclass(frozen=True)
class PairSplits:
    """Sequence pairs (source text, target text) of one data set.

    extra: further test sets by name, e.g. {"longer": [...]} for addition (never filtered by
    max_length); dropped: how many pairs of "train", "validation" and "test" were dropped for
    being longer than max_length; tokens: the symbols of (source, target), "char" or "word"
    (`side_tokenizers`).
    """

    name: str
    train: list[Pair]
    validation: list[Pair]
    test: list[Pair]
    extra: dict[str, list[Pair]]
    dropped: dict[str, int]
    tokens: tuple[str, str] = ("char", "char")


# --------------------------------------------------------------------------------------------
# Addition (Keras addition_rnn)


def _operand_range(min_digits: int, max_digits: int) -> tuple[int, int]:
    """The smallest and largest operand value with min_digits..max_digits digits."""
    # Keras draws a length, then that many random digits: "007" is 7, so with min_digits 1
    # every value below 10**max_digits occurs. A longer-than-training operand must really
    # have min_digits digits, so it starts with a non-zero digit.
    low = 0 if min_digits == 1 else 10 ** (min_digits - 1)
    return low, 10**max_digits - 1


def _draw_operands(rng: np.random.Generator, size: int, min_digits: int, max_digits: int):
    """`size` operands as Keras draws them: a uniform length, then uniform digits."""
    lengths = rng.integers(min_digits, max_digits + 1, size=size)
    low = 0 if min_digits == 1 else 10 ** (lengths - 1)  # see _operand_range
    return rng.integers(low, 10**lengths).tolist()


def _unordered_pairs(low: int, high: int) -> np.ndarray:
    """All (a, b) with low <= a <= b <= high, as an (n, 2) array."""
    first, second = np.triu_indices(high - low + 1)
    return np.stack([first, second], axis=1) + low


def addition_pairs(
    count: int, digits: int, seed: int, reverse: bool = False, *, min_digits: int = 1
) -> list[Pair]:
    """`count` distinct addition problems "a+b" -> "a+b's sum", as Keras's addition_rnn makes.

    Each operand has min_digits..digits digits: a uniform length, then uniform digits (so with
    min_digits=1 a leading zero makes a shorter number, as in Keras). a+b and b+a are the same
    problem and appear once. reverse=True reverses the source ("16+535" for "535+61"), the
    Keras REVERSE option, never the target. No padding: the batches pad.
    """
    if not 1 <= min_digits <= digits <= 18:
        raise UserError(
            f"addition needs 1 <= min_digits <= digits <= 18, got {min_digits}, {digits}"
        )
    low, high = _operand_range(min_digits, digits)
    distinct = (high - low + 1) * (high - low + 2) // 2
    if count > distinct:
        raise UserError(
            f"{count} addition examples requested but operands of {min_digits}..{digits} digits "
            f"give only {distinct} distinct problems"
        )
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, int]] = set()
    problems: list[tuple[int, int]] = []
    mostly_repeats = False
    while len(problems) < count:
        # Keras's rejection loop; once repeats dominate (a nearly exhausted small space), the
        # rest is drawn uniformly from the problems not seen yet instead of waiting for them.
        if mostly_repeats and distinct <= 2_000_000:
            remaining = [
                p for p in map(tuple, _unordered_pairs(low, high).tolist()) if p not in seen
            ]
            picks = rng.permutation(len(remaining))[: count - len(problems)]
            problems.extend(remaining[i] for i in sorted(picks.tolist()))
            break
        size = max(1024, 2 * (count - len(problems)))
        before = len(problems)
        first = _draw_operands(rng, size, min_digits, digits)
        second = _draw_operands(rng, size, min_digits, digits)
        for a, b in zip(first, second, strict=True):
            key = (a, b) if a <= b else (b, a)
            if key in seen:
                continue
            seen.add(key)
            problems.append((a, b))
            if len(problems) == count:
                break
        mostly_repeats = len(problems) - before < size // 20
    pairs = []
    for a, b in problems:
        source = f"{a}+{b}"
        pairs.append((source[::-1] if reverse else source, str(a + b)))
    return pairs


# --------------------------------------------------------------------------------------------
# Dates

# Fixed English names, so that the data do not depend on the machine's locale.
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _month(d: datetime.date) -> str:
    return MONTHS[d.month - 1]


def _mon(d: datetime.date) -> str:
    return MONTHS[d.month - 1][:3]


def _weekday(d: datetime.date) -> str:
    return WEEKDAYS[d.weekday()]


# Each format by how it writes 1987-05-03. Numbers are day-first or year-first, never
# month-first, so that no source is ambiguous; two-digit years are 1950..2049 ("87" is 1987,
# "12" is 2012). No two formats ever write the same string, so sources are unique when
# (date, format) draws are.
DATE_FORMATS: dict[str, Callable[[datetime.date], str]] = {
    "3 May 1987": lambda d: f"{d.day} {_month(d)} {d.year}",
    "May 3, 1987": lambda d: f"{_month(d)} {d.day}, {d.year}",
    "Sunday, 3 May 1987": lambda d: f"{_weekday(d)}, {d.day} {_month(d)} {d.year}",
    "1987.05.03": lambda d: f"{d.year}.{d.month:02d}.{d.day:02d}",
    "3-May-87": lambda d: f"{d.day}-{_mon(d)}-{d.year % 100:02d}",
    "may 3 1987": lambda d: f"{_month(d).lower()} {d.day} {d.year}",
    "03 MAY 1987": lambda d: f"{d.day:02d} {_month(d).upper()} {d.year}",
    "03.05.1987": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "3rd May 1987": lambda d: f"{_ordinal(d.day)} {_month(d)} {d.year}",
    "Sunday, May 3, 1987": lambda d: f"{_weekday(d)}, {_month(d)} {d.day}, {d.year}",
    "1987/05/03": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    "the 3rd of May, 1987": lambda d: f"the {_ordinal(d.day)} of {_month(d)}, {d.year}",
    "Sun 3 May 87": lambda d: f"{_weekday(d)[:3]} {d.day} {_mon(d)} {d.year % 100:02d}",
    "3 May '87": lambda d: f"{d.day} {_mon(d)} '{d.year % 100:02d}",
    "MAY 3, 1987": lambda d: f"{_month(d).upper()} {d.day}, {d.year}",
    "19870503": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
}


def date_pairs(count: int, seed: int) -> list[Pair]:
    """`count` pairs (a date in a human format, the same date in ISO 8601 "YYYY-MM-DD").

    The (date, format) pairs are drawn uniformly without replacement (numpy
    default_rng(seed)) from the days 1950-01-01..2049-12-31 and DATE_FORMATS, so the sources
    are unique; the format table, not the locale, spells the month and day names (English).
    """
    days = LAST_DATE.toordinal() - FIRST_DATE.toordinal() + 1
    formats = list(DATE_FORMATS.values())
    if not 0 <= count <= days * len(formats):
        raise UserError(
            f"{count} date examples requested; there are {days * len(formats)} distinct ones"
        )
    rng = np.random.default_rng(seed)
    picks = rng.choice(days * len(formats), size=count, replace=False)
    pairs = []
    for pick in picks.tolist():
        day, format_index = divmod(pick, len(formats))
        date = datetime.date.fromordinal(FIRST_DATE.toordinal() + day)
        pairs.append((formats[format_index](date), date.isoformat()))
    return pairs


# --------------------------------------------------------------------------------------------
# TSV files


def _read_utf8(path: pathlib.Path, what: str) -> str:
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")  # a byte-order mark, as some editors write, is no text
    except UnicodeDecodeError as err:
        raise UserError(
            f"{what} {path} is not UTF-8: byte 0x{data[err.start]:02x} at byte offset {err.start}"
        ) from None


def read_tsv_pairs(path: str | os.PathLike) -> list[Pair]:
    """The (source, target) pairs of a UTF-8 TSV file: source TAB target on each line.

    This is the Anki/Tatoeba format ("Go.<TAB>Geh.<TAB>CC-BY 2.0 (France) Attribution: ..."):
    columns after the second are ignored, blank lines skipped, and each field stripped of
    whitespace at both ends. UserError (one line, naming the file) for a missing or non-UTF-8
    file, a line with one column or an empty field, and a file with no pairs.
    """
    path = pathlib.Path(path).expanduser()
    text = _read_utf8(path, "TSV file")
    pairs = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise UserError(
                f"TSV file {path}, line {line_number}: one column; expected source<TAB>target"
            )
        source, target = fields[0].strip(), fields[1].strip()
        if not source or not target:
            raise UserError(f"TSV file {path}, line {line_number}: empty source or target")
        pairs.append((source, target))
    if not pairs:
        raise UserError(f"TSV file {path} holds no pairs")
    return pairs


# --------------------------------------------------------------------------------------------
# The Ding German-English dictionary

# Annotations: {f} grammar, [ugs.] usage, <Ablösebetrag> search forms, (die) optional words and
# explanations. Innermost first; removing them twice clears one level of nesting.
_ANNOTATION = re.compile(r"\s*(?:\{[^{}]*\}|\[[^\[\]]*\]|<[^<>]*>|\([^()]*\))")
_SYNONYM_SEPARATOR = re.compile(r";\s+")
_MAY_END_A_SENTENCE = (".", "!", "?", "}", "]", ">", ")")


def _ding_sentences(part: str) -> list[str]:
    """The synonyms of one '|' part of a Ding entry that are sentences, annotations removed."""
    sentences = []
    for synonym in _SYNONYM_SEPARATOR.split(part):
        synonym = synonym.strip()
        if not synonym.endswith(_MAY_END_A_SENTENCE):  # cheap test first: 200k lines
            continue
        if any(bracket in synonym for bracket in "{[<("):
            synonym = _ANNOTATION.sub("", _ANNOTATION.sub("", synonym)).strip()
        words = synonym.split()
        if len(words) >= 3 and synonym[0].isupper() and synonym[-1] in ".!?":
            sentences.append(" ".join(words))
    return sentences


@functools.lru_cache(maxsize=2)
def _ding_pairs(path: str, modified_ns: int) -> tuple[Pair, ...]:
    text = _read_utf8(pathlib.Path(path), "Ding dictionary file")
    pairs = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        german, separator, english = line.partition(" :: ")
        german_parts, english_parts = german.split(" | "), english.split(" | ")
        # Parts correspond by position only when both sides have as many.
        if not separator or len(german_parts) != len(english_parts):
            continue
        for german_part, english_part in zip(german_parts, english_parts, strict=True):
            if ";" not in english_part and not english_part.rstrip().endswith(_MAY_END_A_SENTENCE):
                continue
            german_sentences = _ding_sentences(german_part)
            english_sentences = german_sentences and _ding_sentences(english_part)
            if not english_sentences:
                continue
            if len(german_sentences) == len(english_sentences):
                pairs.extend(zip(german_sentences, english_sentences, strict=True))
            else:  # synonyms that do not correspond one to one: the first of each side
                pairs.append((german_sentences[0], english_sentences[0]))
    return tuple(dict.fromkeys(pairs))  # the same pair listed twice counts once


def ding_pairs(path: str | os.PathLike) -> list[Pair]:
    """German-English sentence pairs from a Ding dictionary file (Debian's trans-de-en).

    Lines are "German | alternative :: English | alternative", comments start with '#', ';'
    separates synonyms, and {...}, [...], <...> and (...) hold annotations (removed here). The
    '|' parts pair by position when both sides have as many; within a part, synonyms pair by
    position when both sides have as many sentences, else the first sentence of each side.
    A sentence starts with a capital letter, ends with . ! or ? and has at least 3 words; a
    pair needs a sentence on both sides. Repeated pairs are kept once. Internal slashes
    ("gut / schlecht") are kept as written.

    Debian's trans-de-en 1.9-6 (Ding "devel 2023-01-30", /usr/share/trans/de-en, 25.6 MB,
    206,238 lines) gives 20,036 pairs, in about 1.5 s on a busy 2-core machine.
    """
    path = pathlib.Path(path).expanduser()
    modified_ns = path.stat().st_mtime_ns if path.is_file() else -1
    return list(_ding_pairs(str(path), modified_ns))


def _de_en_path() -> pathlib.Path:
    for candidate in DE_EN_PATHS:
        if os.path.isfile(candidate):
            return pathlib.Path(candidate)
    raise UserError(
        f"dataset 'de_en' needs the Ding dictionary ({' or '.join(DE_EN_PATHS)}), which is not "
        "downloaded at run time: install it with `apt-get install trans-de-en`"
    )


# --------------------------------------------------------------------------------------------
# Symbols


def tokenizer(kind: str, train_texts: Iterable[str]) -> str:
    """The token kind, "char" or "word", that `kind` means for one side of the pairs: itself,
    or for "auto" "word" when that side's training texts are sentences (at least
    `SENTENCE_SHARE` of them hold a space) and "char" otherwise. Each side decides for itself,
    so that symbol tasks work with the defaults: dates written in many formats, some with spaces
    ("3 May 1987") and some without ("1987.05.03"), to ISO ("1987-05-03") are characters on
    both sides, where words would make every unseen "1987.05.03" one unknown symbol; numbers
    ("123", characters) to words ("one hundred twenty three", words)."""
    if kind not in TOKEN_CHOICES:
        raise ValueError(f"tokens must be one of {', '.join(TOKEN_CHOICES)}; got {kind!r}")
    if kind in TOKEN_KINDS:
        return kind
    spaced = [" " in text for text in train_texts]
    return "word" if spaced and np.mean(spaced) >= SENTENCE_SHARE else "char"


def side_tokenizers(kind: str, train_pairs: Sequence[Pair]) -> tuple[str, str]:
    """(source kind, target kind) of `tokenizer` on each side of the training pairs."""
    return (
        tokenizer(kind, (source for source, _ in train_pairs)),
        tokenizer(kind, (target for _, target in train_pairs)),
    )


def tokenize(text: str, kind: str) -> list[str]:
    """The symbols of `text`: its characters ("char") or its whitespace-separated words
    ("word")."""
    if kind == "char":
        return list(text)
    if kind == "word":
        return text.split()
    raise ValueError(f"unknown token kind {kind!r}; expected one of {TOKEN_KINDS}")


def detokenize(tokens: Sequence[str], kind: str) -> str:
    """The text of `tokens`, the inverse of `tokenize` (words joined by one space)."""
    if kind not in TOKEN_KINDS:
        raise ValueError(f"unknown token kind {kind!r}; expected one of {TOKEN_KINDS}")
    return ("" if kind == "char" else " ").join(tokens)


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Symbols and their ids: symbols[id]; ids 0..3 are the reserved PAD, BOS, EOS and UNK."""

    symbols: tuple[str, ...]
    kind: str

    @classmethod
    def build(cls, texts: Iterable[str], kind: str, min_count: int = 1) -> Vocabulary:
        """The vocabulary of `texts` (give the training split only), most frequent symbols
        first, ties by symbol, so that the same texts always give the same ids; symbols seen
        fewer than `min_count` times are left out (they encode to UNK), which bounds the
        softmax of a word-level model."""
        counts = collections.Counter()
        for text in texts:
            counts.update(tokenize(text, kind))
        for reserved in RESERVED_SYMBOLS:  # a word "<s>" in the data is not BOS: it is UNK
            counts.pop(reserved, None)
        kept = [symbol for symbol, count in counts.items() if count >= min_count]
        ordered = sorted(kept, key=lambda symbol: (-counts[symbol], symbol))
        return cls(RESERVED_SYMBOLS + tuple(ordered), kind)

    def __len__(self) -> int:
        return len(self.symbols)

    @functools.cached_property
    def _ids(self) -> dict[str, int]:
        return {symbol: index for index, symbol in enumerate(self.symbols) if index > UNK}

    def encode(self, text: str) -> list[int]:
        """The ids of the symbols of `text`; symbols not in the vocabulary are UNK."""
        ids = self._ids
        return [ids.get(token, UNK) for token in tokenize(text, self.kind)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids` up to the first EOS, without PAD and BOS; UNK reads "<unk>"."""
        tokens = []
        for index in np.asarray(ids).reshape(-1).tolist():
            if index == EOS:
                break
            if index in (PAD, BOS):
                continue
            if not 0 <= index < len(self.symbols):
                raise ValueError(f"id {index} outside the vocabulary [0, {len(self.symbols)})")
            tokens.append(self.symbols[index])
        return detokenize(tokens, self.kind)


# --------------------------------------------------------------------------------------------
# Loading and splitting


def _split_by_permutation(
    pairs: list[Pair], fractions: Sequence[float], seed: int
) -> list[list[Pair]]:
    """Consecutive pieces of one seeded permutation: round(fraction * n) pairs for each
    fraction, then the rest (last); each piece in its original order."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    pieces, start = [], 0
    for fraction in fractions:
        size = int(round(fraction * len(pairs)))
        pieces.append(np.sort(order[start : start + size]))
        start += size
    pieces.append(np.sort(order[start:]))
    return [[pairs[i] for i in piece.tolist()] for piece in pieces]


def _check_fractions(validation_fraction: float, test_fraction: float) -> None:
    if min(validation_fraction, test_fraction) < 0 or validation_fraction + test_fraction >= 1:
        raise UserError(
            f"validation_fraction {validation_fraction} and test_fraction {test_fraction} must "
            "be >= 0 and leave some training pairs (sum < 1)"
        )


def _folder_splits(folder: pathlib.Path, validation_fraction: float, seed: int):
    missing = [name for name in ("train.tsv", "test.tsv") if not (folder / name).is_file()]
    if missing:
        raise UserError(
            f"pair folder {folder} lacks {' and '.join(missing)}; it needs train.tsv, test.tsv "
            "and optionally validation.tsv"
        )
    train = read_tsv_pairs(folder / "train.tsv")
    test = read_tsv_pairs(folder / "test.tsv")
    if (folder / "validation.tsv").is_file():
        validation = read_tsv_pairs(folder / "validation.tsv")
    else:
        validation, train = _split_by_permutation(train, [validation_fraction], seed)
    return train, validation, test


def _raw_splits(config: ml_collections.ConfigDict) -> tuple[str, list, list, list, dict]:
    """(name, train, validation, test, extra) of config.dataset, before the length filter."""
    dataset, seed = str(config.dataset), int(config.seed)
    validation_fraction = float(config.get("validation_fraction", 0.1))
    test_fraction = float(config.get("test_fraction", 0.1))
    _check_fractions(validation_fraction, test_fraction)
    fractions = [test_fraction, validation_fraction]
    extra = {}
    if dataset == "addition":
        a = config.addition
        pairs = addition_pairs(int(a.examples), int(a.digits), seed, bool(a.reverse))
        longer_digits = int(a.get("longer_digits", 0) or 0)
        if longer_digits > a.digits:
            extra["longer"] = addition_pairs(
                LONGER_EXAMPLES, longer_digits, seed, bool(a.reverse), min_digits=a.digits + 1
            )
    elif dataset == "dates":
        pairs = date_pairs(int(config.dates.examples), seed)
    elif dataset == "de_en":
        pairs = ding_pairs(_de_en_path())
    else:
        path = pathlib.Path(dataset).expanduser()
        if path.is_dir():
            return (dataset, *_folder_splits(path, validation_fraction, seed), extra)
        if not path.is_file():
            raise UserError(
                f"unknown pair dataset {dataset!r}: not one of {', '.join(NAMED_SETS)} and no "
                "such TSV file or folder"
            )
        pairs = read_tsv_pairs(path)
    test, validation, train = _split_by_permutation(pairs, fractions, seed)
    return dataset, train, validation, test, extra


def load_pairs(config: ml_collections.ConfigDict) -> PairSplits:
    """The train/validation/test pairs of `config.dataset` (see the module docstring).

    Keys: dataset, seed, max_length (the longest source or target kept, in symbols of
    `config.tokens`; None keeps all), too_long ("drop" counts the longer pairs in `dropped`,
    "refuse" raises a UserError naming the first), tokens ("char", "word" or "auto", resolved
    on the training split by `tokenizer`), validation_fraction, test_fraction, and for the
    generated sets addition.{examples, digits, reverse, longer_digits} and dates.examples.
    """
    name, train, validation, test, extra = _raw_splits(config)
    try:
        kinds = side_tokenizers(str(config.get("tokens", "auto")), train)
    except ValueError as err:
        raise UserError(str(err)) from None
    too_long = config.get("too_long", "drop")
    if too_long not in TOO_LONG_POLICIES:
        raise UserError(f"too_long must be one of {', '.join(TOO_LONG_POLICIES)}; got {too_long!r}")
    max_length = config.get("max_length")
    splits = {"train": train, "validation": validation, "test": test}
    dropped = dict.fromkeys(SPLIT_NAMES, 0)
    if max_length is not None:
        for split, pairs in splits.items():
            kept = []
            for index, (source, target) in enumerate(pairs):
                lengths = len(tokenize(source, kinds[0])), len(tokenize(target, kinds[1]))
                if max(lengths) <= max_length:
                    kept.append((source, target))
                elif too_long == "refuse":
                    raise UserError(
                        f"{split} pair {index} of {name!r} is longer than max_length={max_length} "
                        f"symbols (source {lengths[0]} {kinds[0]}s, target {lengths[1]} "
                        f"{kinds[1]}s); raise "
                        "max_length or set too_long=drop"
                    )
            dropped[split] = len(pairs) - len(kept)
            splits[split] = kept
    if not splits["train"]:
        raise UserError(f"no training pairs of {name!r} are left (max_length={max_length})")
    return PairSplits(name, extra=extra, dropped=dropped, tokens=kinds, **splits)


# --------------------------------------------------------------------------------------------
# Batches


@dataclasses.dataclass(frozen=True)
class EncodedPairs:
    """Pairs as int32 id arrays, without BOS or EOS (the batches add them)."""

    source: list[np.ndarray]
    target: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.source)

    @property
    def source_lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.source], dtype=np.int64)

    @property
    def target_lengths(self) -> np.ndarray:
        return np.array([len(t) for t in self.target], dtype=np.int64)


def encode_pairs(
    pairs: Sequence[Pair], source_vocab: Vocabulary, target_vocab: Vocabulary
) -> EncodedPairs:
    """The ids of every pair's source and target (unknown symbols UNK)."""
    source = [np.array(source_vocab.encode(s), dtype=np.int32) for s, _ in pairs]
    target = [np.array(target_vocab.encode(t), dtype=np.int32) for _, t in pairs]
    return EncodedPairs(source, target)


def bucket_boundaries(max_source: int, max_target: int, num_buckets: int) -> list[tuple[int, int]]:
    """Padded (source length S, target length T) of each bucket, increasing in both.

    Bucket k of n pads to about k/n of the longest source and of the longest target plus one
    (the decoder's T holds BOS + target as input, target + EOS as output); the last bucket
    holds the longest pair. Steps that would repeat a bucket (more buckets than lengths) are
    merged, so there may be fewer than num_buckets.
    """
    if num_buckets < 1:
        raise UserError(f"num_buckets must be at least 1, got {num_buckets}")
    if max_source < 1 or max_target < 0:
        raise ValueError(f"max_source {max_source} must be >= 1 and max_target {max_target} >= 0")
    boundaries = []
    for k in range(1, num_buckets + 1):
        bucket = (-(-k * max_source // num_buckets), -(-k * (max_target + 1) // num_buckets))
        if not boundaries or bucket != boundaries[-1]:
            boundaries.append(bucket)
    return boundaries


def _bucket_of(encoded: EncodedPairs, boundaries: Sequence[tuple[int, int]]) -> np.ndarray:
    """The smallest bucket holding each pair (its source and its target + 1)."""
    sources = np.array([s for s, _ in boundaries])
    targets = np.array([t for _, t in boundaries])
    fits = (encoded.source_lengths[:, None] <= sources) & (
        encoded.target_lengths[:, None] + 1 <= targets
    )
    if len(encoded) and not fits.any(axis=1).all():
        index = int(np.flatnonzero(~fits.any(axis=1))[0])
        raise ValueError(
            f"pair {index} (source {len(encoded.source[index])}, target "
            f"{len(encoded.target[index])} ids) fits no bucket of {list(boundaries)}"
        )
    return np.argmax(fits, axis=1)


def _padded_batch(
    encoded: EncodedPairs, indices: Sequence[int], shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """The batch of pairs `indices` padded to (S, T); see `bucketed_train_dataset`."""
    source_len, target_len = shape
    rows = len(indices)
    batch = {
        "source": np.full((rows, source_len), PAD, np.int32),
        "source_length": np.zeros(rows, np.int32),
        "target_in": np.full((rows, target_len), PAD, np.int32),
        "target_out": np.full((rows, target_len), PAD, np.int32),
        "target_mask": np.zeros((rows, target_len), np.float32),
    }
    for row, index in enumerate(indices):
        source, target = encoded.source[index], encoded.target[index]
        batch["source"][row, : len(source)] = source
        batch["source_length"][row] = len(source)
        batch["target_in"][row, 0] = BOS
        batch["target_in"][row, 1 : len(target) + 1] = target
        batch["target_out"][row, : len(target)] = target
        batch["target_out"][row, len(target)] = EOS
        batch["target_mask"][row, : len(target) + 1] = 1.0
    return batch


class _BucketedBatches:
    """Batch `index` of the endless bucketed stream, a pure function of (seed, index)."""

    def __init__(self, encoded, boundaries, batch_size, seed):
        self.encoded = encoded
        self.batch_size = batch_size
        self.seed = seed
        bucket_of = _bucket_of(encoded, boundaries)
        self.buckets = [
            (tuple(shape), np.flatnonzero(bucket_of == b))
            for b, shape in enumerate(boundaries)
            if (bucket_of == b).any()
        ]
        self.per_epoch = sum(-(-len(members) // batch_size) for _, members in self.buckets)
        self._plans: dict[int, list[tuple[tuple[int, int], np.ndarray]]] = {}

    def _plan(self, epoch: int) -> list[tuple[tuple[int, int], np.ndarray]]:
        """Epoch `epoch`'s batches in order: (bucket shape, pair indices)."""
        plans = self._plans  # other threads replace this dict, never change it
        plan = plans.get(epoch)
        if plan is None:
            rng = np.random.default_rng([self.seed, epoch])
            plan = []
            for shape, members in self.buckets:
                count = -(-len(members) // self.batch_size)
                # Wrapping around the shuffled bucket fills its last batch, and repeats a
                # bucket smaller than one batch: every batch has batch_size real pairs.
                positions = np.arange(count * self.batch_size) % len(members)
                shuffled = rng.permutation(members)[positions]
                plan.extend((shape, chunk) for chunk in shuffled.reshape(count, -1))
            plan = [plan[i] for i in rng.permutation(len(plan)).tolist()]
            # Keep the epoch before too: reads ahead may straddle an epoch's end.
            self._plans = {e: p for e, p in plans.items() if e == epoch - 1} | {epoch: plan}
        return plan

    def __call__(self, index: int, _) -> dict[str, np.ndarray]:
        epoch, position = divmod(index, self.per_epoch)
        shape, indices = self._plan(epoch)[position]
        return _padded_batch(self.encoded, indices.tolist(), shape)


def batches_per_epoch(encoded: EncodedPairs, boundaries, batch_size: int) -> int:
    """How many batches `bucketed_train_dataset` gives per epoch: ceil(n_b / batch_size) summed
    over the non-empty buckets b."""
    return _BucketedBatches(encoded, boundaries, batch_size, 0).per_epoch


def bucketed_train_dataset(
    encoded: EncodedPairs, boundaries: Sequence[tuple[int, int]], batch_size: int, seed: int
) -> grain.MapDataset:
    """Endless training batches, each from one length bucket: element i is batch i.

    A pair goes to the smallest bucket that holds it. Epoch e shuffles each bucket with a key
    from (seed, e), cuts it into batches of batch_size (the last one filled by wrapping around
    the shuffled bucket) and shuffles the epoch's batches, so batch i is a pure function of
    (seed, i): resuming at i replays the same batches. Each batch, for the bucket (S, T):

        source       int32 (B, S)  source ids, PAD after source_length
        source_length int32 (B,)
        target_in    int32 (B, T)  BOS, then the target, then PAD (the decoder's inputs)
        target_out   int32 (B, T)  the target, then EOS, then PAD (what it must predict)
        target_mask  float32 (B, T) 1 where target_out is a token of the target or its EOS
    """
    if batch_size < 1:
        raise UserError(f"batch_size must be at least 1, got {batch_size}")
    if not len(encoded):
        raise UserError("no training pairs to batch")
    batches = _BucketedBatches(encoded, boundaries, batch_size, seed)
    return grain.MapDataset.range(batches.per_epoch).repeat(None).map_with_index(batches)


def eval_batches(
    encoded: EncodedPairs, boundaries: Sequence[tuple[int, int]], batch_size: int
) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Every pair once, bucket by bucket: (indices into `encoded`, batch) as in
    `bucketed_train_dataset`.

    A bucket's last batch is padded to batch_size rows by repeating its last pair, so that
    evaluation compiles one shape per bucket too; rows len(indices).. are padding, to be
    ignored.
    """
    if batch_size < 1:
        raise UserError(f"batch_size must be at least 1, got {batch_size}")
    bucket_of = _bucket_of(encoded, boundaries)
    batches = []
    for b, shape in enumerate(boundaries):
        members = np.flatnonzero(bucket_of == b)
        for start in range(0, len(members), batch_size):
            indices = members[start : start + batch_size]
            rows = np.concatenate([indices, np.repeat(indices[-1:], batch_size - len(indices))])
            batches.append((indices, _padded_batch(encoded, rows.tolist(), tuple(shape))))
    return batches


def max_lengths(encoded: EncodedPairs) -> tuple[int, int]:
    """(longest source, longest target) in ids, for `bucket_boundaries`."""
    return int(encoded.source_lengths.max(initial=1)), int(encoded.target_lengths.max(initial=0))
