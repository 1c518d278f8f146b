"""LJ Speech transcripts → an LJ-layout corpus spoken by the flite ``slt`` voice.

``../shared/data/flite_slt_lj`` is 1,000 such sentences; Debian's ``flite`` package
(``apt-get install flite``) speaks them bit for bit the same, so any number of the 13,100
LJ Speech transcripts can be turned into synthetic pre-training data with more varied text
than the 339 real recordings we train on. Output (the layout ``tts prepare`` reads)::

    metadata.csv    id|text|text  (raw text: flite normalises it itself)
    wavs/ID.wav     16-bit mono at flite's rate (16 kHz for slt)

Sentences are picked by a seeded shuffle, so the same arguments give the same corpus, and
finished files are kept: a killed run resumes.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from data_prep.corpora import CorpusError, read_corpus

FLITE_INSTALL_HINT = "install it with `apt-get install -y flite` (Debian/Ubuntu)"


class FliteError(RuntimeError):
    """flite is missing or failed on a sentence."""


def read_transcripts(path: Path) -> list[tuple[str, str]]:
    """``id|text`` lines (extra columns ignored) → (id, text), in file order."""
    if not path.is_file():
        raise CorpusError(f"transcript file not found: {path}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 2 or not parts[0].strip():
            raise CorpusError(f"{path}:{number}: expected 'id|text', got {line!r}")
        rows.append((parts[0].strip(), parts[1].strip()))
    return rows


def choose(
    rows: list[tuple[str, str]], count: int, exclude: set[str], seed: int
) -> list[tuple[str, str]]:
    """A seeded sample of ``count`` rows with non-empty text and an id not in ``exclude``,
    returned in id order."""
    pool = [row for row in rows if row[0] not in exclude and row[1]]
    if count > len(pool):
        raise CorpusError(f"asked for {count} sentences, only {len(pool)} are eligible")
    random.Random(seed).shuffle(pool)
    return sorted(pool[:count])


def speak(flite: str, voice: str, text: str, wav_path: Path) -> None:
    """One sentence → ``wav_path``, written atomically (a killed run leaves no half file)."""
    partial = wav_path.with_suffix(".partial.wav")
    result = subprocess.run(
        [flite, "-voice", voice, "-o", str(partial)],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not partial.is_file() or partial.stat().st_size <= 44:
        partial.unlink(missing_ok=True)
        raise FliteError(
            f"flite failed on {wav_path.stem} (exit {result.returncode}): {result.stderr.strip()}"
        )
    partial.replace(wav_path)


def make_corpus(
    transcripts: Path,
    out_dir: Path,
    count: int,
    exclude: Sequence[Path] = (),
    seed: int = 0,
    voice: str = "slt",
    flite: str = "flite",
    workers: int = 2,
) -> int:
    """Write the corpus; returns how many wavs were synthesised now (the rest were kept)."""
    binary = shutil.which(flite)
    if binary is None:
        raise FliteError(f"{flite!r} not found on PATH; {FLITE_INSTALL_HINT}")
    # The real recordings' ids: their held-out text must not leak into pre-training.
    excluded = {utterance.id for corpus in exclude for utterance in read_corpus(corpus)}
    rows = choose(read_transcripts(transcripts), count, excluded, seed)
    wavs = out_dir / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    todo = [(utt_id, text) for utt_id, text in rows if not (wavs / f"{utt_id}.wav").is_file()]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        jobs = [pool.submit(speak, binary, voice, text, wavs / f"{i}.wav") for i, text in todo]
        for job in tqdm(jobs, desc="flite", unit="utt", disable=not todo):
            job.result()
    # Written last: a corpus with metadata.csv is complete.
    lines = "".join(f"{utt_id}|{text}|{text}\n" for utt_id, text in rows)
    (out_dir / "metadata.csv").write_text(lines, encoding="utf-8")
    return len(todo)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tts flite-corpus``."""
    parser.add_argument(
        "transcripts", type=Path, help="id|text file, e.g. ljspeech_transcripts.psv"
    )
    parser.add_argument("--out", type=Path, required=True, help="corpus folder to write")
    parser.add_argument("--count", type=int, required=True, help="number of sentences")
    parser.add_argument(
        "--exclude",
        type=Path,
        nargs="+",
        default=[],
        metavar="CORPUS_DIR",
        help="leave out the ids of these corpora (LJSpeech or ARCTIC layout)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--voice", default="slt", help="flite voice (default: slt)")
    parser.add_argument("--flite", default="flite", help="flite executable")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)


def run(args: argparse.Namespace) -> int:
    """Write the corpus; 2 on bad input or a missing/failing flite."""
    if args.count < 1:
        print("error: --count must be at least 1", file=sys.stderr)
        return 2
    try:
        made = make_corpus(
            args.transcripts,
            args.out,
            args.count,
            args.exclude,
            args.seed,
            args.voice,
            args.flite,
            args.workers,
        )
    except (CorpusError, FliteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {args.count} sentences ({made} synthesised now, the rest kept)")
    return 0
