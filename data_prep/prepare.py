"""Corpus folder → validated utterances, cached log-mel features and JSON-lines manifests.

Training reads only what this writes, so every feature comes from
:func:`tts.audio.log_mel` and every bad recording is dropped here, with a
reason, instead of surfacing as a NaN loss hours later. Output folder::

    audio_config.json    the AudioConfig the features were made with (resume guard)
    mels/ID.npy          float32 log-mel, shape (n_mels, n_frames)
    all.jsonl            every kept utterance (with its "split")
    train.jsonl val.jsonl test.jsonl
    stats.json           per-mel-bin mean/std over the train frames
    summary.json         counts per skip reason and each skipped id with its reason
    .done.jsonl          journal of finished items: a killed run resumes from it

A manifest row: ``{"id", "text", "normalized_text", "wav_path" (absolute),
"duration" (seconds after trimming), "n_frames", "mel_path" (relative to the
output folder), "split", "speaker" (only when the corpus names one)}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from data_prep.corpora import LAYOUTS, CorpusError, Utterance, detect_layout, read_corpus
from tts.audio import AudioError, load_audio, log_mel, preprocess
from tts.config import AudioConfig, Config, ConfigError, DataConfig, load_config, to_plain
from tts.text import normalize

SKIP_REASONS = (
    "missing",
    "unreadable",
    "empty_text",
    "silent",
    "clipped",
    "too_short",
    "too_long",
    "error",
)
SPLITS = ("train", "val", "test")
SILENCE_PEAK = 1e-4
CLIP_LEVEL = 0.999
JOURNAL = ".done.jsonl"
AUDIO_CONFIG = "audio_config.json"


class PrepareError(RuntimeError):
    """The output folder cannot be used (e.g. it holds features of another audio config)."""


@dataclass(frozen=True)
class PrepareSummary:
    """What a preparation run kept and skipped; ``skipped`` maps id → reason."""

    corpus: str
    layout: str
    out_dir: str
    total: int
    kept: int
    splits: dict[str, int]
    hours: float
    computed: int
    reused: int
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """Number of skipped utterances per reason (every reason listed, zeros included)."""
        counts = dict.fromkeys(SKIP_REASONS, 0)
        for reason in self.skipped.values():
            counts[reason] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus,
            "layout": self.layout,
            "out_dir": self.out_dir,
            "total": self.total,
            "kept": self.kept,
            "skipped_total": len(self.skipped),
            "counts": self.counts,
            "splits": self.splits,
            "hours": self.hours,
            "computed": self.computed,
            "reused": self.reused,
            "seconds": self.seconds,
            "skipped": [
                {"id": uid, "reason": reason, "detail": self.details.get(uid, "")}
                for uid, reason in self.skipped.items()
            ],
        }

    def format(self) -> str:
        """Human-readable report: totals, counts per reason, then every skipped id."""
        splits = ", ".join(f"{name} {self.splits.get(name, 0)}" for name in SPLITS)
        lines = [
            f"prepared {self.kept} of {self.total} utterances from {self.corpus} "
            f"({self.layout}) into {self.out_dir}",
            f"  {splits}; {self.hours:.3f} h kept; "
            f"{self.computed} computed, {self.reused} reused; {self.seconds:.1f} s",
            f"skipped {len(self.skipped)}"
            + "".join(f"\n  {r:<11} {n}" for r, n in self.counts.items() if n),
        ]
        width = max((len(uid) for uid in self.skipped), default=0)
        for uid, reason in self.skipped.items():
            lines.append(f"  {uid:<{width}}  {reason:<11} {self.details.get(uid, '')}")
        return "\n".join(lines)


def _skip(reason: str, detail: str) -> dict[str, Any]:
    return {"status": reason, "detail": detail}


def process_utterance(
    utt_id: str, audio_path: str, mel_path: str, audio: AudioConfig, data: DataConfig
) -> dict[str, Any]:
    """Validate one recording and write its features; never raises, returns a result row.

    Clipping is measured on the loaded waveform before peak normalisation (which
    would hide it); durations are measured after silence trimming, as trained on.
    """
    try:
        wav = load_audio(audio_path, audio.sample_rate)
    except AudioError as exc:
        return _skip("unreadable", str(exc))
    try:
        if not np.isfinite(wav).all():
            return _skip("unreadable", "audio holds NaN or infinite samples")
        peak = float(np.abs(wav).max())
        if peak < SILENCE_PEAK:
            return _skip("silent", f"peak {peak:.1e} < {SILENCE_PEAK:.0e}")
        clipped = float(np.mean(np.abs(wav) >= CLIP_LEVEL))
        if clipped > data.clip_fraction:
            return _skip(
                "clipped", f"{clipped:.2%} of samples at full scale > {data.clip_fraction:.2%}"
            )
        wav = preprocess(wav, audio)
        if wav.size == 0 or float(np.abs(wav).max()) == 0.0:
            return _skip("silent", "nothing left after silence trimming")
        duration = wav.size / audio.sample_rate
        if duration < data.min_seconds:
            return _skip("too_short", f"{duration:.2f} s < {data.min_seconds} s")
        if duration > data.max_seconds:
            return _skip("too_long", f"{duration:.2f} s > {data.max_seconds} s")
        try:
            mel = log_mel(wav, audio).numpy().astype(np.float32)
        except AudioError as exc:
            return _skip("too_short", str(exc))
        if mel.shape[1] == 0:
            return _skip("too_short", "shorter than one frame")
        _save_npy(Path(mel_path), mel)
    except Exception as exc:  # one odd file must not end a many-hour run
        return _skip("error", f"{type(exc).__name__}: {exc}")
    return {"status": "kept", "detail": "", "duration": duration, "n_frames": int(mel.shape[1])}


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            np.save(handle, array)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    _write_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _unit_hash(utt_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{utt_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(
    ids: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """Map id → "train" | "val" | "test" from a seeded hash of the id alone.

    An id's split does not depend on the order, the worker that processed it or
    the other ids, so adding utterances never reshuffles old ones. With at least
    three ids, a split with a non-zero fraction that came out empty takes the
    train id nearest to it.
    """
    u = {uid: _unit_hash(uid, seed) for uid in ids}
    split = {
        uid: "test" if h < test_fraction else "val" if h < test_fraction + val_fraction else "train"
        for uid, h in u.items()
    }
    if len(ids) >= 3:
        for name, fraction in (("test", test_fraction), ("val", val_fraction)):
            if fraction <= 0 or name in split.values():
                continue
            donors = [uid for uid in ids if split[uid] == "train"]
            if len(donors) < 2:
                donors = [uid for uid in ids if split[uid] != name and split[uid] != "train"]
            split[min(donors, key=lambda uid: (u[uid], uid))] = name
    return split


def _check_audio_config(out_dir: Path, audio: AudioConfig) -> None:
    """Record the audio config, or refuse to mix features made with another one."""
    path = out_dir / AUDIO_CONFIG
    wanted = to_plain(audio)
    if path.is_file():
        found = json.loads(path.read_text())
        if found != wanted:
            diffs = "; ".join(
                f"audio.{key}: {found.get(key)!r} there, {wanted.get(key)!r} now"
                for key in sorted(set(found) | set(wanted))
                if found.get(key) != wanted.get(key)
            )
            raise PrepareError(
                f"{out_dir} was prepared with a different audio config ({diffs}); "
                "use another --out folder or delete this one"
            )
    elif (out_dir / JOURNAL).exists():
        raise PrepareError(f"{out_dir} holds features but no {AUDIO_CONFIG}; delete it first")
    else:
        _write_atomic(path, json.dumps(wanted, indent=2) + "\n")


def _read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """Last journal row per id; a torn last line from a killed run is ignored."""
    rows: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "id" in row:
                rows[row["id"]] = row
    return rows


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _init_worker(parent: int) -> None:
    """One torch thread per worker; exit if the parent is killed (the pool would orphan us)."""
    import torch

    torch.set_num_threads(1)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


_Job = tuple[Utterance, list[Any]]


def _run_jobs(
    jobs: list[_Job], out_dir: Path, config: Config, workers: int
) -> Iterator[tuple[_Job, dict[str, Any]]]:
    """Process jobs in-process or in a spawned process pool; yield results as they finish."""

    def args(job: _Job) -> tuple[Any, ...]:
        utt = job[0]
        mel = out_dir / "mels" / f"{utt.id}.npy"
        return utt.id, job[1][0], str(mel), config.audio, config.data

    with tqdm(total=len(jobs), desc="prepare", unit="utt", smoothing=0.05) as bar:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                yield job, process_utterance(*args(job))
                bar.update()
            return
        # spawn, not fork: a forked child of a process that already ran torch's
        # OpenMP thread pool can deadlock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            min(workers, len(jobs)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(os.getpid(),),
        ) as pool:
            futures = {pool.submit(process_utterance, *args(job)): job for job in jobs}
            try:
                for future in as_completed(futures):
                    yield futures[future], future.result()
                    bar.update()
            except BrokenProcessPool as exc:
                raise PrepareError(
                    "a worker process died (out of memory?); finished items are journaled, "
                    "rerun the same command to resume"
                ) from exc
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


def _train_stats(out_dir: Path, rows: list[dict[str, Any]], config: Config) -> dict[str, Any]:
    """Per-mel-bin mean/std over every train frame (float64 sums, one file at a time)."""
    n_mels = config.audio.n_mels
    total = np.zeros(n_mels)
    total_sq = np.zeros(n_mels)
    frames = 0
    for row in tqdm(rows, desc="stats", unit="utt"):
        mel = np.load(out_dir / row["mel_path"]).astype(np.float64)
        total += mel.sum(axis=1)
        total_sq += np.square(mel).sum(axis=1)
        frames += mel.shape[1]
    mean = total / max(frames, 1)
    std = np.sqrt(np.maximum(total_sq / max(frames, 1) - mean**2, 0.0))
    return {
        "split": "train",
        "count": len(rows),
        "frames": frames,
        "hours": sum(row["duration"] for row in rows) / 3600,
        "n_mels": n_mels,
        "mean": mean.tolist() if frames else None,
        "std": std.tolist() if frames else None,
    }


def prepare_dataset(
    corpus_root: str | Path,
    out_dir: str | Path,
    config: Config,
    workers: int = 2,
    layout: str = "auto",
) -> PrepareSummary:
    """Validate a corpus, cache its log-mels and write manifests; resumes an earlier run.

    An item is reused when the journal holds it for the same audio file (path,
    size, mtime) and the same data thresholds, and, if kept, its .npy exists;
    items that failed with an unexpected ``error`` are retried.
    """
    start = time.perf_counter()
    corpus_root, out_dir = Path(corpus_root), Path(out_dir)
    if layout == "auto":
        layout = detect_layout(corpus_root)
    utterances = read_corpus(corpus_root, layout)
    (out_dir / "mels").mkdir(parents=True, exist_ok=True)
    _check_audio_config(out_dir, config.audio)
    journal_path = out_dir / JOURNAL
    journal = _read_journal(journal_path)
    data = config.data
    criteria = [data.min_seconds, data.max_seconds, data.clip_fraction]

    skipped: dict[str, str] = {}
    details: dict[str, str] = {}
    normalized: dict[str, str] = {}
    results: dict[str, dict[str, Any]] = {}
    jobs: list[_Job] = []
    for utt in utterances:
        if utt.audio_path is None or not utt.audio_path.is_file():
            skipped[utt.id], details[utt.id] = "missing", "no audio file found"
            continue
        try:
            normalized[utt.id] = normalize(utt.text).strip()
        except Exception as exc:  # a cleaner bug on one line must not stop the corpus
            skipped[utt.id], details[utt.id] = "error", f"normalize: {exc!r}"
            continue
        if not normalized[utt.id]:
            skipped[utt.id], details[utt.id] = "empty_text", "transcript empty after normalising"
            continue
        stat = utt.audio_path.stat()
        source = [str(utt.audio_path.resolve()), stat.st_size, stat.st_mtime_ns]
        row = journal.get(utt.id)
        if (
            row is not None
            and row.get("source") == source
            and row.get("criteria") == criteria
            and row.get("status") != "error"
            and (row.get("status") != "kept" or (out_dir / "mels" / f"{utt.id}.npy").is_file())
        ):
            results[utt.id] = row
        else:
            jobs.append((utt, source))
    reused = len(results)

    with journal_path.open("a", encoding="utf-8") as handle:
        for (utt, source), result in _run_jobs(jobs, out_dir, config, workers):
            row = {"id": utt.id, "source": source, "criteria": criteria, **result}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            results[utt.id] = row
    _write_jsonl(journal_path, [results[u.id] for u in utterances if u.id in results])

    kept_rows: list[dict[str, Any]] = []
    for utt in utterances:
        result = results.get(utt.id)
        if result is None:
            continue
        if result["status"] != "kept":
            skipped[utt.id], details[utt.id] = result["status"], result.get("detail", "")
            continue
        row = {
            "id": utt.id,
            "text": utt.text,
            "normalized_text": normalized[utt.id],
            "wav_path": result["source"][0],
            "duration": result["duration"],
            "n_frames": result["n_frames"],
            "mel_path": f"mels/{utt.id}.npy",
        }
        if utt.speaker is not None:
            row["speaker"] = utt.speaker
        kept_rows.append(row)
    split_of = assign_splits(
        [row["id"] for row in kept_rows], data.val_fraction, data.test_fraction, data.split_seed
    )
    for row in kept_rows:
        row["split"] = split_of[row["id"]]
    _write_jsonl(out_dir / "all.jsonl", kept_rows)
    for name in SPLITS:
        _write_jsonl(out_dir / f"{name}.jsonl", [r for r in kept_rows if r["split"] == name])
    train_rows = [row for row in kept_rows if row["split"] == "train"]
    stats = _train_stats(out_dir, train_rows, config)
    _write_atomic(out_dir / "stats.json", json.dumps(stats, indent=1) + "\n")

    order = {utt.id: i for i, utt in enumerate(utterances)}
    skipped = dict(sorted(skipped.items(), key=lambda item: order[item[0]]))
    summary = PrepareSummary(
        corpus=str(corpus_root.resolve()),
        layout=layout,
        out_dir=str(out_dir.resolve()),
        total=len(utterances),
        kept=len(kept_rows),
        splits={name: sum(r["split"] == name for r in kept_rows) for name in SPLITS},
        hours=sum(row["duration"] for row in kept_rows) / 3600,
        computed=len(jobs),
        reused=reused,
        seconds=round(time.perf_counter() - start, 3),
        skipped=skipped,
        details=details,
    )
    _write_atomic(out_dir / "summary.json", json.dumps(summary.to_dict(), indent=1) + "\n")
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tts prepare``."""
    parser.add_argument("corpus", type=Path, metavar="CORPUS_DIR", help="LJSpeech/ARCTIC folder")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: data.manifest_dir)"
    )
    parser.add_argument("--config", type=Path, default=None, help="recipe YAML (config deltas)")
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. audio.sample_rate=16000 (repeatable)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes (0/1: in-process)"
    )
    parser.add_argument("--layout", choices=("auto", *LAYOUTS), default="auto")


def run(args: argparse.Namespace) -> int:
    """Prepare and print the summary; 2 on a bad corpus/config/output folder, 1 if none kept."""
    try:
        config = load_config(args.config, args.overrides)
        out_dir = args.out if args.out is not None else Path(config.data.manifest_dir)
        summary = prepare_dataset(args.corpus, out_dir, config, args.workers, args.layout)
    except (ConfigError, CorpusError, PrepareError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    print(summary.format())
    return 0 if summary.kept else 1
