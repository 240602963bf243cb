"""Multi-label loss with "not assessed" labels masked out, and class-imbalance weights."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def masked_bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy over the known entries of ``targets`` (NaN = not assessed, no gradient).

    The mean is over known entries, so a batch's loss does not shrink with the number of labels a
    dataset leaves unassessed.
    """
    known = ~torch.isnan(targets)
    t = torch.nan_to_num(targets, nan=0.0)
    loss = F.binary_cross_entropy_with_logits(logits, t, pos_weight=pos_weight, reduction="none")
    return (loss * known).sum() / known.sum().clamp_min(1)


def pos_weight_from(targets: np.ndarray, max_weight: float = 30.0) -> np.ndarray:
    """Per-label ``negatives / positives`` among known entries, clipped to [1, ``max_weight``].

    Labels without positives get 1 (nothing to up-weight).  Clipping keeps a label with a handful
    of positives from dominating the loss.
    """
    y = np.asarray(targets, dtype=np.float64)
    pos = np.nansum(y == 1, axis=0).astype(np.float64)
    neg = np.nansum(y == 0, axis=0).astype(np.float64)
    w = np.where(pos > 0, neg / np.maximum(pos, 1.0), 1.0)
    return np.clip(w, 1.0, max_weight).astype(np.float32)
