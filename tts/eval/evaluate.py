"""``tts eval``: score a checkpoint on a sentence list the way the field does.

For every sentence: synthesise it, write the wav and an alignment plot, transcribe it
with Whisper and score word/character errors against the input text
(:mod:`tts.eval.wer`), flag skips, repeats and no-stop runs from the attention
(:mod:`tts.eval.robustness`), and measure focus rate, diagonality and argmax-path
monotonicity of the most diagonal head (:mod:`tts.eval.alignment`).

With ``--references MANIFEST`` (rows written by ``tts prepare``) the recordings are
transcribed too, so the gap to natural speech is visible. Without ``--sentences``
the references' own texts are synthesised and each is also compared with its
recording: MCD-DTW (:mod:`tts.eval.mcd`) and the duration ratio.

The same evaluation is a Python call, :func:`evaluate`, returning an
:class:`~tts.eval.report.EvalReport`; the app and recipes reuse it.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from tts.audio import load_audio, preprocess, save_wav
from tts.data import read_manifest
from tts.eval.alignment import focus_rate, monotonicity, most_diagonal_head
from tts.eval.asr import AsrError, Transcriber, asr_versions
from tts.eval.mcd import mcd_dtw, waveform_log_mel
from tts.eval.report import (
    AsrScore,
    EvalReport,
    EvalSummary,
    ReferenceScore,
    SentenceScore,
    write_report,
)
from tts.eval.robustness import DetectorSettings, Flags, detect, summarize
from tts.eval.wer import char_errors, normalize_for_scoring, word_errors

if TYPE_CHECKING:
    from tts.synthesize import SynthesisResult, Synthesizer

log = logging.getLogger(__name__)


class Reference(NamedTuple):
    """One recorded utterance of a prepared manifest, paths resolved."""

    id: str
    text: str
    wav_path: Path | None  # None when the manifest has no recording (features only)
    mel_path: Path | None
    duration: float


@dataclass(frozen=True)
class EvalOptions:
    """How sentences are synthesised and scored."""

    batch_size: int = 8
    stop_threshold: float = 0.5
    max_len_ratio: float | None = None  # frames per symbol; None: the synthesizer's default
    monotonic: bool = False
    seed: int | None = 0  # prenet dropout stays on at inference: seed it for repeatable scores
    speaker: int = 0  # of a multi-speaker voice
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    mcd_coeffs: int = 24

    def synthesis_kwargs(self) -> dict:
        kwargs = {
            "stop_threshold": self.stop_threshold,
            "monotonic": self.monotonic,
            "seed": self.seed,
            "speaker": self.speaker,
        }
        if self.max_len_ratio is not None:
            kwargs["max_len_ratio"] = self.max_len_ratio
        return kwargs


def read_references(manifest: str | Path) -> list[Reference]:
    """Rows of a ``tts prepare`` manifest; paths are relative to the manifest's folder."""
    root = Path(manifest).parent
    references = []
    for row in read_manifest(manifest):
        wav = row.get("wav_path") or None
        mel = row.get("mel_path") or None
        references.append(
            Reference(
                id=str(row["id"]),
                text=row["text"],
                wav_path=root / wav if wav else None,
                mel_path=root / mel if mel else None,
                duration=float(row.get("duration") or 0.0),
            )
        )
    return references


def read_sentences(path: str | Path) -> list[str]:
    """Non-empty lines of a text file, stripped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sentence file not found: {path}")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def score_transcript(text: str, hypothesis: str) -> AsrScore:
    """WER/CER of an ASR hypothesis against the text that should have been spoken."""
    reference, hyp = normalize_for_scoring(text), normalize_for_scoring(hypothesis)
    return AsrScore.from_counts(
        hypothesis,
        word_errors(reference, hyp, normalized=True),
        char_errors(reference, hyp, normalized=True),
    )


def _reference_mel(reference: Reference, synthesizer: Synthesizer) -> np.ndarray | None:
    """The recording's log-mel: the cached feature, else computed from the wav."""
    audio_config = synthesizer.config.audio
    if reference.mel_path is not None and reference.mel_path.is_file():
        mel = np.load(reference.mel_path)
        if mel.shape[0] == audio_config.n_mels:
            return mel
    if reference.wav_path is not None and reference.wav_path.is_file():
        audio = preprocess(load_audio(reference.wav_path, audio_config.sample_rate), audio_config)
        return waveform_log_mel(audio, audio_config)
    return None


