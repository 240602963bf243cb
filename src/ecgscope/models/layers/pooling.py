"""Pooling of token features (B, T, D) -> (B, D)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def masked_mean(x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over tokens, skipping padded ones (``padding_mask`` True = padding).

    This is ECG-FM's pooling; fairseq-signals divides by the count of non-zero entries, which is
    the same thing for real features and never divides by zero here.
    """
    if padding_mask is None:
        return x.mean(dim=1)
    keep = (~padding_mask).unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    return (x * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)


def power_mean(x: torch.Tensor, q: float = 3.0, dim: int = 1, eps: float = 1e-6) -> torch.Tensor:
    """Power mean ``(mean(softplus(x)^q))^(1/q)`` over ``dim``, computed in log space.

    Features are made positive with softplus (+eps), then
    ``log PM = (logsumexp(q * log f) - log n) / q``: no overflow for large activations, no
    underflow of small ones, finite gradients everywhere.  q = 1 is the arithmetic mean of the
    positive features; q -> inf approaches max pooling.

    >>> x = torch.tensor([[[0.0], [10.0]]])
    >>> bool(power_mean(x, q=3.0) > F.softplus(x).mean(1))
    True
    """
    f = F.softplus(x) + eps
    n = x.shape[dim]
    return torch.exp((torch.logsumexp(q * torch.log(f), dim=dim) - math.log(n)) / q)


class PowerMeanPool(nn.Module):
    """Power-mean pooling over tokens (CardioMorph's pooling, Q = 3 by default)."""

    def __init__(self, q: float = 3.0):
        super().__init__()
        self.q = float(q)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        if padding_mask is not None:
            # padded tokens get a large negative value: softplus maps them to ~0, out of the mean's mass
            x = x.masked_fill(padding_mask.unsqueeze(-1), -30.0)
        return power_mean(x, self.q, dim=1)


class MeanPool(nn.Module):
    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        return masked_mean(x, padding_mask)


POOLINGS = ("mean", "powermean")


def create_pool(name: str, q: float = 3.0) -> nn.Module:
    if name == "mean":
        return MeanPool()
    if name == "powermean":
        return PowerMeanPool(q)
    raise ValueError(f"unknown pooling {name!r}; valid: {', '.join(POOLINGS)}")
