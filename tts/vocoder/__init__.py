"""Vocoders: log-mel (B, n_mels, T) -> audio (B, T * hop).

Every vocoder implements :class:`Vocoder`; :func:`load_vocoder` turns the
command-line spelling (``griffin-lim`` or ``hifigan:/path``) into one.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from tts.config import AudioConfig


class VocoderError(ValueError):
    """A vocoder could not be built or loaded (bad spec, missing or incompatible file)."""


class Vocoder(Protocol):
    """Maps raw (denormalised) log-mel to waveform; the only contract synthesis relies on."""

    name: str
    sample_rate: int
    hop_length: int

    def __call__(self, mel: Tensor) -> Tensor:
        """(B, n_mels, T) natural-log mel -> (B, T * hop_length) float audio in [-1, 1]."""
        ...


def load_vocoder(spec: str, audio: AudioConfig, device: str | torch.device = "cpu") -> Vocoder:
    """``griffin-lim`` | ``griffin-lim:N_ITER`` | ``hifigan:PATH`` (our checkpoint, or a
    jik876/hifi-gan generator file with its ``config.json`` beside it)."""
    kind, _, arg = spec.partition(":")
    if kind == "griffin-lim":
        from tts.vocoder.griffin_lim import GriffinLim

        if arg and not arg.isdigit():
            raise VocoderError(f"griffin-lim iterations must be an integer, got {arg!r}")
        return GriffinLim(audio, n_iter=int(arg) if arg else 32)
    if kind == "hifigan":
        if not arg:
            raise VocoderError("hifigan needs a path: --vocoder hifigan:/path/to/generator")
        from tts.vocoder.hifigan import HifiGanVocoder

        return HifiGanVocoder.from_path(arg, audio, device)
    raise VocoderError(f"unknown vocoder {spec!r}: use 'griffin-lim' or 'hifigan:PATH'")
