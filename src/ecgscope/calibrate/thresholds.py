"""Per-label decision thresholds chosen on validation data."""

from __future__ import annotations

from typing import Any

import numpy as np

from ecgscope.calibrate._base import check_xy

THRESHOLD_STRATEGIES = ("f1", "sensitivity")


class ThresholdSelector:
    """Choose one threshold per label on validation probabilities.

    Parameters
    ----------
    strategy : {"f1", "sensitivity"}
        ``f1``: the threshold maximising F1; ``sensitivity``: the highest threshold whose sensitivity
        reaches ``target_sensitivity`` (screening use: miss at most 1 - target of true cases).
    target_sensitivity : float
    default : float
        Threshold for labels that validation cannot inform (no positives or not assessed).

    Examples
    --------
    >>> y = np.array([[0], [0], [1], [1.0]]); p = np.array([[0.1], [0.4], [0.35], [0.8]])
    >>> ThresholdSelector("f1").fit(p, y).thresholds_.round(2).tolist()
    [0.35]
    """

    def __init__(self, strategy: str = "f1", target_sensitivity: float = 0.9, default: float = 0.5):
        if strategy not in THRESHOLD_STRATEGIES:
            raise ValueError(f"unknown threshold strategy {strategy!r}; valid: {', '.join(THRESHOLD_STRATEGIES)}")
        if not 0 < target_sensitivity <= 1:
            raise ValueError("target_sensitivity must be in (0, 1]")
        self.strategy = strategy
        self.target_sensitivity = target_sensitivity
        self.default = default

    def _one(self, p: np.ndarray, t: np.ndarray) -> float:
        if t.size == 0 or t.sum() == 0:
            return self.default
        order = np.argsort(-p, kind="mergesort")
        ps, ts = p[order], t[order]
        last = np.r_[np.flatnonzero(np.diff(ps)), ps.size - 1]  # predicting positive for ps >= ps[last]
        tp = np.cumsum(ts)[last]
        n_pred = last + 1
        if self.strategy == "f1":
            f1 = 2 * tp / (n_pred + t.sum())
            return float(ps[last][int(np.argmax(f1))])
        sens = tp / t.sum()
        ok = np.flatnonzero(sens >= self.target_sensitivity - 1e-12)
        return float(ps[last][ok[0]])

    def fit(self, probs: np.ndarray, y: np.ndarray) -> ThresholdSelector:
        p, t = check_xy(probs, y)
        out = np.empty(p.shape[1])
        for j in range(p.shape[1]):
            m = ~np.isnan(t[:, j])
            out[j] = self._one(p[m, j], t[m, j])
        self.thresholds_ = out
        return self

    def predict(self, probs: np.ndarray) -> np.ndarray:
        p, _ = check_xy(probs)
        return p >= self.thresholds_[None, :]

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "target_sensitivity": self.target_sensitivity, "default": self.default,
                "thresholds": self.thresholds_.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ThresholdSelector:
        obj = cls(d["strategy"], d["target_sensitivity"], d["default"])
        obj.thresholds_ = np.asarray(d["thresholds"], dtype=np.float64)
        return obj
