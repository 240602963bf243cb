"""Shared pieces of the calibrators: logit/sigmoid, NaN-aware label masks, input checks, serialisation."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))  # overflow-free


def check_xy(probs: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (n_samples, n_labels); got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("probabilities must be finite and within [0, 1]")
    if y is None:
        return p, None
    t = np.asarray(y, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"labels {t.shape} and probabilities {p.shape} differ in shape")
    bad = ~np.isnan(t) & (t != 0) & (t != 1)
    if bad.any():
        raise ValueError("labels must be 0, 1 or NaN (not assessed)")
    return p, t


class Calibrator:
    """Base: ``fit(probs, y)`` on validation data, ``predict_proba(probs)``; learned state ends in ``_``.

    ``probs`` are recording-level probabilities (after window aggregation), ``y`` 0/1 labels with NaN for
    "not assessed" (excluded from fitting).  Every calibrator serialises to a JSON-ready dict.
    """

    name: ClassVar[str] = ""

    def fit(self, probs: np.ndarray, y: np.ndarray) -> Calibrator:
        raise NotImplementedError

    def predict_proba(self, probs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def transform(self, probs: np.ndarray) -> np.ndarray:
        return self.predict_proba(probs)

    def fit_transform(self, probs: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.fit(probs, y).predict_proba(probs)

    def _check_fitted(self) -> None:
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        state = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(self).items()}
        return {"method": self.name, "state": state}
