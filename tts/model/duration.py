"""Duration predictor: decoder steps per symbol, learnt from the monotonic path.

Dimension letters: B batch, T_text symbols, D d_model.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class DurationPredictor(nn.Module):
    """Two (conv + ReLU + LayerNorm + dropout) blocks and a linear layer: the log number of
    decoder steps of each symbol. It reads the encoder memory detached, so fitting the
    durations does not pull the encoder away from what the mel losses need."""

    def __init__(self, d_model: int, channels: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(size, channels, kernel, padding=kernel // 2) for size in (d_model, channels)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in range(2))
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(channels, 1)

    def forward(self, memory: Tensor, mask: Tensor) -> Tensor:
        """memory (B, T_text, D), mask (B, T_text) bool → log steps (B, T_text), 0 at padding."""
        keep = mask.unsqueeze(-1).to(memory.dtype)
        x = memory.detach() * keep
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = conv(x.transpose(1, 2)).transpose(1, 2)
            x = self.dropout(norm(torch.relu(x))) * keep
        return self.output(x).squeeze(-1) * mask

    @staticmethod
    def steps(log_steps: Tensor, mask: Tensor, scale: float = 1.0) -> Tensor:
        """Predicted log steps (B, T_text), times ``scale`` → whole steps, at least one per
        real symbol (the monotonic path gives every symbol one), zero at padding. The running
        total is rounded, not each symbol, so rounding does not shorten an utterance."""
        ends = torch.round(torch.cumsum(torch.exp(log_steps) * scale * mask, dim=1))
        steps = torch.diff(ends, dim=1, prepend=torch.zeros_like(ends[:, :1]))
        return steps.clamp(min=1).long() * mask
