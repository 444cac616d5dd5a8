"""Scores of output sequences against references, free-running (the model's own outputs).

- exact match: the whole output equals the reference (every symbol, and the length);
- symbol accuracy: the reference's symbols, end-of-sequence included, that the output has at
  the same position, pooled over the split (an output too short or too long loses the
  positions it misses or moves);
- corpus BLEU and chrF by sacrebleu (Post 2018), on the detokenized strings: BLEU tokenized by
  sacrebleu's own "13a" rules for word-level data and by characters ("char") for symbol-level
  data, where a word would be a whole answer; chrF (Popovic 2015) reads characters either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sacrebleu


def exact_match(outputs: Sequence[Sequence[int]], references: Sequence[Sequence[int]]) -> float:
    return float(np.mean([list(o) == list(r) for o, r in zip(outputs, references, strict=True)]))


def symbol_accuracy(
    outputs: Sequence[Sequence[int]], references: Sequence[Sequence[int]], end: int
) -> float:
    """Matched reference positions over all reference positions, each sequence's end symbol
    `end` counted as its last position."""
    matched = total = 0
    for output, reference in zip(outputs, references, strict=True):
        output, reference = [*output, end], [*reference, end]
        matched += sum(o == r for o, r in zip(output, reference, strict=False))
        total += len(reference)
    return matched / max(total, 1)


def bleu(hypotheses: Sequence[str], references: Sequence[str], kind: str) -> float:
    """Corpus BLEU (0 to 100) of detokenized strings; `kind` is the data's symbols."""
    tokenize = "char" if kind == "char" else "13a"
    return float(
        sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize=tokenize).score
    )


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (0 to 100) of detokenized strings."""
    return float(sacrebleu.corpus_chrf(list(hypotheses), [list(references)]).score)
