"""Alignment quality of cross-attention: how diagonal and how focused it is.

``attention`` matrices are (T_dec, T_text) for one utterance, already cut to its
real lengths; batched helpers take (B, ..., T_dec, T_text) plus lengths.
"""

from __future__ import annotations

import torch
from torch import Tensor


def diagonality(attention: Tensor, band: float = 0.1) -> float:
    """Share of attention mass within ``band`` of the straight diagonal,
    |n/N − t/T| ≤ band, averaged over decoder steps. Uniform attention scores
    about 2·band; a clean monotonic alignment of steady speech scores near 1."""
    steps, symbols = attention.shape
    t = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    n = (torch.arange(symbols, dtype=torch.float32) + 0.5) / symbols
    inside = ((n[None, :] - t[:, None]).abs() <= band).to(attention.dtype)
    return float((attention.float() * inside).sum(1).mean())


def focus_rate(attention: Tensor) -> float:
    """Mean over decoder steps of the largest attention weight (FastSpeech's focus rate)."""
    return float(attention.float().max(dim=1).values.mean())


def best_head_diagonality(
    attention: list[Tensor], text_lengths: Tensor, decoder_lengths: Tensor, band: float = 0.1
) -> tuple[float, int, int]:
    """Most diagonal (layer, head), by batch-mean diagonality, from L × (B, H, T_dec, T_text)."""
    best = (-1.0, 0, 0)
    for layer, weights in enumerate(attention):
        for head in range(weights.shape[1]):
            scores = [
                diagonality(
                    weights[b, head, : int(decoder_lengths[b]), : int(text_lengths[b])], band
                )
                for b in range(weights.shape[0])
            ]
            score = sum(scores) / len(scores)
            if score > best[0]:
                best = (score, layer, head)
    return best
