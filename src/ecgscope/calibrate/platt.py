"""Platt scaling: per label, sigmoid(a * logit(p) + b) fitted by logistic regression."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from ecgscope.calibrate._base import Calibrator, check_xy, logit, sigmoid


class PlattScaling(Calibrator):
    """Per-label Platt scaling on the logit of the model's probability.

    Labels whose validation data has a single class keep the identity map (a=1, b=0).
    ``C`` is the inverse L2 strength of the logistic fit (weak by default).
    """

    name = "platt"

    def __init__(self, C: float = 100.0):  # noqa: N803 - scikit-learn's name
        self.C = C

    def fit(self, probs: np.ndarray, y: np.ndarray) -> PlattScaling:
        p, t = check_xy(probs, y)
        z = logit(p)
        a = np.ones(p.shape[1])
        b = np.zeros(p.shape[1])
        for j in range(p.shape[1]):
            m = ~np.isnan(t[:, j])
            if m.sum() < 2 or t[m, j].min() == t[m, j].max():
                continue
            lr = LogisticRegression(C=self.C, solver="lbfgs").fit(z[m, j : j + 1], t[m, j].astype(int))
            a[j], b[j] = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        self.a_, self.b_ = a, b
        return self

    def predict_proba(self, probs: np.ndarray) -> np.ndarray:
        self._check_fitted()
        p, _ = check_xy(probs)
        return sigmoid(self.a_[None, :] * logit(p) + self.b_[None, :])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlattScaling:
        obj = cls(C=d["state"]["C"])
        obj.a_ = np.asarray(d["state"]["a_"], dtype=np.float64)
        obj.b_ = np.asarray(d["state"]["b_"], dtype=np.float64)
        return obj
