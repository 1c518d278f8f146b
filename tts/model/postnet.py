"""Convolutional postnet that refines the decoder's mel prediction.

Dimension letters: B batch, T frames, M mel bins.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Postnet(nn.Module):
    """L × conv (k) with BatchNorm, tanh between layers, dropout; predicts a mel residual."""

    def __init__(self, n_mels: int, channels: int, layers: int, kernel: int, dropout: float):
        super().__init__()
        sizes = [n_mels] + [channels] * (layers - 1) + [n_mels]
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.BatchNorm1d(c_out)
            )
            for c_in, c_out in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, mel: Tensor, mask: Tensor) -> Tensor:
        """mel (B, T, M), mask (B, T) → residual (B, T, M), zero at padding."""
        keep = mask.unsqueeze(1).to(mel.dtype)
        x = mel.transpose(1, 2) * keep
        for index, conv in enumerate(self.convs):
            x = conv(x)
            if index < len(self.convs) - 1:
                x = torch.tanh(x)
            x = self.dropout(x) * keep
        return x.transpose(1, 2)