def _score_result(
    index: int,
    result: SynthesisResult,
    name: str,
    out_dir: Path | None,
    transcriber: Transcriber | None,
    reference: Reference | None,
    synthesizer: Synthesizer,
    options: EvalOptions,
) -> tuple[SentenceScore, Flags]:
    best = most_diagonal_head(result.alignment)
    attention = result.alignment[best.layer, best.head]
    flags = detect(attention, result.symbols, result.hit_max, options.detector)
    score = SentenceScore(
        index=index,
        text=result.text,
        normalized_text=result.normalized_text,
        audio_seconds=result.audio_seconds,
        decoder_steps=result.decoder_steps,
        hit_max=result.hit_max,
        layer=best.layer,
        head=best.head,
        diagonality=best.diagonality,
        focus_rate=focus_rate(torch.from_numpy(attention)) if attention.size else 0.0,
        monotonicity=monotonicity(attention),
        skip=flags.skip,
        repeat=flags.repeat,
        no_stop=flags.no_stop,
        skipped_words=list(flags.skipped_words),
        skipped_symbols=len(flags.skipped_symbols),
        revisited_words=list(flags.revisited_words),
        backward_jumps=flags.backward_jumps,
    )
    if out_dir is not None:
        from tts.plotting import plot_alignment, save_figure

        score.wav, score.plot = f"{name}.wav", f"{name}.png"
        save_wav(out_dir / score.wav, result.audio, result.sample_rate)
        title = f"{name}: layer {best.layer} head {best.head}, diagonality {best.diagonality:.2f}"
        save_figure(plot_alignment(attention, result.symbols, title), out_dir / score.plot)
    if transcriber is not None:
        score.asr = score_transcript(
            result.text, transcriber.transcribe(result.audio, result.sample_rate)
        )
    if reference is not None:
        score.reference_id = reference.id
        reference_mel = _reference_mel(reference, synthesizer)
        if reference_mel is not None and result.audio.size > synthesizer.config.audio.n_fft:
            synthesized = waveform_log_mel(result.audio, synthesizer.config.audio)
            score.mcd_db = mcd_dtw(synthesized, reference_mel, options.mcd_coeffs).mcd_db
        seconds = reference.duration or (
            reference_mel.shape[1] * synthesizer.config.audio.hop_length / synthesizer.sample_rate
            if reference_mel is not None
            else 0.0
        )
        score.duration_ratio = result.audio_seconds / seconds if seconds else None
    return score, flags


