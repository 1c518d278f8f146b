"""Waveform I/O and the one log-mel feature used everywhere.

Data preparation, training targets, vocoder losses and evaluation all call
:func:`log_mel`, so features can never drift apart. The convention is HiFi-GAN's:
reflect-pad by (n_fft - hop) / 2, STFT with ``center=False``, magnitude
``sqrt(re² + im² + 1e-9)``, Slaney mel basis, natural log of ``clamp(x, 1e-5)``.
Hence ``n_frames == len(wav) // hop``.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

from tts.config import AudioConfig


class AudioError(ValueError):
    """Audio could not be read or is unusable."""


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read any soundfile format, mix to mono, resample; float32 in [-1, 1]."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"cannot read audio {path}: {exc}") from exc
    wav = wav.mean(axis=1)
    if wav.size == 0:
        raise AudioError(f"audio file is empty: {path}")
    if sr != sample_rate:
        wav = librosa.resample(wav, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(wav, dtype=np.float32)


def preprocess(wav: np.ndarray, config: AudioConfig) -> np.ndarray:
    """Optional silence trimming and peak normalisation (both config-driven)."""
    if config.trim_silence and wav.size:
        wav, _ = librosa.effects.trim(
            wav,
            top_db=config.trim_top_db,
            frame_length=config.win_length,
            hop_length=config.hop_length,
        )
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if config.peak_normalize and peak > 0:
        wav = wav * (config.peak_level / peak)
    return wav.astype(np.float32)


@functools.lru_cache(maxsize=16)
def mel_basis(config: AudioConfig, device: str = "cpu") -> torch.Tensor:
    """Slaney mel filterbank (n_mels, n_fft // 2 + 1), cached per (config, device).

    Callers must not modify the returned tensor in place.
    """
    basis = librosa.filters.mel(
        sr=config.sample_rate,
        n_fft=config.n_fft,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
        htk=False,
        norm="slaney",
    )
    return torch.from_numpy(basis).float().to(device)


@functools.lru_cache(maxsize=16)
def _window(win_length: int, device: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.hann_window(win_length, device=device, dtype=dtype)


def stft_magnitude(wav: torch.Tensor, config: AudioConfig) -> torch.Tensor:
    """(B, T_wav) or (T_wav,) → (B, n_fft // 2 + 1, T_wav // hop)."""
    squeeze = wav.dim() == 1
    wav = wav.unsqueeze(0) if squeeze else wav
    pad = (config.n_fft - config.hop_length) // 2
    if wav.shape[-1] <= pad:
        raise AudioError(f"audio too short for features: {wav.shape[-1]} samples")
    padded = F.pad(wav.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(
        padded,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window=_window(config.win_length, str(wav.device), padded.dtype),
        center=False,
        return_complex=True,
    )
    magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
    return magnitude.squeeze(0) if squeeze else magnitude


def log_mel(wav: torch.Tensor | np.ndarray, config: AudioConfig) -> torch.Tensor:
    """Log-mel spectrogram: (B, T_wav) → (B, n_mels, T_wav // hop); 1-D in gives 2-D out.

    Float64 input is computed in float64 (data preparation uses this: it matches the
    formula to ~1e-6); anything else in float32, which can differ by ~5e-4 in bins near
    the log floor.
    """
    if isinstance(wav, np.ndarray):
        wav = torch.from_numpy(np.ascontiguousarray(wav))
    if wav.dtype != torch.float64:
        wav = wav.float()
    magnitude = stft_magnitude(wav, config)
    mel = torch.matmul(mel_basis(config, str(magnitude.device)).to(magnitude.dtype), magnitude)
    return torch.log(torch.clamp(mel, min=config.log_clamp))


def griffin_lim(
    log_mel_spec: torch.Tensor, config: AudioConfig, n_iter: int = 32, momentum: float = 0.99
) -> torch.Tensor:
    """Invert a log-mel (B, n_mels, T) or (n_mels, T) to audio of length T * hop.

    The mel is mapped back to linear magnitude with the filterbank's
    pseudo-inverse, then phase is recovered by torchaudio's fast Griffin-Lim.
    """
    import torchaudio.functional as AF

    squeeze = log_mel_spec.dim() == 2
    spec = log_mel_spec.unsqueeze(0) if squeeze else log_mel_spec
    spec = spec.float()
    n_frames = spec.shape[-1]
    if n_frames == 0:
        raise AudioError("Griffin-Lim needs at least one frame")
    # Very short inputs are padded with silence so the STFT's reflect padding fits.
    min_frames = config.n_fft // config.hop_length + 2
    if n_frames < min_frames:
        floor = math.log(config.log_clamp)
        spec = F.pad(spec, (0, min_frames - n_frames), value=floor)
    device = str(spec.device)
    inverse = torch.linalg.pinv(mel_basis(config, device))
    magnitude = torch.clamp(inverse @ torch.exp(spec), min=0.0)
    audio = AF.griffinlim(
        magnitude,
        window=_window(config.win_length, device),
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        power=1.0,
        n_iter=n_iter,
        momentum=momentum,
        length=(spec.shape[-1] - 1) * config.hop_length,
        rand_init=False,
    )
    # torchaudio frames are centred on t*hop, ours on t*hop + hop/2: shift, then cut to T*hop.
    shift = config.hop_length // 2
    audio = F.pad(audio, (shift, config.hop_length - shift))[..., : n_frames * config.hop_length]
    return audio.squeeze(0) if squeeze else audio


def save_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM wav, clipping to [-1, 1]."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")
