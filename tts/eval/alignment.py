"""Alignment quality of cross-attention: how diagonal and how focused it is.

``attention`` matrices are (T_dec, T_text) for one utterance, already cut to its
real lengths; batched helpers take (B, ..., T_dec, T_text) plus lengths. The
single-utterance helpers added for evaluation also accept numpy arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
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


class HeadScore(NamedTuple):
    """One cross-attention head and its diagonality."""

    layer: int
    head: int
    diagonality: float


def most_diagonal_head(alignment: Tensor | np.ndarray, band: float = 0.1) -> HeadScore:
    """The most diagonal head of one utterance's (L, H, T_dec, T_text) attention.

    Evaluation reads every alignment metric off this head: in a Transformer TTS only
    a few heads learn the text-to-speech alignment, the others attend broadly.
    """
    weights = torch.as_tensor(alignment)
    best = HeadScore(0, 0, -1.0)
    for layer in range(weights.shape[0]):
        for head in range(weights.shape[1]):
            score = diagonality(weights[layer, head], band)
            if score > best.diagonality:
                best = HeadScore(layer, head, score)
    return best


def argmax_path(attention: Tensor | np.ndarray) -> list[int]:
    """The most attended input symbol at each decoder step of a (T_dec, T_text) map."""
    return torch.as_tensor(attention).argmax(dim=1).tolist()


def monotonicity(attention: Tensor | np.ndarray) -> float:
    """Share of decoder steps whose argmax symbol is not before the previous step's.

    1.0 for a path that only stays or moves forward; a path that jitters or runs
    backwards scores lower. Fewer than two steps count as monotonic.
    """
    path = argmax_path(attention)
    if len(path) < 2:
        return 1.0
    forward = sum(b >= a for a, b in zip(path[:-1], path[1:], strict=True))
    return forward / (len(path) - 1)