def _synthesize_chunk(
    synthesizer: Synthesizer, texts: Sequence[str], options: EvalOptions
) -> list[SynthesisResult | str]:
    """Results of one batch; a text the synthesizer rejects becomes its error message."""
    from tts.synthesize import SynthesisError

    kwargs = options.synthesis_kwargs()
    try:
        return list(synthesizer.synthesize_batch(texts, batch_size=len(texts), **kwargs))
    except SynthesisError:
        pass
    out: list[SynthesisResult | str] = []
    for text in texts:  # find which text failed; the others are still scored
        try:
            out.append(synthesizer.synthesize_batch([text], batch_size=1, **kwargs)[0])
        except SynthesisError as exc:
            out.append(str(exc))
    return out


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def evaluate(
    synthesizer: Synthesizer,
    texts: Sequence[str] | None = None,
    references: Sequence[Reference] | None = None,
    transcriber: Transcriber | None = None,
    out_dir: str | Path | None = None,
    options: EvalOptions | None = None,
    settings: dict | None = None,
) -> EvalReport:
    """Synthesise and score ``texts`` (or, when ``texts`` is None, the references' texts,
    each compared with its recording). With ``out_dir``, wavs and alignment PNGs are
    written there (the report itself is written by :func:`write_report`); without a
    ``transcriber`` the ASR scores are left out."""
    options = options or EvalOptions()
    references = list(references or [])
    paired = texts is None
    if paired:
        if not references:
            raise ValueError("give sentences to synthesise, references, or both")
        texts = [reference.text for reference in references]
    texts = list(texts)
    if not texts:
        raise ValueError("no sentences to evaluate")
    folder = Path(out_dir) if out_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(texts) - 1)))

    scores: list[SentenceScore] = []
    flags: list[Flags] = []
    wall = 0.0
    progress = tqdm(total=len(texts), desc="eval", unit="sentence")
    for start in range(0, len(texts), options.batch_size):
        chunk = texts[start : start + options.batch_size]
        started = time.perf_counter()
        results = _synthesize_chunk(synthesizer, chunk, options)
        wall += time.perf_counter() - started
        for offset, result in enumerate(results):
            index = start + offset
            if isinstance(result, str):
                scores.append(SentenceScore(index=index, text=chunk[offset], error=result))
            else:
                score, flag = _score_result(
                    index,
                    result,
                    f"{index:0{width}d}",
                    folder,
                    transcriber,
                    references[index] if paired else None,
                    synthesizer,
                    options,
                )
                scores.append(score)
                flags.append(flag)
            progress.update(1)
    progress.close()

    reference_scores = []
    if transcriber is not None:
        recorded = [r for r in references if r.wav_path is not None and r.wav_path.is_file()]
        for reference in tqdm(recorded, desc="ASR of references", unit="recording"):
            hypothesis = transcriber.transcribe_file(reference.wav_path)
            reference_scores.append(
                ReferenceScore(
                    reference.id,
                    reference.text,
                    reference.duration,
                    score_transcript(reference.text, hypothesis),
                )
            )
    report = EvalReport(
        settings={
            **(settings or {}),
            "asr": transcriber.name if transcriber is not None else None,
            "asr_versions": asr_versions() if transcriber is not None else None,
            "monotonic": options.monotonic,
            "stop_threshold": options.stop_threshold,
            "seed": options.seed,
        },
        summary=_summarize(scores, flags, reference_scores, wall),
        sentences=scores,
        references=reference_scores,
    )
    return report


def _corpus_rates(scores: list[AsrScore]) -> tuple[float | None, float | None]:
    """Total errors over total reference length (long sentences weigh more)."""
    if not scores:
        return None, None
    words, chars = sum(s.words for s in scores), sum(s.chars for s in scores)
    return (
        sum(s.word_errors for s in scores) / max(words, 1),
        sum(s.char_errors for s in scores) / max(chars, 1),
    )


