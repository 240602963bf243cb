"""Learnable-query attention pooling: K queries attend over the tokens of one window."""

from __future__ import annotations

import torch
from torch import nn


class AttentionPool(nn.Module):
    """Cross-attention from ``num_queries`` learned queries to the tokens; returns (B, D).

    The query outputs are averaged, so the output width stays ``dim`` whatever the number of
    queries (a linear layer on top sees the same shape as after mean pooling).
    """

    def __init__(self, dim: int, num_heads: int = 4, num_queries: int = 1, dropout: float = 0.0):
        super().__init__()
        if dim % num_heads:
            num_heads = 1  # narrow tiny models: one head rather than an error
        self.query = nn.Parameter(torch.randn(1, num_queries, dim) * 0.02)
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.out_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        kv = self.norm(x)  # (B, T, D)
        q = self.query.expand(x.shape[0], -1, -1)  # (B, K, D)
        out, _ = self.attn(q, kv, kv, key_padding_mask=padding_mask, need_weights=False)  # (B, K, D)
        return self.out_norm(out.mean(dim=1))  # (B, D)
