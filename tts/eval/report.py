"""The evaluation report: its data, and how it is written as JSON and markdown.

``report.json`` holds every number (for scripts and later comparison);
``report.md`` is for people: the summary table comes first, then the FastSpeech-style
robustness table, then one row per sentence and, when recordings were scored, one
row per reference recording.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts.eval.wer import EditCounts


@dataclass
class AsrScore:
    """ASR transcript of one recording and its errors against the intended text."""

    hypothesis: str
    wer: float
    cer: float
    word_errors: int
    words: int
    char_errors: int
    chars: int

    @classmethod
    def from_counts(cls, hypothesis: str, words: EditCounts, chars: EditCounts) -> AsrScore:
        return cls(
            hypothesis=hypothesis,
            wer=words.rate,
            cer=chars.rate,
            word_errors=words.errors,
            words=words.length,
            char_errors=chars.errors,
            chars=chars.length,
        )


@dataclass
class SentenceScore:
    """Everything measured on one synthesised sentence."""

    index: int
    text: str
    normalized_text: str = ""
    wav: str | None = None  # file names relative to the report's folder
    plot: str | None = None
    audio_seconds: float = 0.0
    decoder_steps: int = 0
    hit_max: bool = False
    layer: int = 0  # the most diagonal head, which the alignment metrics read
    head: int = 0
    diagonality: float = 0.0
    focus_rate: float = 0.0
    monotonicity: float = 0.0
    skip: bool = False
    repeat: bool = False
    no_stop: bool = False
    skipped_words: list[str] = field(default_factory=list)
    skipped_symbols: int = 0
    revisited_words: list[str] = field(default_factory=list)
    backward_jumps: int = 0
    asr: AsrScore | None = None
    reference_id: str | None = None
    mcd_db: float | None = None
    duration_ratio: float | None = None  # synthesised / reference seconds
    error: str | None = None  # why synthesis failed; all metrics are then absent


@dataclass
class ReferenceScore:
    """ASR of one natural recording: the floor a synthetic voice is compared with."""

    id: str
    text: str
    duration: float
    asr: AsrScore


@dataclass
class EvalSummary:
    """Corpus-level numbers; error rates are total errors over total reference length."""

    sentences: int
    failed: int
    wer: float | None
    cer: float | None
    skips: int
    repeats: int
    no_stops: int
    error_sentences: int
    error_rate: float
    focus_rate: float | None
    diagonality: float | None
    monotonicity: float | None
    mcd_db: float | None
    duration_ratio: float | None
    references: int
    reference_wer: float | None
    reference_cer: float | None
    audio_seconds: float
    wall_seconds: float
    rtf: float | None


@dataclass
class EvalReport:
    settings: dict[str, Any]
    summary: EvalSummary
    sentences: list[SentenceScore]
    references: list[ReferenceScore] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def write_report(report: EvalReport, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    md_path.write_text(render_markdown(report))
    return json_path, md_path


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _number(value: float | None, digits: int = 3, unit: str = "") -> str:
    return "–" if value is None else f"{value:.{digits}f}{unit}"


def _cell(text: str | None, limit: int = 120) -> str:
    """Table-safe text: no pipes or newlines, long strings shortened."""
    if text is None:
        return "–"
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _summary_rows(s: EvalSummary) -> list[list[str]]:
    failed = f" ({s.failed} failed to synthesise)" if s.failed else ""
    rows = [
        ["sentences", f"{s.sentences}{failed}"],
        ["ASR WER, synthesised", _percent(s.wer)],
        ["ASR CER, synthesised", _percent(s.cer)],
    ]
    if s.references:
        rows += [
            [f"ASR WER, {s.references} reference recordings", _percent(s.reference_wer)],
            [f"ASR CER, {s.references} reference recordings", _percent(s.reference_cer)],
        ]
    rows += [
        ["skips / repeats / no-stop (sentences)", f"{s.skips} / {s.repeats} / {s.no_stops}"],
        ["error sentences", f"{s.error_sentences} ({_percent(s.error_rate)})"],
        ["focus rate (most diagonal head)", _number(s.focus_rate)],
        ["diagonality (most diagonal head)", _number(s.diagonality)],
        ["argmax-path monotonicity", _number(s.monotonicity)],
    ]
    if s.mcd_db is not None:
        rows += [
            ["MCD-DTW", _number(s.mcd_db, 2, " dB")],
            ["duration ratio (synthesised / reference)", _number(s.duration_ratio, 3)],
        ]
    rows += [
        ["audio", _number(s.audio_seconds, 1, " s")],
        ["synthesis wall time", _number(s.wall_seconds, 1, " s")],
        ["real-time factor (wall / audio)", _number(s.rtf, 3)],
    ]
    return rows


def _flags(score: SentenceScore) -> str:
    marks = []
    if score.skip:
        marks.append("skip: " + ", ".join(score.skipped_words) if score.skipped_words else "skip")
    if score.repeat:
        revisited = ", ".join(score.revisited_words)
        marks.append(f"repeat: {revisited}" if revisited else "repeat")
    if score.no_stop:
        marks.append("no-stop")
    return _cell("; ".join(marks), 60) if marks else ""


def _transcript(asr: AsrScore | None) -> str:
    if asr is None:
        return "–"
    return _cell(asr.hypothesis) if asr.hypothesis.strip() else "(nothing recognised)"


def _sentence_row(score: SentenceScore, with_references: bool) -> list[str]:
    if score.error is not None:
        blank = ["–"] * (8 + 2 * with_references)
        return [str(score.index), _cell(score.text), f"failed: {_cell(score.error, 60)}", *blank]
    files = " ".join(
        f"[{kind}]({name})" for kind, name in (("wav", score.wav), ("png", score.plot)) if name
    )
    row = [
        str(score.index),
        _cell(score.text),
        _transcript(score.asr),
        _percent(score.asr.wer) if score.asr else "–",
        _percent(score.asr.cer) if score.asr else "–",
        _flags(score),
        _number(score.focus_rate, 2),
        _number(score.diagonality, 2),
        _number(score.monotonicity, 2),
        _number(score.audio_seconds, 2),
    ]
    if with_references:
        row += [_number(score.mcd_db, 2), _number(score.duration_ratio, 2)]
    return [*row, files or "–"]


def render_markdown(report: EvalReport) -> str:
    """The human-readable report: summary first, then per-sentence details."""
    s = report.summary
    settings = " · ".join(
        f"{key}: `{value}`" for key, value in report.settings.items() if value is not None
    )
    lines = ["# Evaluation report", "", settings, "", "## Summary", ""]
    lines += _table(["metric", "value"], _summary_rows(s))
    lines += ["", "## Robustness", ""]
    lines += _table(
        ["sentences", "skips", "repeats", "no-stop", "error sentences", "error rate"],
        [
            [
                str(s.sentences - s.failed),
                str(s.skips),
                str(s.repeats),
                str(s.no_stops),
                str(s.error_sentences),
                _percent(s.error_rate),
            ]
        ],
    )
    with_references = any(score.reference_id is not None for score in report.sentences)
    header = ["#", "text", "ASR transcript", "WER", "CER", "flags", "focus", "diag", "mono", "s"]
    if with_references:
        header += ["MCD dB", "dur ratio"]
    lines += ["", "## Sentences", ""]
    lines += _table(
        [*header, "files"], [_sentence_row(score, with_references) for score in report.sentences]
    )
    if report.references:
        lines += ["", "## Reference recordings", ""]
        lines += _table(
            ["id", "text", "ASR transcript", "WER", "CER", "s"],
            [
                [
                    _cell(ref.id),
                    _cell(ref.text),
                    _transcript(ref.asr),
                    _percent(ref.asr.wer),
                    _percent(ref.asr.cer),
                    _number(ref.duration, 2),
                ]
                for ref in report.references
            ],
        )
    return "\n".join(lines) + "\n"