def _summarize(
    scores: list[SentenceScore],
    flags: list[Flags],
    references: list[ReferenceScore],
    wall: float,
) -> EvalSummary:
    done = [s for s in scores if s.error is None]
    robustness = summarize(flags)
    wer, cer = _corpus_rates([s.asr for s in done if s.asr is not None])
    reference_wer, reference_cer = _corpus_rates([r.asr for r in references])
    audio = sum(s.audio_seconds for s in done)
    return EvalSummary(
        sentences=len(scores),
        failed=len(scores) - len(done),
        wer=wer,
        cer=cer,
        skips=robustness.skips,
        repeats=robustness.repeats,
        no_stops=robustness.no_stops,
        error_sentences=robustness.error_sentences,
        error_rate=robustness.error_rate,
        focus_rate=_mean([s.focus_rate for s in done]),
        diagonality=_mean([s.diagonality for s in done]),
        monotonicity=_mean([s.monotonicity for s in done]),
        mcd_db=_mean([s.mcd_db for s in done]),
        duration_ratio=_mean([s.duration_ratio for s in done]),
        references=len(references),
        reference_wer=reference_wer,
        reference_cer=reference_cer,
        audio_seconds=audio,
        wall_seconds=wall,
        rtf=wall / audio if audio > 0 else None,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tts.synthesize import add_prenet_dropout_argument

    parser.add_argument("--checkpoint", type=Path, required=True, help="acoustic checkpoint")
    parser.add_argument(
        "--sentences", type=Path, help="text file, one sentence per line (e.g. harvard_dev.txt)"
    )
    parser.add_argument(
        "--references",
        type=Path,
        help="manifest .jsonl from `tts prepare`: its recordings are transcribed too; "
        "without --sentences its texts are synthesised and compared (MCD-DTW, duration)",
    )
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--vocoder", default="griffin-lim", help="griffin-lim | hifigan:PATH")
    parser.add_argument(
        "--asr-model",
        default=None,
        help="faster-whisper model name or CTranslate2 folder (default: bundled tiny.en)",
    )
    parser.add_argument("--no-asr", action="store_true", help="skip speech recognition")
    parser.add_argument("--monotonic", action="store_true", help="monotonic attention window")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-sentences", type=int, default=None, help="use only the first N")
    parser.add_argument("--stop-threshold", type=float, default=0.5)
    parser.add_argument("--max-len-ratio", type=float, default=None, help="frames per symbol")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--speaker", type=int, default=0, help="speaker id of a multi-speaker voice"
    )
    add_prenet_dropout_argument(parser)
    parser.add_argument("--device", default="cpu", help="synthesis device: cpu | cuda | auto")


def run(args: argparse.Namespace) -> int:
    from tts.checkpoint import CheckpointError
    from tts.synthesize import SynthesisError, Synthesizer, prenet_dropout_choice
    from tts.vocoder import VocoderError

    if args.sentences is None and args.references is None:
        raise SystemExit("error: give --sentences, --references, or both")
    if args.batch_size < 1 or (args.max_sentences is not None and args.max_sentences < 1):
        raise SystemExit("error: --batch-size and --max-sentences must be >= 1")
    try:
        texts = read_sentences(args.sentences) if args.sentences is not None else None
        references = read_references(args.references) if args.references is not None else []
    except FileNotFoundError as exc:
        raise SystemExit(f"error: {exc}") from exc
    if args.max_sentences is not None:
        texts = texts[: args.max_sentences] if texts is not None else None
        references = references[: args.max_sentences]
    try:
        transcriber = None if args.no_asr else Transcriber.load(args.asr_model)
        synthesizer = Synthesizer.from_checkpoint(
            args.checkpoint, args.vocoder, args.device, prenet_dropout_choice(args)
        )
        synthesizer.check_speaker(args.speaker)
        report = evaluate(
            synthesizer,
            texts,
            references,
            transcriber,
            args.out_dir,
            EvalOptions(
                batch_size=args.batch_size,
                stop_threshold=args.stop_threshold,
                max_len_ratio=args.max_len_ratio,
                monotonic=args.monotonic,
                seed=args.seed,
                speaker=args.speaker,
            ),
            settings={
                "checkpoint": str(args.checkpoint),
                "step": synthesizer.step,
                "speaker": args.speaker,
                "prenet_dropout": synthesizer.config.model.prenet_dropout_at_inference,
                "vocoder": synthesizer.vocoder.name,
                "sentences": str(args.sentences) if args.sentences else None,
                "references": str(args.references) if args.references else None,
            },
        )
    except (AsrError, CheckpointError, SynthesisError, VocoderError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    json_path, md_path = write_report(report, args.out_dir)
    s = report.summary
    log.info(
        "%d sentences: WER %s, CER %s, %d error sentences, RTF %s -> %s",
        s.sentences,
        "–" if s.wer is None else f"{100 * s.wer:.1f} %",
        "–" if s.cer is None else f"{100 * s.cer:.1f} %",
        s.error_sentences,
        "–" if s.rtf is None else f"{s.rtf:.3f}",
        md_path,
    )
    if s.references:
        log.info(
            "reference recordings (%d): WER %.1f %%, CER %.1f %%",
            s.references,
            100 * s.reference_wer,
            100 * s.reference_cer,
        )
    return 0
