"""Griffin-Lim: phase recovery with no trained weights, always available."""

from __future__ import annotations

import torch
from torch import Tensor

from tts.audio import griffin_lim
from tts.config import AudioConfig


class GriffinLim:
    """Pseudo-inverse mel filterbank + torchaudio's fast Griffin-Lim (momentum)."""

    name = "griffin-lim"

    def __init__(self, audio: AudioConfig, n_iter: int = 32, momentum: float = 0.99) -> None:
        if n_iter < 1 or not 0 <= momentum < 1:
            raise ValueError("Griffin-Lim needs n_iter >= 1 and 0 <= momentum < 1")
        self.audio = audio
        self.n_iter = n_iter
        self.momentum = momentum
        self.sample_rate = audio.sample_rate
        self.hop_length = audio.hop_length

    @torch.no_grad()
    def __call__(self, mel: Tensor) -> Tensor:
        """(B, n_mels, T) log-mel -> (B, T * hop) audio, peak-limited to [-1, 1]."""
        audio = griffin_lim(mel, self.audio, n_iter=self.n_iter, momentum=self.momentum)
        return audio.clamp(-1.0, 1.0)
