"""Encoder and decoder prenets.

Dimension letters: B batch, T time, D d_model, M mel bins.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class EncoderPrenet(nn.Module):
    """Symbol embeddings → L × (conv + BatchNorm + ReLU + dropout) → linear, masked at padding."""

    def __init__(
        self, vocab_size: int, d_model: int, layers: int, kernel: int, dropout: float
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2),
                nn.BatchNorm1d(d_model),
                nn.ReLU(),
                nn.Dropout(dropout),
            )
            for _ in range(layers)
        )
        self.projection = nn.Linear(d_model, d_model)

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """tokens (B, T) int, mask (B, T) bool → (B, T, D)."""
        keep = mask.unsqueeze(1).to(torch.float32)
        x = self.embedding(tokens).transpose(1, 2) * keep
        for conv in self.convs:
            x = conv(x) * keep
        return self.projection(x.transpose(1, 2))


class DecoderPrenet(nn.Module):
    """2 × (linear + ReLU + dropout) bottleneck, then a projection to D.

    Dropout stays on at inference when ``always_dropout`` (Tacotron 2's trick for
    variety and robustness); turn it off for exact equivalence checks.
    """

    def __init__(
        self, n_mels: int, hidden: int, d_model: int, dropout: float, always_dropout: bool
    ):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(n_mels, hidden), nn.Linear(hidden, hidden)])
        self.projection = nn.Linear(hidden, d_model)
        self.dropout = dropout
        self.always_dropout = always_dropout

    def forward(self, frames: Tensor) -> Tensor:
        """(B, T, M) → (B, T, D)."""
        active = self.training or self.always_dropout
        for layer in self.layers:
            frames = F.dropout(F.relu(layer(frames)), self.dropout, active)
        return self.projection(frames)
