"""Mel-cepstral distortion after dynamic time warping (MCD-DTW, in dB).

Synthesised and recorded speech of the same text differ in timing, so frames are
first paired by DTW and the distortion is averaged along the warping path.

How the mel-cepstrum is obtained: from the toolkit's one feature, the natural-log
mel spectrogram of :func:`tts.audio.log_mel` (log of mel-weighted STFT magnitude,
80 Slaney bands by default), as the real cepstrum of that mel-warped log spectrum
sampled at the M band centres::

    c_n = (1 / M) * sum_m  log_mel[m] * cos(pi * n * (m + 1/2) / M),   n = 1 .. K

i.e. a DCT-II scaled so that ``log S(w) ≈ c_0 + 2 sum_n c_n cos(n w)``. ``c_0``
(overall level, so loudness and peak normalisation) is excluded; K = 24 by default.
The per-frame distortion uses the conventional constant::

    MCD = (10 / ln 10) * sqrt(2 * sum_n (c_n - c'_n)^2)   [dB]

DTW pairs frames with steps (1, 0), (0, 1) and (1, 1), minimising the summed
per-frame MCD; the result is that sum divided by the number of pairs on the path.
Numbers are comparable between runs of this toolkit; papers that take mel-cepstra
from SPTK/WORLD spectral envelopes use a different envelope, so their absolute
values differ.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from tts.audio import log_mel
from tts.config import AudioConfig

MCD_CONSTANT = 10.0 / math.log(10.0) * math.sqrt(2.0)


class DtwResult(NamedTuple):
    total_cost: float
    path_length: int

    @property
    def mean_cost(self) -> float:
        return self.total_cost / self.path_length


class McdResult(NamedTuple):
    mcd_db: float  # mean per-frame MCD along the DTW path
    frames: int  # frames of the first input
    reference_frames: int  # frames of the second input
    path_length: int


def mel_cepstrum(log_mel_spec: np.ndarray, n_coeffs: int = 24) -> np.ndarray:
    """(M, T) natural-log mel → (T, n_coeffs) cepstral coefficients c_1..c_K (no c_0)."""
    n_mels = log_mel_spec.shape[0]
    if not 1 <= n_coeffs < n_mels:
        raise ValueError(f"n_coeffs must be in [1, {n_mels - 1}] for {n_mels} mel bands")
    n = np.arange(1, n_coeffs + 1, dtype=np.float64)[:, None]
    m = np.arange(n_mels, dtype=np.float64)[None, :]
    basis = np.cos(np.pi * n * (m + 0.5) / n_mels) / n_mels
    return (basis @ np.asarray(log_mel_spec, dtype=np.float64)).T


def frame_distortion(cepstra: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(T_a, K), (T_b, K) → (T_a, T_b) MCD in dB between every pair of frames."""
    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: no (T_a, T_b, K) intermediate for long utterances.
    squared = (
        np.sum(cepstra**2, axis=1)[:, None]
        + np.sum(reference**2, axis=1)[None, :]
        - 2.0 * cepstra @ reference.T
    )
    return MCD_CONSTANT * np.sqrt(np.maximum(squared, 0.0))


def dtw(cost: np.ndarray) -> DtwResult:
    """Cheapest monotonic path from (0, 0) to (T_a-1, T_b-1) through a (T_a, T_b) cost
    matrix with steps (1, 0), (0, 1), (1, 1); ties prefer the diagonal step.

    Cells on one anti-diagonal depend only on the previous two, so each anti-diagonal
    is computed as one vector operation.
    """
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        raise ValueError("DTW needs at least one frame on each side")
    total = np.full((rows + 1, cols + 1), np.inf)
    length = np.zeros((rows + 1, cols + 1), dtype=np.int64)
    total[0, 0] = 0.0
    for diagonal in range(2, rows + cols + 1):
        i = np.arange(max(1, diagonal - cols), min(rows, diagonal - 1) + 1)
        j = diagonal - i
        candidates = np.stack([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]])
        lengths = np.stack([length[i - 1, j - 1], length[i - 1, j], length[i, j - 1]])
        choice = np.argmin(candidates, axis=0)
        picked = np.arange(len(i))
        total[i, j] = cost[i - 1, j - 1] + candidates[choice, picked]
        length[i, j] = lengths[choice, picked] + 1
    return DtwResult(float(total[rows, cols]), int(length[rows, cols]))


def mcd_dtw(log_mel_spec: np.ndarray, reference: np.ndarray, n_coeffs: int = 24) -> McdResult:
    """MCD-DTW between two (M, T) natural-log mels of the same feature settings."""
    if log_mel_spec.shape[0] != reference.shape[0]:
        raise ValueError(f"mel bands differ: {log_mel_spec.shape[0]} vs {reference.shape[0]}")
    cepstra = mel_cepstrum(log_mel_spec, n_coeffs)
    reference_cepstra = mel_cepstrum(reference, n_coeffs)
    result = dtw(frame_distortion(cepstra, reference_cepstra))
    return McdResult(result.mean_cost, len(cepstra), len(reference_cepstra), result.path_length)


def waveform_log_mel(audio: np.ndarray, config: AudioConfig) -> np.ndarray:
    """(N,) float waveform at ``config.sample_rate`` → (M, T) log-mel as numpy."""
    return log_mel(torch.from_numpy(np.asarray(audio, dtype=np.float32)), config).numpy()


def mcd_dtw_waveforms(
    audio: np.ndarray, reference: np.ndarray, config: AudioConfig, n_coeffs: int = 24
) -> McdResult:
    """MCD-DTW between two waveforms at ``config.sample_rate`` (features by ``log_mel``)."""
    return mcd_dtw(waveform_log_mel(audio, config), waveform_log_mel(reference, config), n_coeffs)
