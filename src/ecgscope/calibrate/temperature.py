"""Temperature scaling: probabilities re-squashed as sigmoid(logit(p) / T), one T or one per label."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from ecgscope.calibrate._base import Calibrator, check_xy, logit, sigmoid


def _fit_temperature(z: np.ndarray, t: np.ndarray) -> float:
    """T minimising the binary NLL of sigmoid(z / T) against ``t`` (searched on log T in [1/20, 20])."""
    if z.size == 0 or t.min() == t.max():
        return 1.0

    def nll(log_t: float) -> float:
        q = z / np.exp(log_t)
        return float(np.mean(np.logaddexp(0.0, q) - t * q))

    res = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(res.x))


class TemperatureScaling(Calibrator):
    """Temperature scaling (Guo et al. 2017) for independent sigmoid outputs.

    Parameters
    ----------
    per_label : bool
        One temperature per label (fitted on that label's assessed samples) instead of one for all.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> q = rng.uniform(0.05, 0.95, (4000, 3))                  # true probabilities
    >>> y = (rng.random(q.shape) < q).astype(float)
    >>> over = sigmoid(3 * logit(q))                            # over-confident by a factor of 3
    >>> t = float(TemperatureScaling().fit(over, y).temperature_[0])
    >>> 2.7 < t < 3.3
    True
    """

    name = "temperature"

    def __init__(self, per_label: bool = False):
        self.per_label = per_label

    def fit(self, probs: np.ndarray, y: np.ndarray) -> TemperatureScaling:
        p, t = check_xy(probs, y)
        z = logit(p)
        known = ~np.isnan(t)
        if self.per_label:
            self.temperature_ = np.array([_fit_temperature(z[known[:, j], j], t[known[:, j], j])
                                          for j in range(p.shape[1])])
        else:
            self.temperature_ = np.full(p.shape[1], _fit_temperature(z[known], t[known]))
        return self

    def predict_proba(self, probs: np.ndarray) -> np.ndarray:
        self._check_fitted()
        p, _ = check_xy(probs)
        return sigmoid(logit(p) / self.temperature_[None, :])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TemperatureScaling:
        obj = cls(per_label=d["state"]["per_label"])
        obj.temperature_ = np.asarray(d["state"]["temperature_"], dtype=np.float64)
        return obj
