"""Text → waveform with a trained checkpoint: the Python API and ``tts synthesize``.

    from tts import Synthesizer
    syn = Synthesizer.from_checkpoint("exp/run/best.pt", vocoder="griffin-lim")
    result = syn("Hello world.")   # SynthesisResult: audio, mel, alignment, timings

Long text is normalised, split into sentences (and over-long sentences at commas),
decoded as one padded batch with the key/value cache, vocoded sentence by sentence
and joined with short pauses. Everything a call depends on is in its arguments; the
synthesizer holds only the loaded model, tokenizer and vocoder.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from tts.checkpoint import CheckpointError, load_checkpoint
from tts.config import Config
from tts.model.generate import generate
from tts.model.transformer_tts import TransformerTTS
from tts.text import Tokenizer, normalize, phonemes
from tts.vocoder import Vocoder, load_vocoder

log = logging.getLogger(__name__)

# Sentence ends after cleaning (abbreviations such as "Dr." are already words by then).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")


class SynthesisError(ValueError):
    """The text cannot be synthesised (empty, too long, nothing speakable)."""


@dataclass(frozen=True)
class SynthesisOptions:
    """Per-call decoding settings.

    Lengths are in output frames per input symbol: LJSpeech averages about 6, so the
    defaults allow a generous 0.5 … 15 before a sentence counts as "hit the maximum", and
    never less than ``min_frames`` (about 1.2 s, so that "Hi." said slowly is not cut).
    ``monotonic`` restricts cross-attention to ``monotonic_window`` = (back, forward)
    symbols around the previous focus. ``seed`` makes prenet dropout reproducible.
    ``speaker`` picks the voice of a multi-speaker model (0: the corpus it was trained on
    first, ``data.manifest_dir``; 1, 2, …: ``data.extra_speakers``).
    """

    stop_threshold: float = 0.5
    min_len_ratio: float = 0.5
    max_len_ratio: float = 15.0
    min_frames: int = 100
    monotonic: bool = False
    monotonic_window: tuple[int, int] = (1, 3)
    seed: int | None = None
    pause_seconds: float = 0.25
    max_sentence_chars: int = 250
    speaker: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.stop_threshold <= 1:
            raise ValueError("stop_threshold must be in (0, 1]")
        if not 0 <= self.min_len_ratio < self.max_len_ratio:
            raise ValueError("need 0 <= min_len_ratio < max_len_ratio")
        if self.pause_seconds < 0 or self.max_sentence_chars < 10:
            raise ValueError("pause_seconds must be >= 0 and max_sentence_chars >= 10")


@dataclass
class SynthesisResult:
    """One synthesised text. Arrays are numpy; shapes in the comments."""

    text: str
    normalized_text: str
    sentences: list[str]
    symbols: list[str]  # T_text input symbols of all sentences ('<eos>' ends each)
    audio: np.ndarray  # (N,) float32 in [-1, 1]
    sample_rate: int
    mel: np.ndarray  # (M, T_out) natural-log mel, pauses included
    alignment: np.ndarray  # (L, H, T_dec, T_text), block-diagonal over sentences
    stop_probs: np.ndarray  # (T_frames,) of the decoded frames, sentences concatenated
    decoder_steps: int
    hit_max: bool  # some sentence ended at the length cap, not by its stop token
    wall_seconds: float  # this text's share of model time + its vocoder time
    audio_seconds: float
    rtf: float  # wall_seconds / audio_seconds (< 1 is faster than real time)
    by_durations: bool = False  # predicted durations set the length (duration decoding)

    @property
    def stopped_by(self) -> str:
        """What ended the sentences: the length cap, the durations or the stop token."""
        if self.hit_max:
            return "length cap"
        return "durations" if self.by_durations else "stop token"

    def summary(self) -> dict:
        """The JSON-able numbers (no arrays)."""
        return {
            "text": self.text,
            "sentences": len(self.sentences),
            "audio_seconds": round(self.audio_seconds, 3),
            "decoder_steps": self.decoder_steps,
            "hit_max_len": self.hit_max,
            "stopped_by": self.stopped_by,
            "wall_seconds": round(self.wall_seconds, 3),
            "rtf": round(self.rtf, 4),
        }


class PreparedText(NamedTuple):
    """One validated text: its cleaned form, its sentences and their ids (with <eos>)."""

    normalized: str
    sentences: list[str]
    ids: list[list[int]]


@dataclass
class _Sentence:
    """A decoded sentence before joining (internal)."""

    text_index: int
    ids: list[int]
    mel: np.ndarray  # (M, T)
    alignment: np.ndarray  # (L, H, T_dec, T_text)
    stop_probs: np.ndarray
    decoder_steps: int
    hit_max: bool
    model_seconds: float = 0.0


def split_sentences(normalized: str, max_chars: int = 250) -> list[str]:
    """Cleaned text → sentences; a sentence longer than ``max_chars`` is cut at clause
    punctuation (and, failing that, at spaces) into pieces of at most ``max_chars``."""
    pieces = []
    for sentence in _SENTENCE_END.split(normalized.strip()):
        if not sentence:
            continue
        if len(sentence) <= max_chars:
            pieces.append(sentence)
            continue
        pieces.extend(_pack(_CLAUSE_END.split(sentence), max_chars))
    return pieces


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """Greedily join parts (clauses, then words for over-long clauses) up to ``max_chars``."""
    out: list[str] = []
    current = ""
    for part in parts:
        if len(part) > max_chars:
            words = part.split(" ")
            if len(words) > 1:
                sub = _pack(words, max_chars)
                if current:
                    out.append(current)
                out.extend(sub[:-1])
                current = sub[-1]
                continue
        candidate = f"{current} {part}" if current else part
        if len(candidate) <= max_chars or not current:
            current = candidate
        else:
            out.append(current)
            current = part
    if current:
        out.append(current)
    return out


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed torch's RNG for one call without disturbing the caller's random state."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class Synthesizer:
    """A loaded acoustic model + tokenizer + vocoder; call it with text."""

    def __init__(
        self,
        model: TransformerTTS,
        config: Config,
        vocoder: Vocoder,
        device: str | torch.device = "cpu",
        step: int | None = None,
    ) -> None:
        if vocoder.sample_rate != config.audio.sample_rate:
            raise SynthesisError(
                f"vocoder runs at {vocoder.sample_rate} Hz but the model at "
                f"{config.audio.sample_rate} Hz"
            )
        if config.text.frontend == "phonemes":
            missing = phonemes.missing_dependency()
            if missing is not None:
                raise SynthesisError(
                    f"this voice reads phonemes, but {missing}: {phonemes.INSTALL_HINT}"
                )
        self.model = model.eval().to(device)
        self.config = config
        self.tokenizer = Tokenizer(config.text)
        self.vocoder = vocoder
        self.device = torch.device(device)
        self.step = step

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        vocoder: str | Vocoder = "griffin-lim",
        device: str = "cpu",
        prenet_dropout: bool | None = None,
    ) -> Synthesizer:
        """Load any training or exported checkpoint. ``prenet_dropout`` overrides the
        model's inference-time prenet dropout (off gives deterministic output)."""
        device = _pick_device(device)
        state = load_checkpoint(path, map_location="cpu")
        config: Config = state["config"]
        if list(state.get("symbols", config.text.symbols)) != list(config.text.symbols):
            raise CheckpointError(f"{path}: symbol table does not match its config")
        if prenet_dropout is not None:
            model_config = dataclasses.replace(
                config.model, prenet_dropout_at_inference=prenet_dropout
            )
            config = dataclasses.replace(config, model=model_config)
        model = TransformerTTS(config.model, len(config.text.symbols), config.audio.n_mels)
        try:
            model.load_state_dict({k: v.float() for k, v in state["model"].items()})
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: weights do not match its config: {exc}") from exc
        if isinstance(vocoder, str):
            vocoder = load_vocoder(vocoder, config.audio, device)
        return cls(model, config, vocoder, device, step=state.get("step"))

    @property
    def sample_rate(self) -> int:
        return self.config.audio.sample_rate

    @property
    def max_chars(self) -> int:
        return self.config.text.max_chars

    def __call__(self, text: str, **options) -> SynthesisResult:
        """Synthesise one text (any length up to ``max_chars``); see :class:`SynthesisOptions`."""
        return self.synthesize_batch([text], **options)[0]

    def check_speaker(self, speaker: int) -> None:
        """A clear error for a speaker id this voice does not have."""
        speakers = self.model.config.num_speakers
        if not 0 <= speaker < speakers:
            raise SynthesisError(
                f"speaker {speaker} does not exist: this voice has {speakers} "
                f"speaker(s), 0 to {speakers - 1}"
            )

    def prepare(self, text: str, max_sentence_chars: int = 250) -> PreparedText:
        """Validate, clean, split and tokenize one text.

        Raises :class:`SynthesisError` for empty text, text over the length cap, or
        text in which no character is in the model's symbol table."""
        if not isinstance(text, str) or not text.strip():
            raise SynthesisError("text is empty")
        if len(text) > self.max_chars:
            raise SynthesisError(f"text has {len(text)} characters; the limit is {self.max_chars}")
        normalized = normalize(text)
        sentences, ids = [], []
        for sentence in split_sentences(normalized, max_sentence_chars):
            sentence_ids = self.tokenizer.encode_normalized(sentence, add_eos=False)
            if any(self.tokenizer.vocab[i].isalnum() for i in sentence_ids):
                sentences.append(sentence)
                ids.append(sentence_ids + [self.tokenizer.eos_id])
        if not sentences:
            raise SynthesisError(
                f"nothing speakable in {text[:60]!r}: none of its characters is in the "
                f"model's symbol table"
            )
        return PreparedText(normalized, sentences, ids)

    def synthesize_batch(
        self, texts: Sequence[str], batch_size: int = 8, **options
    ) -> list[SynthesisResult]:
        """Synthesise many texts; sentences of all texts are decoded ``batch_size`` at a
        time (padded, each stopping on its own) and results come back in input order."""
        opts = SynthesisOptions(**options)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.check_speaker(opts.speaker)
        prepared = [self.prepare(text, opts.max_sentence_chars) for text in texts]
        queue = [(index, ids) for index, item in enumerate(prepared) for ids in item.ids]
        # Similar lengths share a batch so little time goes to padding.
        order = sorted(range(len(queue)), key=lambda i: len(queue[i][1]))
        decoded: dict[int, _Sentence] = {}
        with _seeded(opts.seed):
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                for i, sentence in zip(
                    chunk, self._decode([queue[i] for i in chunk], opts), strict=True
                ):
                    decoded[i] = sentence
        per_text: list[list[_Sentence]] = [[] for _ in texts]
        for i in range(len(queue)):
            per_text[decoded[i].text_index].append(decoded[i])
        return [
            self._assemble(text, item.normalized, item.sentences, sentences, opts)
            for text, item, sentences in zip(texts, prepared, per_text, strict=True)
        ]

    @torch.no_grad()
    def _decode(
        self, items: list[tuple[int, list[int]]], opts: SynthesisOptions
    ) -> list[_Sentence]:
        """One padded batch through :func:`generate`; per-item caps are applied after."""
        started = time.perf_counter()
        r = self.model.reduction_factor
        lengths = torch.tensor([len(ids) for _, ids in items])
        tokens = torch.zeros(len(items), int(lengths.max()), dtype=torch.long)
        for row, (_, ids) in enumerate(items):
            tokens[row, : len(ids)] = torch.tensor(ids)
        max_frames = [max(opts.min_frames, math.ceil(opts.max_len_ratio * n)) for n in lengths]
        max_steps = [math.ceil(f / r) for f in max_frames]
        min_steps = (opts.min_len_ratio * lengths.float() / r).floor().long()
        out = generate(
            self.model,
            tokens.to(self.device),
            lengths.to(self.device),
            max_steps=max(max_steps),
            min_steps=min_steps.to(self.device),
            stop_threshold=opts.stop_threshold,
            monotonic=opts.monotonic_window if opts.monotonic else None,
            speakers=torch.full_like(lengths, opts.speaker).to(self.device),
        )
        mel = out.mel.float().cpu()
        if not torch.isfinite(mel).all():
            raise SynthesisError("the model produced non-finite values: the checkpoint is broken")
        elapsed = time.perf_counter() - started
        results = []
        for row, (text_index, ids) in enumerate(items):
            steps = int(out.decoder_steps[row])
            frames = int(out.lengths[row])
            hit_max = bool(out.hit_max[row])
            if steps > max_steps[row]:  # stopped later than this item's own cap allows
                steps, frames, hit_max = max_steps[row], max_steps[row] * r, True
            if hit_max:
                log.warning(
                    "sentence hit the length cap (%d decoder steps): %s",
                    steps,
                    self.tokenizer.decode(ids)[:80],
                )
            results.append(
                _Sentence(
                    text_index=text_index,
                    ids=ids,
                    mel=mel[row, :frames].T.numpy(),
                    alignment=out.alignment[row, :, :, :steps, : len(ids)].float().cpu().numpy(),
                    stop_probs=out.stop_probs[row, :frames].float().cpu().numpy(),
                    decoder_steps=steps,
                    hit_max=hit_max,
                )
            )
        total = sum(s.mel.shape[1] for s in results) or 1
        for sentence in results:
            sentence.model_seconds = elapsed * sentence.mel.shape[1] / total
        return results

    def _assemble(
        self,
        text: str,
        normalized: str,
        sentence_texts: list[str],
        sentences: list[_Sentence],
        opts: SynthesisOptions,
    ) -> SynthesisResult:
        """Vocode each sentence and join them with pauses; alignments go block-diagonal."""
        started = time.perf_counter()
        audio_cfg = self.config.audio
        pause_frames = round(opts.pause_seconds * audio_cfg.sample_rate / audio_cfg.hop_length)
        silence = np.full(
            (audio_cfg.n_mels, pause_frames), math.log(audio_cfg.log_clamp), dtype=np.float32
        )
        audio_parts, mel_parts = [], []
        for k, sentence in enumerate(sentences):
            if k:
                audio_parts.append(np.zeros(pause_frames * audio_cfg.hop_length, np.float32))
                mel_parts.append(silence)
            mel = torch.from_numpy(sentence.mel).unsqueeze(0).to(self.device)
            audio_parts.append(self.vocoder(mel)[0].float().cpu().numpy())
            mel_parts.append(sentence.mel)
        audio = np.concatenate(audio_parts).astype(np.float32)
        wall = time.perf_counter() - started + sum(s.model_seconds for s in sentences)
        seconds = audio.size / audio_cfg.sample_rate
        symbols = [s for sentence in sentences for s in self.tokenizer.symbols(sentence.ids)]
        return SynthesisResult(
            text=text,
            normalized_text=normalized,
            sentences=sentence_texts,
            symbols=symbols,
            audio=audio,
            sample_rate=audio_cfg.sample_rate,
            mel=np.concatenate(mel_parts, axis=1),
            alignment=_block_diagonal([s.alignment for s in sentences]),
            stop_probs=np.concatenate([s.stop_probs for s in sentences]),
            decoder_steps=sum(s.decoder_steps for s in sentences),
            hit_max=any(s.hit_max for s in sentences),
            wall_seconds=wall,
            audio_seconds=seconds,
            rtf=wall / max(seconds, 1e-9),
            by_durations=self.model.duration_predictor is not None,
        )


