"""Stochastic depth: drop a residual branch per sample, only while training."""

from __future__ import annotations

import torch
from torch import nn


def drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
    """Zero the whole residual branch of random samples with probability ``drop_prob``.

    Survivors are scaled by ``1 / (1 - drop_prob)`` so the expected value is unchanged; outside
    training the input comes back untouched.
    """
    if drop_prob <= 0.0 or not training:
        return x
    keep = 1.0 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)  # one draw per sample, broadcast over the rest
    mask = x.new_empty(shape).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    """Module form of :func:`drop_path`; ``drop_prob`` may be changed after construction."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"


def set_drop_path(module: nn.Module, rate: float) -> int:
    """Set every :class:`DropPath` in ``module`` to a rate rising linearly with depth up to ``rate``.

    Returns how many were set.  Depth is the order of definition, which is the forward order for
    every backbone here.
    """
    paths = [m for m in module.modules() if isinstance(m, DropPath)]
    n = len(paths)
    for i, m in enumerate(paths):
        m.drop_prob = float(rate) * (i / (n - 1) if n > 1 else 1.0)
    return n


def set_dropout(module: nn.Module, rate: float) -> int:
    """Set the probability of every :class:`torch.nn.Dropout` in ``module``; returns how many."""
    n = 0
    for m in module.modules():
        if isinstance(m, nn.Dropout):
            m.p = float(rate)
            n += 1
    return n
