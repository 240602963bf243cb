"""Layer-fusion heads from ECG-Soup: combine the pooled features of every encoder layer.

* **PPA** (pooled-feature average): each layer's tokens are mean-pooled, layer-normalised and
  averaged with equal weights.
* **PMA** (pooled-feature mixture): the same per-layer vectors mixed with softmax gates; the gate
  of layer ``l`` is a learned bias plus a linear score of that layer's vector, so the mixture can
  depend on the input.

Layers of different widths (ResNet stages) are first projected to the last layer's width.
"""

from __future__ import annotations

import torch
from torch import nn

from ecgscope.models.layers.pooling import create_pool


class _LayerPool(nn.Module):
    def __init__(self, dims: list[int], pool: str):
        super().__init__()
        out = dims[-1]
        self.pool = create_pool(pool)
        self.norms = nn.ModuleList(nn.LayerNorm(d) for d in dims)
        self.projs = nn.ModuleList(nn.Identity() if d == out else nn.Linear(d, out) for d in dims)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        if len(feats) != len(self.norms):
            raise ValueError(f"expected {len(self.norms)} layer outputs, got {len(feats)}")
        pooled = [proj(norm(self.pool(f))) for f, norm, proj in zip(feats, self.norms, self.projs, strict=True)]
        return torch.stack(pooled, dim=1)  # (B, L, D)


class PPAHead(nn.Module):
    """Uniform average of per-layer pooled features, then a linear layer."""

    needs_intermediates = True

    def __init__(self, dims: list[int], num_classes: int, pool: str = "mean", drop_rate: float = 0.0):
        super().__init__()
        self.layers = _LayerPool(dims, pool)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(dims[-1], num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, feats: list[torch.Tensor], pre_logits: bool = False,
                padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.drop(self.layers(feats).mean(dim=1))  # (B, D)
        return z if pre_logits else self.fc(z)


class PMAHead(nn.Module):
    """Softmax-gated mixture of per-layer pooled features, then a linear layer."""

    needs_intermediates = True

    def __init__(self, dims: list[int], num_classes: int, pool: str = "mean", drop_rate: float = 0.0):
        super().__init__()
        self.layers = _LayerPool(dims, pool)
        self.gate_bias = nn.Parameter(torch.zeros(len(dims)))
        self.gate = nn.Linear(dims[-1], 1)
        nn.init.zeros_(self.gate.weight)  # starts as PPA (uniform weights), learns to prefer layers
        nn.init.zeros_(self.gate.bias)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(dims[-1], num_classes) if num_classes > 0 else nn.Identity()

    def layer_weights(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """(B, L) softmax gates, for inspection."""
        p = self.layers(feats)
        return torch.softmax(self.gate(p).squeeze(-1) + self.gate_bias, dim=1)

    def forward(self, feats: list[torch.Tensor], pre_logits: bool = False,
                padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        p = self.layers(feats)  # (B, L, D)
        w = torch.softmax(self.gate(p).squeeze(-1) + self.gate_bias, dim=1)  # (B, L)
        z = self.drop((w.unsqueeze(-1) * p).sum(dim=1))  # (B, D)
        return z if pre_logits else self.fc(z)
