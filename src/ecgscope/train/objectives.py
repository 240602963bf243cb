"""Self-supervised objectives: masked-signal reconstruction (ST-MEM style) and segment contrast (CMSC)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ecgscope.models import ECGModel
from ecgscope.models.heads.fusion import GroupLayerAverage

OBJECTIVES = ("masked", "contrastive")


class MaskedReconstruction(nn.Module):
    """Hide random (lead, time) patches of the input and reconstruct them from the encoder's tokens.

    As in ST-MEM the masking is spatio-temporal: each lead loses its own random set of patches, so
    the encoder must use the other leads and the surrounding time.  A patch is the span of one
    token (``T / n`` samples for ``n`` tokens in time); masked samples are set to zero (the
    normalised signal's mean) and the loss is the mean squared error on masked samples only.
    A linear decoder maps each token back to its patch of samples (of every lead the token
    covers), keeping the capacity in the encoder.

    ``fusion="ipastmem"``: the decoder reads the group-wise average of every layer's tokens
    (:class:`~ecgscope.models.heads.fusion.GroupLayerAverage`, ECG-Soup's IPASTMEM) instead of the last
    layer's, so every depth of the encoder is trained to carry the signal; ``n_groups`` groups of depth.
    """

    FUSIONS = ("last", "ipastmem")

    def __init__(self, model: ECGModel, n_channels: int, n_samples: int, mask_ratio: float = 0.5,
                 fusion: str = "last", n_groups: int = 4):
        super().__init__()
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError("mask_ratio must be in (0, 1)")
        if fusion not in self.FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; valid: {', '.join(self.FUSIONS)}")
        self.mask_ratio = mask_ratio
        self.fusion = fusion
        self.fuse = GroupLayerAverage(list(model.layer_dims), n_groups) if fusion == "ipastmem" else None
        with torch.no_grad():
            was = model.training
            model.eval()
            grid = model.forward_grid(torch.zeros(1, n_channels, n_samples))  # (1, G, n, D)
            model.train(was)
        self.groups, self.n_tokens = int(grid.shape[1]), int(grid.shape[2])
        if n_channels % self.groups:
            raise ValueError(f"{n_channels} channels do not split into {self.groups} token rows")
        self.patch = math.ceil(n_samples / self.n_tokens)
        self.leads_per_row = n_channels // self.groups
        self.decoder = nn.Linear(model.num_features, self.leads_per_row * self.patch)
        if self.fuse is not None:
            with torch.no_grad():
                was = model.training
                model.eval()
                fused = self.fuse(model.forward_intermediates(torch.zeros(1, n_channels, n_samples)))
                model.train(was)
            if fused.shape[1] != self.groups * self.n_tokens or fused.shape[2] != model.num_features:
                raise ValueError(f"{type(model).__name__}'s layer tokens ({tuple(fused.shape[1:])}) do not lay out "
                                 f"as its token grid ({self.groups} x {self.n_tokens}): no IPASTMEM pretraining")

    def encode(self, model: ECGModel, x: torch.Tensor) -> torch.Tensor:
        """(B, G, n, D) tokens the decoder reads: the last layer's grid, or the fused layers' (IPASTMEM)."""
        if self.fuse is None:
            return model.forward_grid(x)
        fused = self.fuse(model.forward_intermediates(x))  # (B, G n, D)
        return fused.reshape(x.shape[0], self.groups, self.n_tokens, -1)

    def mask(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) 0/1 mask, 1 = hidden: a random ``mask_ratio`` of each lead's patches."""
        B, C, T = x.shape
        n = self.n_tokens
        keep = n - max(1, int(round(n * self.mask_ratio)))
        noise = torch.rand(B, C, n, device=x.device)
        ranks = noise.argsort(dim=-1).argsort(dim=-1)
        patches = (ranks >= keep).to(x.dtype)  # (B, C, n)
        return patches.repeat_interleave(self.patch, dim=-1)[..., :T]

    def forward(self, model: ECGModel, x: torch.Tensor) -> torch.Tensor:
        B, C, T = x.shape
        m = self.mask(x)
        grid = self.encode(model, x * (1.0 - m))  # (B, G, n, D)
        rec = self.decoder(grid)  # (B, G, n, C/G * P)
        rec = rec.view(B, self.groups, self.n_tokens, self.leads_per_row, self.patch)
        rec = rec.permute(0, 1, 3, 2, 4).reshape(B, C, self.n_tokens * self.patch)[..., :T]  # (B, C, T)
        return (((rec - x) ** 2) * m).sum() / m.sum().clamp_min(1.0)


class SegmentContrastive(nn.Module):
    """CLOCS/CMSC: two segments of one record are positives, segments of other records negatives.

    Symmetric InfoNCE on L2-normalised projections of the pooled encoder output, temperature
    ``temperature``.
    """

    def __init__(self, model: ECGModel, proj_dim: int = 128, temperature: float = 0.1):
        super().__init__()
        d = model.num_features
        self.temperature = temperature
        self.proj = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, proj_dim))

    def forward(self, model: ECGModel, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        za = F.normalize(self.proj(model.embed(a)), dim=-1)  # (B, P)
        zb = F.normalize(self.proj(model.embed(b)), dim=-1)
        logits = za @ zb.T / self.temperature  # (B, B): diagonal = same record
        target = torch.arange(a.shape[0], device=a.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
