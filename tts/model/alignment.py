"""Monotonic alignment search (Glow-TTS): the best hard, monotonic text-to-frame path.

Dimension letters: B batch, T_text symbols, T_dec decoder steps.
"""

from __future__ import annotations

import torch
from torch import Tensor


@torch.no_grad()
def monotonic_alignment(
    log_likelihood: Tensor, text_lengths: Tensor, step_lengths: Tensor
) -> tuple[Tensor, Tensor]:
    """The path that maximises the summed ``log_likelihood`` (B, T_text, T_dec) of each step
    given its symbol, where every symbol gets at least one step, in order, from the first
    symbol at step 0 to the last at the last real step.

    Returns the one-hot alignment (B, T_dec, T_text) (zero at padded steps) and a (B,) bool
    that is False for items with fewer steps than symbols, which have no such path.
    """
    batch, max_text, max_steps = log_likelihood.shape
    device = log_likelihood.device
    symbols = torch.arange(max_text, device=device)
    invalid = symbols[None, :] >= text_lengths[:, None]  # (B, T_text)
    scores = log_likelihood.float().masked_fill(invalid[:, :, None], float("-inf"))
    best = torch.full((batch, max_text, max_steps), float("-inf"), device=device)
    best[:, 0, 0] = scores[:, 0, 0]
    for step in range(1, max_steps):
        previous = best[:, :, step - 1]
        advanced = torch.nn.functional.pad(previous[:, :-1], (1, 0), value=float("-inf"))
        best[:, :, step] = scores[:, :, step] + torch.maximum(previous, advanced)
    current = (text_lengths - 1).clone()
    items = torch.arange(batch, device=device)
    alignment = torch.zeros(batch, max_steps, max_text, device=device)
    for step in range(max_steps - 1, -1, -1):
        active = step < step_lengths
        alignment[items[active], step, current[active]] = 1.0
        if step == 0:
            break
        stay = best[items, current, step - 1]
        advance = best[items, (current - 1).clamp(min=0), step - 1]
        move = active & (current > 0) & (advance > stay)
        current = current - move.long()
    return alignment, step_lengths >= text_lengths


def path_from_durations(durations: Tensor, max_steps: int) -> Tensor:
    """Steps per symbol (B, T_text), integer, zero at padding → one-hot path (B, T_dec,
    T_text) with ``max_steps`` steps: symbol n holds the steps after those of symbols < n.
    Steps past an item's total are all zero, as in :func:`monotonic_alignment`."""
    ends = durations.long().cumsum(1)  # (B, T_text)
    steps = torch.arange(max_steps, device=durations.device)
    symbol = torch.searchsorted(ends, steps.expand(len(durations), -1).contiguous(), right=True)
    inside = symbol < durations.shape[1]
    path = torch.nn.functional.one_hot(symbol.clamp(max=durations.shape[1] - 1), durations.shape[1])
    return path.to(torch.float32) * inside.unsqueeze(-1)
