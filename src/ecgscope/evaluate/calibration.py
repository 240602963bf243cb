"""How well probabilities are calibrated: expected calibration error, Brier score, reliability curves.

Multi-label conventions (stated in every report that uses them):

* ``ece`` is *pooled*: every assessed (sample, label) pair is one prediction, binned in 15 equal-width
  probability bins; ECE = sum over bins of (bin share) x |mean predicted - observed frequency|.
* ``ece_classwise`` is the mean over scorable labels of each label's own ECE.
* NaN labels (not assessed) are left out.
"""

from __future__ import annotations

import numpy as np

N_BINS = 15


def _pairs(y_true: np.ndarray, y_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    if y_true.shape != y_prob.shape:
        raise ValueError(f"y_true {y_true.shape} and y_prob {y_prob.shape} differ in shape")
    known = ~np.isnan(y_true)
    return y_true[known], y_prob[known]


def reliability_curve(y_true: np.ndarray, y_prob: np.ndarray, n_bins: int = N_BINS) -> dict[str, np.ndarray]:
    """Per equal-width bin: count, mean predicted probability, observed frequency (NaN for empty bins)."""
    t, p = _pairs(y_true, y_prob)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = np.bincount(idx, weights=p, minlength=n_bins) / count
        observed = np.bincount(idx, weights=t, minlength=n_bins) / count
    return {"edges": edges, "count": count, "mean_predicted": mean_pred, "observed": observed}


def expected_calibration_error(y_true: np.ndarray, y_prob: np.ndarray, n_bins: int = N_BINS) -> float:
    """Pooled ECE over all assessed (sample, label) pairs.

    >>> expected_calibration_error(np.array([0, 1, 1, 0.0]), np.array([0.0, 1.0, 1.0, 0.0]))
    0.0
    """
    curve = reliability_curve(y_true, y_prob, n_bins)
    n = curve["count"].sum()
    if n == 0:
        return float("nan")
    filled = curve["count"] > 0
    gap = np.abs(curve["mean_predicted"][filled] - curve["observed"][filled])
    return float(np.sum(curve["count"][filled] / n * gap))


def classwise_ece(y_true: np.ndarray, y_prob: np.ndarray, n_bins: int = N_BINS) -> float:
    """Mean over labels (columns) with at least one positive of each label's ECE."""
    y_true = np.asarray(y_true, dtype=np.float64)
    vals = [expected_calibration_error(y_true[:, j], np.asarray(y_prob)[:, j], n_bins)
            for j in range(y_true.shape[1]) if np.nansum(y_true[:, j]) > 0]
    return float(np.mean(vals)) if vals else float("nan")


def brier_score(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Mean squared error between probabilities and outcomes over assessed pairs."""
    t, p = _pairs(y_true, y_prob)
    return float(np.mean((p - t) ** 2)) if t.size else float("nan")


def calibration_summary(y_true: np.ndarray, y_prob: np.ndarray) -> dict[str, float]:
    """ECE (pooled and classwise) and Brier score in one dict."""
    return {"ece": expected_calibration_error(y_true, y_prob), "ece_classwise": classwise_ece(y_true, y_prob),
            "brier": brier_score(y_true, y_prob)}
