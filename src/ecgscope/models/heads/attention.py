"""Attention-pooling head: learnable queries attend over the tokens, then a linear layer."""

from __future__ import annotations

import torch
from torch import nn

from ecgscope.models.layers.attention_pool import AttentionPool


class AttentionHead(nn.Module):
    needs_intermediates = False

    def __init__(self, dim: int, num_classes: int, num_heads: int = 4, num_queries: int = 1,
                 drop_rate: float = 0.0):
        super().__init__()
        self.pool = AttentionPool(dim, num_heads=num_heads, num_queries=num_queries)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False,
                padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.drop(self.pool(x, padding_mask))  # (B, D)
        return z if pre_logits else self.fc(z)
