"""Scaled sinusoidal positional encoding, computed for any length (no maximum).

Dimension letters: B batch, T time, D d_model.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoid(positions: Tensor, dim: int) -> Tensor:
    """Sinusoidal table (T, D) for arbitrary (float) positions: no maximum length."""
    half = torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32)
    inv_freq = torch.exp(-math.log(10000.0) * half / dim)
    angles = positions.float().unsqueeze(1) * inv_freq.unsqueeze(0)
    table = torch.zeros(positions.shape[0], dim, device=positions.device)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return table


class ScaledPositionalEncoding(nn.Module):
    """x + α·PE with a trainable α (Li et al., 2019), computed on the fly."""

    def __init__(self, d_model: int, dropout: float) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1))
        self.dropout = nn.Dropout(dropout)
        self.d_model = d_model

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """(B, T, D) → (B, T, D); ``offset`` is the position of x[:, 0] (incremental decoding)."""
        positions = torch.arange(offset, offset + x.shape[1], device=x.device)
        table = sinusoid(positions, self.d_model).to(x.dtype)
        return self.dropout(x + self.alpha * table.unsqueeze(0))
