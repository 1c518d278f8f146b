"""Context refiner: the text-only frames along a path, beyond one linear map per symbol.

The linear context head gives every step of a symbol the same r frames, so a symbol
cannot change over its steps or blend into the next one, and the autoregressive decoder
has to add all of that from its own frames. These convolutions over the decoder steps of
the path-aligned memory add it from the text alone (the decoder of FastSpeech, small).

Dimension letters: B batch, T_text symbols, T_dec decoder steps, D d_model, C channels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def position_in_symbol(path: Tensor) -> Tensor:
    """One-hot path (B, T_dec, T_text) → (B, T_dec, 2): each step's place inside its symbol,
    (index + 0.5) / length, and the log of its symbol's length in steps; zero at padding."""
    durations = path.sum(1, keepdim=True)  # (B, 1, T_text)
    length = (path * durations).sum(-1, keepdim=True)  # (B, T_dec, 1)
    index = (path.cumsum(1) * path).sum(-1, keepdim=True) - 1
    real = path.sum(-1, keepdim=True)
    fraction = (index + 0.5) / length.clamp(min=1)
    return torch.cat([fraction, torch.log(length.clamp(min=1))], dim=-1) * real


class ContextRefiner(nn.Module):
    """Residual (conv + ReLU + LayerNorm + dropout) blocks over the decoder steps. The output
    layer starts at zero, so a refiner added to a trained model starts as a no-op."""

    def __init__(
        self, d_model: int, channels: int, kernel: int, layers: int, dropout: float, out: int
    ) -> None:
        super().__init__()
        self.input = nn.Linear(d_model + 2, channels)
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, padding=kernel // 2) for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(channels, out)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, aligned: Tensor, path: Tensor) -> Tensor:
        """aligned (B, T_dec, D) memory of each step's symbol, path (B, T_dec, T_text) →
        (B, T_dec, out) residual frames, zero at padded steps."""
        keep = path.sum(-1, keepdim=True)
        x = self.input(torch.cat([aligned, position_in_symbol(path)], dim=-1)) * keep
        for conv, norm in zip(self.convs, self.norms, strict=True):
            y = conv(x.transpose(1, 2)).transpose(1, 2)
            x = x + self.dropout(norm(torch.relu(y))) * keep
        return self.output(x) * keep
