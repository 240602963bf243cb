"""Layer-fusion heads from ECG-Soup: combine the pooled features of every encoder layer.

* **PPA** (pooled-feature average): each layer's tokens are mean-pooled, layer-normalised and
  averaged with equal weights.
* **PMA** (pooled-feature mixture): the same per-layer vectors mixed with softmax gates; the gate
  of layer ``l`` is a learned bias plus a linear score of that layer's vector, so the mixture can
  depend on the input.

* **IPASTMEM** (in-pretraining aggregation of ST-MEM): the paper extends the fusion to the pretraining
  stage, "aggregating all representations through group-wise averaging before feeding them into the
  decoder".  Our reading of that sentence (the paper gives no code): the layers are split into ``n_groups``
  contiguous groups of depth, each group's token sequences are layer-normalised and averaged, and the
  group averages are mixed with learned softmax weights (starting uniform) into one token sequence.  That
  sequence is what the masked-reconstruction decoder reads in pretraining
  (``ecgscope.train.objectives.MaskedReconstruction(fusion="ipastmem")``) and what this head pools and
  classifies downstream.  Unlike PPA / PMA it fuses tokens, before pooling.

Layers of different widths (ResNet stages) are first projected to the last layer's width (and, for
IPASTMEM, their token sequences resampled to the last layer's length).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
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


class GroupLayerAverage(nn.Module):
    """Group-wise average of layer token sequences, mixed across groups (IPASTMEM; module docstring).

    Parameters
    ----------
    dims : list of int
        Width of each layer's tokens, shallow to deep.
    n_groups : int
        Contiguous groups of depth (at most the number of layers).
    """

    def __init__(self, dims: list[int], n_groups: int = 4):
        super().__init__()
        if not dims:
            raise ValueError("group averaging needs at least one layer")
        if n_groups < 1:
            raise ValueError("n_groups must be at least 1")
        out = dims[-1]
        self.n_groups = min(n_groups, len(dims))
        # layer l belongs to group floor(l * G / L): contiguous, sizes differing by at most one
        self.register_buffer("group_of", torch.tensor([i * self.n_groups // len(dims) for i in range(len(dims))]),
                             persistent=False)
        self.norms = nn.ModuleList(nn.LayerNorm(d) for d in dims)
        self.projs = nn.ModuleList(nn.Identity() if d == out else nn.Linear(d, out) for d in dims)
        self.group_logits = nn.Parameter(torch.zeros(self.n_groups))  # uniform mixture at the start

    def group_weights(self) -> torch.Tensor:
        """(n_groups,) softmax weights of the group averages."""
        return torch.softmax(self.group_logits, dim=0)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        if len(feats) != len(self.norms):
            raise ValueError(f"expected {len(self.norms)} layer outputs, got {len(feats)}")
        n = feats[-1].shape[1]
        tokens = []
        for f, norm, proj in zip(feats, self.norms, self.projs, strict=True):
            t = proj(norm(f))  # (B, N_l, D)
            if t.shape[1] != n:  # a shallower stage with more tokens: resample to the last layer's length
                t = F.interpolate(t.transpose(1, 2), size=n, mode="linear", align_corners=False).transpose(1, 2)
            tokens.append(t)
        stack = torch.stack(tokens, dim=1)  # (B, L, N, D)
        groups = torch.stack([stack[:, self.group_of == g].mean(dim=1) for g in range(self.n_groups)], dim=1)
        return (self.group_weights()[None, :, None, None] * groups).sum(dim=1)  # (B, N, D)


class IPASTMEMHead(nn.Module):
    """Group-wise layer averaging of tokens (:class:`GroupLayerAverage`), pooled, then a linear layer."""

    needs_intermediates = True

    def __init__(self, dims: list[int], num_classes: int, pool: str = "mean", drop_rate: float = 0.0,
                 n_groups: int = 4):
        super().__init__()
        self.fuse = GroupLayerAverage(dims, n_groups)
        self.pool = create_pool(pool)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(dims[-1], num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, feats: list[torch.Tensor], pre_logits: bool = False,
                padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.drop(self.pool(self.fuse(feats)))  # (B, D)
        return z if pre_logits else self.fc(z)
