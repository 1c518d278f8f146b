"""Word and character error rates, with one text normalisation for both sides.

An ASR system writes "$5", "Mr. Smith" and "twenty-five" however it likes; the input
text may say "five dollars", "mister smith" and "25". Scoring raw strings would count
those as errors of the TTS model, so both the reference and the hypothesis go through
:func:`normalize_for_scoring`: the synthesis front-end's own normaliser (numbers,
currencies, abbreviations and initialisms spelled out as words, lower case), then
hyphens become spaces and all other punctuation, apostrophes included ("it's" →
"its"), is dropped.

Rates are computed from a Levenshtein alignment written here (unit costs for
substitution, deletion and insertion). Corpus rates are total errors over total
reference length, not the mean of per-sentence rates, so long sentences weigh more.
The character error rate counts characters of the normalised text with single
spaces between words, so a missing word boundary is one error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from tts.text import normalize

_NOT_LETTER = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")


class EditCounts(NamedTuple):
    """Errors of a hypothesis against a reference of ``length`` units (words or chars)."""

    substitutions: int
    deletions: int
    insertions: int
    length: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Errors per reference unit; an empty reference scores 0 if matched, else 1."""
        if self.length == 0:
            return float(self.errors > 0)
        return self.errors / self.length


def normalize_for_scoring(text: str) -> str:
    """Text → lower-case words over a-z separated by single spaces (see module docstring)."""
    words = normalize(text).replace("-", " ").replace("'", "")
    return _SPACES.sub(" ", _NOT_LETTER.sub(" ", words)).strip()


def edit_counts(reference: Sequence, hypothesis: Sequence) -> EditCounts:
    """Levenshtein alignment of two sequences, split into S, D and I.

    Among alignments with the fewest errors the one matching the most units is taken
    ("the cat sat on the mat" / "the cat sit on mat today" is one error of each kind,
    not three substitutions), so the split is the one a person would write down.
    """
    rows, cols = len(reference), len(hypothesis)
    # cell[j] = (errors, substitutions + deletions, S, D, I) for ref[:i] vs hyp[:j]; tuples
    # compare errors first, then S + D (fewer means more matches: matches = i - S - D).
    previous = [(j, 0, 0, 0, j) for j in range(cols + 1)]
    for i in range(1, rows + 1):
        current = [(i, i, 0, i, 0)]
        for j in range(1, cols + 1):
            e, sd, s, d, n = previous[j - 1]
            if reference[i - 1] == hypothesis[j - 1]:
                diagonal = (e, sd, s, d, n)
            else:
                diagonal = (e + 1, sd + 1, s + 1, d, n)
            e, sd, s, d, n = previous[j]  # reference unit with no hypothesis unit
            deletion = (e + 1, sd + 1, s, d + 1, n)
            e, sd, s, d, n = current[j - 1]  # hypothesis unit with no reference unit
            insertion = (e + 1, sd, s, d, n + 1)
            current.append(min(diagonal, deletion, insertion, key=lambda c: c[:2]))
        previous = current
    _, _, subs, dels, ins = previous[cols]
    return EditCounts(subs, dels, ins, rows)


def word_errors(reference: str, hypothesis: str, normalized: bool = False) -> EditCounts:
    """Word-level edit counts; both strings are normalised first unless ``normalized``."""
    if not normalized:
        reference, hypothesis = normalize_for_scoring(reference), normalize_for_scoring(hypothesis)
    return edit_counts(reference.split(), hypothesis.split())


def char_errors(reference: str, hypothesis: str, normalized: bool = False) -> EditCounts:
    """Character-level edit counts over the normalised strings (spaces count)."""
    if not normalized:
        reference, hypothesis = normalize_for_scoring(reference), normalize_for_scoring(hypothesis)
    return edit_counts(reference, hypothesis)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one hypothesis after normalisation."""
    return word_errors(reference, hypothesis).rate


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of one hypothesis after normalisation."""
    return char_errors(reference, hypothesis).rate


def total(counts: Iterable[EditCounts]) -> EditCounts:
    """Sum of per-sentence counts: its ``rate`` is the corpus-level error rate."""
    sums = [0, 0, 0, 0]
    for item in counts:
        sums = [a + b for a, b in zip(sums, item, strict=True)]
    return EditCounts(*sums)