def _block_diagonal(blocks: list[np.ndarray]) -> np.ndarray:
    """(L, H, T_dec_i, T_text_i) blocks → (L, H, ΣT_dec, ΣT_text)."""
    layers, heads = blocks[0].shape[:2]
    steps = sum(b.shape[2] for b in blocks)
    symbols = sum(b.shape[3] for b in blocks)
    out = np.zeros((layers, heads, steps, symbols), dtype=np.float32)
    t = n = 0
    for block in blocks:
        out[:, :, t : t + block.shape[2], n : n + block.shape[3]] = block
        t += block.shape[2]
        n += block.shape[3]
    return out


def _pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SynthesisError("--device cuda was asked for, but no CUDA device is available")
    return device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="text to speak (one item; long text is split)")
    source.add_argument("--text-file", type=Path, help="one item per non-empty line")
    parser.add_argument(
        "--checkpoint", type=Path, help="acoustic checkpoint (default: bundled voice)"
    )
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--vocoder", default="griffin-lim", help="griffin-lim | hifigan:PATH")
    parser.add_argument("--plot", action="store_true", help="also write alignment PNGs")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--stop-threshold", type=float, default=0.5)
    parser.add_argument("--max-len-ratio", type=float, default=15.0, help="frames per symbol")
    parser.add_argument("--monotonic", action="store_true", help="monotonic attention window")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--speaker", type=int, default=0, help="speaker id of a multi-speaker voice"
    )
    add_prenet_dropout_argument(parser)
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto")


