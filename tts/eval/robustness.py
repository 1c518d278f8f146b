"""Skip, repeat and no-stop detection from one utterance's cross-attention.

Attention-based TTS fails in three audible ways (FastSpeech, Ren et al. 2019, Table 3
counts them by ear): it *skips* words, *repeats* them, or never emits the stop token
and babbles until the length cap. Here they are read off the argmax path of the
attention map (T_dec, T_text) of one head (evaluation uses the most diagonal head),
so the count needs no listener and can run in training's validation too.

Decisions, so that numbers mean the same thing everywhere:

- Only *content* symbols must be attended: letters (or phonemes). ``<pad>``,
  ``<eos>``, spaces and punctuation are often passed over by a correct alignment
  (the model reads a comma as a pause that the argmax path may never land on), and
  the phoneme table's stress, length and syllabic marks ride on their neighbours.
- Words are maximal runs of symbols between separators (specials, space,
  punctuation); marks inside a word belong to it.
- **Skip**: a whole word none of whose content symbols is ever on the argmax path,
  or a run of at least ``skip_run`` consecutive content symbols never on it. A single
  unattended letter inside a word is not a skip: with a reduction factor of 3 a
  decoder step lasts 35 ms, and a fast argmax path can step over one letter of
  correctly spoken audio. Every unattended content symbol is still listed.
- **Repeat**: the path falls more than ``back_tolerance`` symbols behind the furthest
  symbol it had reached, or it returns to a word after having moved on to a later
  one. For the second rule, visits shorter than ``min_dwell`` decoder steps are
  treated as jitter at a word boundary and ignored.
- **No-stop**: the decoder hit its maximum length instead of predicting the stop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from torch import Tensor

from tts.eval.alignment import argmax_path
from tts.text.symbols import IPA_MARKS, PUNCTUATION, SPECIAL

SEPARATORS = frozenset(SPECIAL) | frozenset(PUNCTUATION)
NOT_CONTENT = SEPARATORS | frozenset(IPA_MARKS)


@dataclass(frozen=True)
class DetectorSettings:
    """Tolerances of the detector (see the module docstring for the rules)."""

    back_tolerance: int = 2
    skip_run: int = 2
    min_dwell: int = 2

    def __post_init__(self) -> None:
        if self.back_tolerance < 0 or self.skip_run < 1 or self.min_dwell < 1:
            raise ValueError("need back_tolerance >= 0, skip_run >= 1 and min_dwell >= 1")


class Flags(NamedTuple):
    """What the detector found in one sentence."""

    skip: bool
    repeat: bool
    no_stop: bool
    skipped_symbols: tuple[int, ...]  # content symbols never on the argmax path
    skipped_words: tuple[str, ...]  # words none of whose content symbols is on it
    backward_jumps: int  # times the path fell more than back_tolerance behind
    revisited_words: tuple[str, ...]  # words the path came back to

    @property
    def error(self) -> bool:
        return self.skip or self.repeat or self.no_stop


class RobustnessSummary(NamedTuple):
    """FastSpeech-style counts over a sentence list."""

    sentences: int
    skips: int
    repeats: int
    no_stops: int
    error_sentences: int

    @property
    def error_rate(self) -> float:
        """Share of sentences with at least one of the three errors."""
        return self.error_sentences / self.sentences if self.sentences else 0.0


def word_index(symbols: Sequence[str]) -> list[int | None]:
    """Word number of each symbol (``None`` for separators)."""
    out: list[int | None] = []
    words, inside = 0, False
    for symbol in symbols:
        if symbol in SEPARATORS:
            out.append(None)
            inside = False
            continue
        if not inside:
            words, inside = words + 1, True
        out.append(words - 1)
    return out


def _word_texts(symbols: Sequence[str], words: list[int | None]) -> dict[int, str]:
    texts: dict[int, str] = {}
    for symbol, word in zip(symbols, words, strict=True):
        if word is not None:
            texts[word] = texts.get(word, "") + symbol
    return texts


def _skips(
    path: list[int], symbols: Sequence[str], words: list[int | None], skip_run: int
) -> tuple[tuple[int, ...], tuple[str, ...], bool]:
    visited = set(path)
    content = [i for i, s in enumerate(symbols) if s not in NOT_CONTENT]
    skipped = tuple(i for i in content if i not in visited)
    longest = run = 0
    for i in content:
        run = run + 1 if i not in visited else 0
        longest = max(longest, run)
    by_word: dict[int, list[int]] = {}
    for i in content:
        by_word.setdefault(words[i], []).append(i)  # type: ignore[arg-type]
    texts = _word_texts(symbols, words)
    missing = tuple(texts[w] for w, members in by_word.items() if not visited.intersection(members))
    return skipped, missing, bool(missing) or longest >= skip_run


def _backward_jumps(path: list[int], tolerance: int) -> int:
    jumps, furthest, behind = 0, -1, False
    for position in path:
        now_behind = furthest - position > tolerance
        jumps += now_behind and not behind
        behind = now_behind
        furthest = max(furthest, position)
    return jumps


def _revisits(
    path: list[int], symbols: Sequence[str], words: list[int | None], min_dwell: int
) -> tuple[str, ...]:
    segments: list[list[int]] = []  # [word, steps] for consecutive steps in one word
    for position in path:
        word = words[position]
        if word is None:
            continue
        if segments and segments[-1][0] == word:
            segments[-1][1] += 1
        else:
            segments.append([word, 1])
    furthest, revisited = -1, []
    for word, steps in segments:
        if steps < min_dwell:
            continue
        if word < furthest and word not in revisited:
            revisited.append(word)
        furthest = max(furthest, word)
    texts = _word_texts(symbols, words)
    return tuple(texts[w] for w in revisited)


def detect(
    attention: Tensor | np.ndarray,
    symbols: Sequence[str],
    hit_max: bool,
    settings: DetectorSettings | None = None,
) -> Flags:
    """Flags of one sentence from its (T_dec, T_text) attention and input symbols."""
    settings = settings or DetectorSettings()
    if attention.shape[1] != len(symbols):
        raise ValueError(f"attention has {attention.shape[1]} text steps, {len(symbols)} symbols")
    path = argmax_path(attention) if attention.shape[0] else []
    words = word_index(symbols)
    skipped, missing, skip = _skips(path, symbols, words, settings.skip_run)
    jumps = _backward_jumps(path, settings.back_tolerance)
    revisited = _revisits(path, symbols, words, settings.min_dwell)
    return Flags(
        skip=skip,
        repeat=jumps > 0 or bool(revisited),
        no_stop=bool(hit_max),
        skipped_symbols=skipped,
        skipped_words=missing,
        backward_jumps=jumps,
        revisited_words=revisited,
    )


def summarize(flags: Iterable[Flags]) -> RobustnessSummary:
    """Counts of sentences with each error and with any error."""
    flags = list(flags)
    return RobustnessSummary(
        sentences=len(flags),
        skips=sum(f.skip for f in flags),
        repeats=sum(f.repeat for f in flags),
        no_stops=sum(f.no_stop for f in flags),
        error_sentences=sum(f.error for f in flags),
    )
