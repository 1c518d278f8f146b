"""The log-mel must match an independent numpy/librosa reading of the HiFi-GAN formula."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import shared_path

from tts.audio import AudioError, griffin_lim, load_audio, log_mel, preprocess
from tts.config import AudioConfig


def reference_log_mel(wav: np.ndarray, c: AudioConfig) -> np.ndarray:
    """Straight numpy: reflect pad, frame, Hann window, rfft, sqrt(|X|^2+1e-9), Slaney mel, ln."""
    pad = (c.n_fft - c.hop_length) // 2
    x = np.pad(wav.astype(np.float64), (pad, pad), mode="reflect")
    n_frames = 1 + (len(x) - c.n_fft) // c.hop_length
    window = np.zeros(c.n_fft)
    offset = (c.n_fft - c.win_length) // 2
    window[offset : offset + c.win_length] = 0.5 - 0.5 * np.cos(
        2 * np.pi * np.arange(c.win_length) / c.win_length
    )
    frames = np.stack([x[i * c.hop_length : i * c.hop_length + c.n_fft] for i in range(n_frames)])
    spec = np.fft.rfft(frames * window, axis=1).T
    magnitude = np.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
    basis = librosa.filters.mel(
        sr=c.sample_rate, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin, fmax=c.fmax, norm="slaney"
    )
    return np.log(np.maximum(basis @ magnitude, c.log_clamp))


@pytest.mark.parametrize("n_samples", [22050, 12345, 5000])
def test_log_mel_matches_reference_on_random_audio(rng, n_samples):
    c = AudioConfig()
    wav = (rng.standard_normal(n_samples) * 0.1).astype(np.float32)
    ours = log_mel(wav.astype(np.float64), c).numpy()
    assert ours.shape == (80, n_samples // 256)
    fast = log_mel(wav, c)
    assert fast.dtype == torch.float32
    np.testing.assert_allclose(fast.numpy(), ours, atol=1e-3, rtol=0)
    np.testing.assert_allclose(ours, reference_log_mel(wav, c), atol=1e-4, rtol=0)


def test_log_mel_matches_reference_on_real_ljspeech():
    path = shared_path("ljspeech_mini", "wavs", "LJ001-0001.wav")
    c = AudioConfig()
    wav = load_audio(path, c.sample_rate).astype(np.float64)
    ours = log_mel(wav, c).numpy()
    assert ours.shape[1] == len(wav) // c.hop_length
    np.testing.assert_allclose(ours, reference_log_mel(wav, c), atol=1e-4, rtol=0)


def test_batched_equals_single(rng):
    c = AudioConfig()
    wavs = torch.from_numpy((rng.standard_normal((3, 8000)) * 0.1).astype(np.float32))
    batched = log_mel(wavs, c)
    for i in range(3):
        torch.testing.assert_close(batched[i], log_mel(wavs[i], c), atol=1e-5, rtol=0)


def test_load_resamples_and_mixes_to_mono(tmp_path, rng):
    stereo = (rng.standard_normal((16000, 2)) * 0.1).astype(np.float32)
    path = tmp_path / "x.flac"
    sf.write(path, stereo, 16000)
    wav = load_audio(path, 22050)
    assert wav.ndim == 1 and wav.dtype == np.float32
    assert abs(len(wav) - 22050) <= 1


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "missing.wav", 22050)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not audio")
    with pytest.raises(AudioError, match="cannot read"):
        load_audio(bad, 22050)


def test_preprocess_trims_and_normalises():
    c = AudioConfig()
    tone = 0.2 * np.sin(2 * np.pi * 220 * np.arange(22050) / 22050)
    wav = np.concatenate([np.zeros(22050), tone, np.zeros(22050)]).astype(np.float32)
    out = preprocess(wav, c)
    assert len(out) < 2 * 22050
    assert np.isclose(np.abs(out).max(), c.peak_level, atol=1e-6)


def test_griffin_lim_length_and_reconstruction():
    c = AudioConfig()
    t = np.arange(22050) / 22050
    wav = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    mel = log_mel(wav, c)
    audio = griffin_lim(mel, c, n_iter=32)
    assert audio.shape == (mel.shape[-1] * c.hop_length,)
    error = (log_mel(audio, c) - mel)[:, 2:-2].abs().mean().item()
    noise_error = (log_mel(torch.randn(len(audio)) * 0.3, c) - mel)[:, 2:-2].abs().mean().item()
    assert error < 0.5 and error < noise_error / 4
