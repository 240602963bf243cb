"""Linear head: pool the tokens, dropout, one linear layer."""

from __future__ import annotations

import torch
from torch import nn

from ecgscope.models.layers.pooling import create_pool


class LinearHead(nn.Module):
    """``fc(dropout(pool(tokens)))``; ``pool`` is ``mean`` (masked) or ``powermean``."""

    needs_intermediates = False

    def __init__(self, dim: int, num_classes: int, pool: str = "mean", drop_rate: float = 0.0):
        super().__init__()
        self.pool = create_pool(pool)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, pre_logits: bool = False,
                padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.drop(self.pool(x, padding_mask))  # (B, D)
        return z if pre_logits else self.fc(z)
