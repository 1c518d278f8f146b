"""Can the skip/repeat detector be trusted for this model? A check on real recordings.

A recording skips and repeats nothing, so every flag that :func:`tts.eval.robustness.detect`
raises on the teacher-forced attention of real recordings is a false alarm. The same
attention, edited, gives errors whose place is known:

- a **skip**: the decoder steps that attend to one word are cut out, so the attention
  goes from the word before it straight to the word after it;
- a **repeat**: the steps of one word and the next are played again after the second,
  as in "the old man the old man".

The share of clean sentences flagged and the share of edited ones found say whether the
skip and repeat counts of ``tts eval`` mean anything for a given checkpoint. A model whose
attention wanders on real speech gets flags on every sentence, spoken well or not.

Usage: ``python -m tts.eval.detector_check CHECKPOINT data/ljspeech_part1/test.jsonl``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from tts.data import TTSDataset, collate
from tts.eval.alignment import argmax_path, most_diagonal_head
from tts.eval.robustness import DetectorSettings, Flags, detect, word_index
from tts.eval.text_probe import teacher_forced

if TYPE_CHECKING:
    from tts.model.transformer_tts import TransformerTTS


class Utterance(NamedTuple):
    alignment: np.ndarray  # (L, H, T_dec, T_text) teacher-forced cross-attention
    symbols: list[str]  # T_text input symbols


class DetectorCheck(NamedTuple):
    """Counts over the checked sentences (each edited once per kind)."""

    sentences: int  # with a word that could be edited
    false_skips: int  # clean sentences flagged as skipping
    false_repeats: int  # clean sentences flagged as repeating
    found_skips: int  # sentences with a cut-out word flagged as skipping
    found_repeats: int  # sentences with a replayed word flagged as repeating


def flags_of(alignment: np.ndarray, symbols: Sequence[str], settings: DetectorSettings) -> Flags:
    """The detector on the most diagonal head, as ``tts eval`` runs it."""
    best = most_diagonal_head(alignment)
    return detect(alignment[best.layer, best.head], symbols, False, settings)


def word_steps(attention: np.ndarray, symbols: Sequence[str]) -> dict[int, list[int]]:
    """Decoder steps of one head's (T_dec, T_text) map whose most attended symbol is in each
    word."""
    words = word_index(symbols)
    steps: dict[int, list[int]] = {}
    for step, symbol in enumerate(argmax_path(attention)):
        if words[symbol] is not None:
            steps.setdefault(words[symbol], []).append(step)
    return steps


def cut_steps(alignment: np.ndarray, start: int, end: int) -> np.ndarray:
    """Decoder steps [start, end) removed: the speech of those steps is skipped."""
    keep = [t for t in range(alignment.shape[-2]) if not start <= t < end]
    return alignment[..., keep, :]


def replay_steps(alignment: np.ndarray, start: int, end: int) -> np.ndarray:
    """Decoder steps [start, end) played again right after ``end``: a repeat."""
    order = [*range(end), *range(start, end), *range(end, alignment.shape[-2])]
    return alignment[..., order, :]


def edit_targets(steps: dict[int, list[int]]) -> list[int]:
    """Words that can be edited: not the first or last, spanning at least two steps."""
    last = max(steps, default=0)
    return [w for w, s in sorted(steps.items()) if 0 < w < last and max(s) - min(s) >= 1]


def check_detector(
    utterances: Sequence[Utterance], settings: DetectorSettings | None = None, seed: int = 0
) -> DetectorCheck:
    """Flag the clean attention, one skip and one repeat edit of each utterance."""
    settings = settings or DetectorSettings()
    rng = np.random.default_rng(seed)
    counts = np.zeros(5, dtype=int)
    for alignment, symbols in utterances:
        best = most_diagonal_head(alignment)
        head = alignment[best.layer, best.head]
        steps = word_steps(head, symbols)
        targets = edit_targets(steps)
        if not targets:
            continue
        word = int(rng.choice(targets))
        start, end = min(steps[word]), max(steps[word]) + 1
        replay_end = max(steps.get(word + 1, [end - 1])) + 1
        clean = detect(head, symbols, False, settings)
        skipped = flags_of(cut_steps(alignment, start, end), symbols, settings)
        repeated = flags_of(replay_steps(alignment, start, replay_end), symbols, settings)
        counts += [1, clean.skip, clean.repeat, skipped.skip, repeated.repeat]
    return DetectorCheck(*(int(c) for c in counts))


@torch.no_grad()
def teacher_forced_utterances(
    model: TransformerTTS,
    dataset: TTSDataset,
    symbols_of: Callable[[list[int]], list[str]],
    batch_size: int = 8,
) -> list[Utterance]:
    """Cross-attention of the recordings' own frames and text, cut to real lengths."""
    model.eval()
    out: list[Utterance] = []
    for first in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(first, min(first + batch_size, len(dataset)))])
        mels = model.normalize(batch.mels)
        output = teacher_forced(
            model, mels, batch.mel_lengths, batch.tokens, batch.token_lengths, seed=0
        )
        attention = torch.stack(output.cross_attention, 1)  # (B, L, H, T_dec, T_text)
        for b, (steps, length) in enumerate(
            zip(output.decoder_lengths.tolist(), batch.token_lengths.tolist(), strict=True)
        ):
            tokens = batch.tokens[b, :length].tolist()
            out.append(Utterance(attention[b, :, :, :steps, :length].numpy(), symbols_of(tokens)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="training checkpoint or exported voice")
    parser.add_argument("manifest", help="real recordings, e.g. data/<corpus>/test.jsonl")
    parser.add_argument("--items", type=int, default=32, help="utterances to check")
    parser.add_argument("--seed", type=int, default=0, help="which word each edit picks")
    args = parser.parse_args(argv)
    from tts.synthesize import Synthesizer

    synthesizer = Synthesizer.from_checkpoint(args.checkpoint, vocoder="griffin-lim:1")
    dataset = TTSDataset(args.manifest, synthesizer.tokenizer, max_items=args.items)
    utterances = teacher_forced_utterances(
        synthesizer.model, dataset, synthesizer.tokenizer.symbols
    )
    check = check_detector(utterances, seed=args.seed)
    n = check.sentences
    print(f"| attention (teacher-forced, {n} recordings) | flagged skip | flagged repeat |")
    print("|---|---:|---:|")
    print(f"| as recorded (all false) | {check.false_skips}/{n} | {check.false_repeats}/{n} |")
    print(f"| one word cut out | {check.found_skips}/{n} | – |")
    print(f"| two words replayed | – | {check.found_repeats}/{n} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