def add_prenet_dropout_argument(parser: argparse.ArgumentParser) -> None:
    """``--prenet-dropout on|off``: override the voice's inference-time prenet dropout."""
    parser.add_argument(
        "--prenet-dropout",
        choices=("on", "off"),
        default=None,
        help="decoder prenet dropout at inference (default: the voice's own setting)",
    )


def prenet_dropout_choice(args: argparse.Namespace) -> bool | None:
    """``--prenet-dropout on|off`` as ``Synthesizer.from_checkpoint`` and
    ``export_checkpoint`` take it: True, False, or None (keep the voice's setting)."""
    return None if args.prenet_dropout is None else args.prenet_dropout == "on"


def resolve_checkpoint(path: Path | None) -> Path:
    """The given checkpoint, or the bundled default voice."""
    if path is not None:
        return path
    from tts.pretrained import default_voice

    voice = default_voice()
    if voice is None:
        raise CheckpointError("no --checkpoint given and no bundled default voice is installed")
    return voice


def run(args: argparse.Namespace) -> int:
    from tts.audio import save_wav
    from tts.eval.alignment import most_diagonal_head
    from tts.plotting import plot_alignment, save_figure

    if args.text is not None:
        texts = [args.text]
    else:
        if not args.text_file.is_file():
            raise SystemExit(f"error: text file not found: {args.text_file}")
        texts = [line.strip() for line in args.text_file.read_text().splitlines() if line.strip()]
    try:
        syn = Synthesizer.from_checkpoint(
            resolve_checkpoint(args.checkpoint),
            args.vocoder,
            args.device,
            prenet_dropout=prenet_dropout_choice(args),
        )
        results = syn.synthesize_batch(
            texts,
            batch_size=args.batch_size,
            stop_threshold=args.stop_threshold,
            max_len_ratio=args.max_len_ratio,
            monotonic=args.monotonic,
            seed=args.seed,
            speaker=args.speaker,
        )
    except (SynthesisError, CheckpointError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    args.out_dir.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(results) - 1)))
    items = []
    for index, result in enumerate(results):
        name = f"{index:0{width}d}"
        save_wav(args.out_dir / f"{name}.wav", result.audio, result.sample_rate)
        np.savez_compressed(
            args.out_dir / f"{name}.npz",
            alignment=result.alignment,
            symbols=np.array(result.symbols),
            mel=result.mel,
            stop_probs=result.stop_probs,
        )
        if args.plot:
            layer, head, _ = most_diagonal_head(result.alignment)
            figure = plot_alignment(
                result.alignment[layer, head],
                result.symbols,
                f"{name}: layer {layer} head {head}",
            )
            save_figure(figure, args.out_dir / f"{name}.png")
        items.append({"index": index, "wav": f"{name}.wav", **result.summary()})
    audio = sum(r.audio_seconds for r in results)
    wall = sum(r.wall_seconds for r in results)
    summary = {
        "checkpoint": str(resolve_checkpoint(args.checkpoint)),
        "vocoder": syn.vocoder.name,
        "items": items,
        "total_audio_seconds": round(audio, 3),
        "total_wall_seconds": round(wall, 3),
        "rtf": round(wall / max(audio, 1e-9), 4),
        "hit_max_len": sum(r.hit_max for r in results),
    }
    (args.out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    log.info(
        "%d items, %.1f s of audio in %.1f s (RTF %.3f) -> %s",
        len(results),
        audio,
        wall,
        summary["rtf"],
        args.out_dir,
    )
    return 0
