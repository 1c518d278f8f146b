"""Readers for on-disk speech corpora, turned into one uniform record type.

Two layouts cover the public single-speaker English corpora we target:

* LJSpeech: ``metadata.csv`` (``id|text[|normalized text]``) + ``wavs/ID.<ext>``;
* CMU ARCTIC: ``etc/txt.done.data`` (``( arctic_a0001 "text" )``) + ``wav/ID.wav``.

Readers never open audio: a missing file is reported as ``audio_path=None`` so
that data preparation can skip it with a reason instead of failing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import soundfile as sf

LAYOUTS = ("ljspeech", "arctic")

# Extensions soundfile can decode; when an id has several, the first listed here wins.
_PREFERRED_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
AUDIO_EXTENSIONS = frozenset(
    {f".{name.lower()}" for name in sf.available_formats() if name not in ("RAW", "MAT4", "MAT5")}
    | {".aif", ".oga", ".opus", ".wave", ".snd"}
    | set(_PREFERRED_EXTENSIONS)
)

_ARCTIC_LINE = re.compile(r'^\(\s*(\S+)\s+"((?:[^"\\]|\\.)*)"\s*\)\s*$')
_ARCTIC_SPEAKER = re.compile(r"^cmu_[a-z]+_([a-z0-9]+)_arctic$")


class CorpusError(ValueError):
    """The corpus folder is missing, of an unknown layout, or malformed."""


class Utterance(NamedTuple):
    """One transcript line and where its audio should be (None: no audio file found)."""

    id: str
    text: str
    audio_path: Path | None
    speaker: str | None = None


def _check_id(utt_id: str, where: str, seen: set[str]) -> None:
    # Ids become file names under mels/, so they must not be able to escape that folder.
    if not utt_id or utt_id in (".", "..") or "/" in utt_id or "\\" in utt_id:
        raise CorpusError(f"{where}: invalid utterance id {utt_id!r}")
    if utt_id in seen:
        raise CorpusError(f"{where}: duplicate utterance id {utt_id!r}")
    seen.add(utt_id)


def _audio_index(folder: Path) -> dict[str, Path]:
    """Map file stem → audio file, preferring wav, then flac, ogg, mp3, then the rest."""

    def rank(path: Path) -> tuple[int, str]:
        suffix = path.suffix.lower()
        order = _PREFERRED_EXTENSIONS.index(suffix) if suffix in _PREFERRED_EXTENSIONS else 99
        return order, suffix

    index: dict[str, Path] = {}
    if not folder.is_dir():
        return index
    files = [p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()]
    for path in sorted(files, key=rank):
        index.setdefault(path.stem, path)
    return index


def read_ljspeech_layout(root: str | Path) -> Iterator[Utterance]:
    """Yield utterances from ``metadata.csv``; column 2 (raw text) is used, we normalise later.

    Quotes are literal (LJSpeech has unbalanced ``"`` inside transcripts), so the
    CSV is read with ``QUOTE_NONE``. A row with only an id gets empty text.
    """
    root = Path(root)
    metadata = root / "metadata.csv"
    if not metadata.is_file():
        raise CorpusError(f"{root}: no metadata.csv (LJSpeech layout)")
    audio = _audio_index(root / "wavs")
    seen: set[str] = set()
    with metadata.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE)
        for line_no, row in enumerate(reader, start=1):
            if not row or not "".join(row).strip():
                continue
            utt_id = row[0].strip()
            _check_id(utt_id, f"{metadata}:{line_no}", seen)
            text = row[1].strip() if len(row) > 1 else ""
            yield Utterance(utt_id, text, audio.get(utt_id))


def read_arctic_layout(root: str | Path) -> Iterator[Utterance]:
    """Yield utterances from CMU ARCTIC ``etc/txt.done.data`` with audio in ``wav/``.

    The speaker is taken from a folder named like ``cmu_us_slt_arctic`` when present.
    """
    root = Path(root)
    prompts = root / "etc" / "txt.done.data"
    if not prompts.is_file():
        raise CorpusError(f"{root}: no etc/txt.done.data (CMU ARCTIC layout)")
    audio = _audio_index(root / "wav")
    match = _ARCTIC_SPEAKER.match(root.resolve().name)
    speaker = match.group(1) if match else None
    seen: set[str] = set()
    with prompts.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            parsed = _ARCTIC_LINE.match(line.strip())
            if parsed is None:
                raise CorpusError(f'{prompts}:{line_no}: expected ( id "text" ), got {line!r}')
            utt_id, text = parsed.group(1), re.sub(r"\\(.)", r"\1", parsed.group(2)).strip()
            _check_id(utt_id, f"{prompts}:{line_no}", seen)
            yield Utterance(utt_id, text, audio.get(utt_id), speaker)


def detect_layout(root: str | Path) -> str:
    """Return ``"ljspeech"`` or ``"arctic"`` from the marker files present in ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"corpus folder not found: {root}")
    if (root / "metadata.csv").is_file():
        return "ljspeech"
    if (root / "etc" / "txt.done.data").is_file():
        return "arctic"
    raise CorpusError(
        f"{root}: unknown corpus layout; expected metadata.csv + wavs/ (LJSpeech) "
        "or etc/txt.done.data + wav/ (CMU ARCTIC)"
    )


def read_corpus(root: str | Path, layout: str = "auto") -> list[Utterance]:
    """Read every utterance of a corpus, detecting the layout unless one is given."""
    if layout == "auto":
        layout = detect_layout(root)
    elif not Path(root).is_dir():
        raise CorpusError(f"corpus folder not found: {root}")
    if layout == "ljspeech":
        return list(read_ljspeech_layout(root))
    if layout == "arctic":
        return list(read_arctic_layout(root))
    raise CorpusError(f"unknown layout {layout!r}; choose auto, {', '.join(LAYOUTS)}")
