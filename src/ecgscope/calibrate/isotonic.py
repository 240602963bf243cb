"""Isotonic calibration: per label, a monotone step function fitted by isotonic regression."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

from ecgscope.calibrate._base import Calibrator, check_xy


class IsotonicCalibration(Calibrator):
    """Per-label isotonic regression (monotone, non-parametric; needs more validation data than Platt).

    The fitted map is stored as its breakpoints (``x_``, ``y_`` per label) and applied by linear
    interpolation, so it serialises to JSON exactly.  Labels with a single class on validation keep the
    identity map.  Outputs are clipped to [``eps``, 1 - ``eps``] so a calibrated probability is never a
    certainty the data cannot support.
    """

    name = "isotonic"

    def __init__(self, eps: float = 1e-3):
        self.eps = eps

    def fit(self, probs: np.ndarray, y: np.ndarray) -> IsotonicCalibration:
        p, t = check_xy(probs, y)
        xs, ys = [], []
        for j in range(p.shape[1]):
            m = ~np.isnan(t[:, j])
            if m.sum() < 2 or t[m, j].min() == t[m, j].max():
                xs.append([0.0, 1.0])
                ys.append([0.0, 1.0])
                continue
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p[m, j], t[m, j])
            xs.append([float(v) for v in iso.X_thresholds_])
            ys.append([float(v) for v in iso.y_thresholds_])
        self.x_, self.y_ = xs, ys
        return self

    def predict_proba(self, probs: np.ndarray) -> np.ndarray:
        self._check_fitted()
        p, _ = check_xy(probs)
        out = np.empty_like(p)
        for j in range(p.shape[1]):
            out[:, j] = np.interp(p[:, j], self.x_[j], self.y_[j])
        return np.clip(out, self.eps, 1 - self.eps)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IsotonicCalibration:
        obj = cls(eps=d["state"]["eps"])
        obj.x_, obj.y_ = d["state"]["x_"], d["state"]["y_"]
        return obj
