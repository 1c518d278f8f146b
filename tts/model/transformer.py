"""Transformer encoder and decoder layers (residual + LayerNorm, pre- or post-norm).

Dimension letters: B batch, T time, T_text encoder steps, D d_model, H heads.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from tts.model.attention import KeyValue, MultiHeadAttention


class FeedForward(nn.Module):
    def __init__(self, d_model: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, ffn_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn_dim, d_model)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Residual(nn.Module):
    """x + dropout(f(norm(x))) (pre-norm) or norm(x + dropout(f(x))) (post-norm)."""

    def __init__(self, d_model: int, dropout: float, norm_first: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def pre(self, x: Tensor) -> Tensor:
        return self.norm(x) if self.norm_first else x

    def post(self, x: Tensor, update: Tensor) -> Tensor:
        x = x + self.dropout(update)
        return x if self.norm_first else self.norm(x)


class EncoderLayer(nn.Module):
    """Self-attention + feed-forward, each with residual and LayerNorm."""

    def __init__(self, d_model, num_heads, ffn_dim, dropout, attention_dropout, norm_first):
        super().__init__()
        self.attention = MultiHeadAttention(d_model, num_heads, attention_dropout)
        self.feed_forward = FeedForward(d_model, ffn_dim, dropout)
        self.attention_residual = Residual(d_model, dropout, norm_first)
        self.ffn_residual = Residual(d_model, dropout, norm_first)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x (B, T, D), mask (B, 1, 1, T) → (B, T, D)."""
        h = self.attention_residual.pre(x)
        x = self.attention_residual.post(x, self.attention(h, mask=mask).output)
        return self.ffn_residual.post(x, self.feed_forward(self.ffn_residual.pre(x)))


class LayerCache(NamedTuple):
    """What one decoder layer needs to continue decoding: its self-attention prefix
    and the encoder memory projected for cross-attention."""

    self_attention: KeyValue | None
    cross_attention: KeyValue


class DecoderLayerOutput(NamedTuple):
    output: Tensor  # (B, T, D)
    cross_weights: Tensor  # (B, H, T, T_text)
    cache: LayerCache


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention (Q decoder, K/V encoder), feed-forward."""

    def __init__(self, d_model, num_heads, ffn_dim, dropout, attention_dropout, norm_first):
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, num_heads, attention_dropout)
        self.cross_attention = MultiHeadAttention(d_model, num_heads, attention_dropout)
        self.feed_forward = FeedForward(d_model, ffn_dim, dropout)
        self.self_residual = Residual(d_model, dropout, norm_first)
        self.cross_residual = Residual(d_model, dropout, norm_first)
        self.ffn_residual = Residual(d_model, dropout, norm_first)

    def forward(
        self,
        x: Tensor,
        self_mask: Tensor | None,
        memory_mask: Tensor,
        cache: LayerCache,
    ) -> DecoderLayerOutput:
        """x (B, T, D); self_mask (T, T_total) causal or None for one new step;
        memory_mask (B, 1, 1, T_text); ``cache`` holds the prefix and the memory K/V."""
        h = self.self_residual.pre(x)
        attended = self.self_attention(h, mask=self_mask, cache=cache.self_attention)
        x = self.self_residual.post(x, attended.output)
        h = self.cross_residual.pre(x)
        cross = self.cross_attention(
            h, mask=memory_mask, cache=cache.cross_attention, static_kv=True, need_weights=True
        )
        x = self.cross_residual.post(x, cross.output)
        x = self.ffn_residual.post(x, self.feed_forward(self.ffn_residual.pre(x)))
        return DecoderLayerOutput(
            x, cross.weights, LayerCache(attended.cache, cache.cross_attention)
        )

    @torch.no_grad()
    def start_as_identity(self) -> None:
        """Zero what each residual branch adds, so that a pre-norm layer passes its input
        through unchanged: a layer added to a trained decoder then changes nothing until it
        learns (the output projections still receive gradients)."""
        for projection in (
            self.self_attention.out,
            self.cross_attention.out,
            self.feed_forward.net[-1],
        ):
            nn.init.zeros_(projection.weight)
            nn.init.zeros_(projection.bias)
