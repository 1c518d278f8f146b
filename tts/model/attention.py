"""Multi-head attention with per-head weights and an explicit key/value cache.

Dimension letters: B batch, T_q queries, T_k keys, D d_model, H heads, d = D / H.
Nothing is stored on the module between calls: the cache goes in and comes out.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class KeyValue(NamedTuple):
    """Projected keys and values, each (B, H, T_k, d)."""

    key: Tensor
    value: Tensor


class AttentionOutput(NamedTuple):
    output: Tensor  # (B, T_q, D)
    weights: Tensor | None  # (B, H, T_q, T_k) when asked for
    cache: KeyValue  # keys/values used, including any cached prefix


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over H heads.

    ``mask`` is boolean and broadcastable to (B, H, T_q, T_k); True marks keys a
    query may attend to. With ``need_weights=False`` the fused kernel is used.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def _split(self, x: Tensor) -> Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def project_memory(self, memory: Tensor) -> KeyValue:
        """Keys/values of a fixed memory (e.g. the encoder output), computed once."""
        return KeyValue(self._split(self.key(memory)), self._split(self.value(memory)))

    def forward(
        self,
        query: Tensor,
        key_value: Tensor | None = None,
        mask: Tensor | None = None,
        cache: KeyValue | None = None,
        static_kv: bool = False,
        need_weights: bool = False,
    ) -> AttentionOutput:
        """Attend from ``query`` (B, T_q, D).

        Self-attention: ``key_value`` is None; new keys/values from ``query`` are
        appended to ``cache``. Cross-attention: pass ``key_value`` (B, T_k, D), or a
        precomputed ``cache`` with ``static_kv=True``.
        """
        q = self._split(self.query(query))
        if static_kv:
            assert cache is not None, "static_kv needs a precomputed cache"
            kv = cache
        else:
            source = query if key_value is None else key_value
            kv = KeyValue(self._split(self.key(source)), self._split(self.value(source)))
            if cache is not None:
                kv = KeyValue(
                    torch.cat([cache.key, kv.key], 2), torch.cat([cache.value, kv.value], 2)
                )
        dropout = self.dropout if self.training else 0.0
        if need_weights:
            scores = q @ kv.key.transpose(-1, -2) / math.sqrt(self.head_dim)
            if mask is not None:
                scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
            weights = torch.softmax(scores.float(), dim=-1).to(q.dtype)
            context = F.dropout(weights, dropout, self.training) @ kv.value
        else:
            weights = None
            context = F.scaled_dot_product_attention(q, kv.key, kv.value, mask, dropout)
        batch, _, length, _ = context.shape
        context = context.transpose(1, 2).reshape(batch, length, -1)
        return AttentionOutput(self.out(context), weights, kv)
