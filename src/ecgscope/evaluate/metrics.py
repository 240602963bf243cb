"""Multi-label classification metrics with bootstrap confidence intervals.

Conventions, stated once for every table ecgscope prints:

* Labels are scored on the samples whose label is known (NaN = not assessed is excluded, per label).
* A label is **scorable** only if those samples hold at least one positive and one negative.  Labels that
  are not scorable are listed by name in :attr:`EvaluationReport.unscorable` with the reason, never dropped
  silently; macro averages are over scorable labels.
* AUROC is the Mann-Whitney statistic with average ranks for ties (identical to
  ``sklearn.metrics.roc_auc_score``); AUPRC is average precision (identical to
  ``sklearn.metrics.average_precision_score``).
* 95 % confidence intervals come from a percentile bootstrap over test samples (records), 1000 replicates by
  default.  A replicate in which some scorable label lost all its positives or negatives is redrawn (the PTB-XL
  benchmark's convention), so every replicate scores the same set of labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ecgscope.labels import LABELS


def auroc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve of one label (NaN if only one class is present).

    >>> auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y = np.asarray(y_true, dtype=bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(y_score, dtype=np.float64))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Average precision (area under the precision-recall step curve), as scikit-learn computes it."""
    y = np.asarray(y_true, dtype=bool)
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-np.asarray(y_score, dtype=np.float64), kind="mergesort")
    s = np.asarray(y_score, dtype=np.float64)[order]
    yt = y[order]
    # one point per distinct threshold: the last index of each run of equal scores
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tp = np.cumsum(yt)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def f1_at(y_true: np.ndarray, y_score: np.ndarray, threshold: float) -> float:
    """F1 of ``y_score >= threshold`` (NaN without positives in truth and prediction)."""
    y = np.asarray(y_true, dtype=bool)
    pred = np.asarray(y_score) >= threshold
    tp = int((y & pred).sum())
    denom = int(y.sum()) + int(pred.sum())
    return float(2 * tp / denom) if denom else float("nan")


def _known(y_true: np.ndarray, j: int) -> np.ndarray:
    return ~np.isnan(y_true[:, j])


def scorable_labels(y_true: np.ndarray, labels: tuple[str, ...]) -> tuple[list[int], list[dict[str, Any]]]:
    """Indices of scorable labels and the reasons the others are not."""
    ok, not_ok = [], []
    for j, name in enumerate(labels):
        col = y_true[:, j]
        known = col[~np.isnan(col)]
        n_pos = int((known == 1).sum())
        if known.size == 0:
            not_ok.append({"label": name, "reason": "not assessed by this dataset"})
        elif n_pos == 0:
            not_ok.append({"label": name, "reason": "no positives"})
        elif n_pos == known.size:
            not_ok.append({"label": name, "reason": "no negatives"})
        else:
            ok.append(j)
    return ok, not_ok


def _per_label(y_true: np.ndarray, y_prob: np.ndarray, cols: list[int], thresholds: np.ndarray | None):
    out = np.full((len(cols), 3), np.nan)
    for k, j in enumerate(cols):
        m = _known(y_true, j)
        yt, yp = y_true[m, j], y_prob[m, j]
        out[k, 0] = auroc(yt, yp)
        out[k, 1] = average_precision(yt, yp)
        if thresholds is not None:
            out[k, 2] = f1_at(yt, yp, float(thresholds[j]))
    return out


@dataclass
class EvaluationReport:
    """Per-label and macro metrics with bootstrap CIs; ``unscorable`` names the labels left out and why."""

    labels: tuple[str, ...]
    per_label: pd.DataFrame  # index: scorable label names; columns auroc, auprc, f1 (+ _lo/_hi), n_pos, n
    macro: dict[str, dict[str, float]]  # {"auroc": {"value", "lo", "hi"}, "auprc": ..., "f1": ...}
    unscorable: list[dict[str, Any]] = field(default_factory=list)
    n_samples: int = 0
    n_bootstrap: int = 0

    def to_dict(self) -> dict[str, Any]:
        per = self.per_label.replace({np.nan: None}).reset_index(names="label").to_dict(orient="records")
        return {"n_samples": self.n_samples, "n_bootstrap": self.n_bootstrap, "macro": self.macro,
                "per_label": per, "unscorable": self.unscorable}

    def summary_line(self) -> str:
        a = self.macro["auroc"]
        return f"macro AUROC {a['value']:.3f} [{a['lo']:.3f}, {a['hi']:.3f}] over {len(self.per_label)} labels"


def evaluate_multilabel(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    labels: tuple[str, ...] = LABELS,
    thresholds: np.ndarray | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    max_redraws: int = 100,
) -> EvaluationReport:
    """Score probabilities against labels (NaN = not assessed), with bootstrap CIs over samples.

    Parameters
    ----------
    y_true : (n, n_labels) array of 0/1/NaN
    y_prob : (n, n_labels) array of probabilities (or any scores)
    thresholds : (n_labels,) array, optional
        When given, F1 at these thresholds is reported too.
    n_bootstrap : int
        0 disables the bootstrap (CIs are NaN).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random((200, 2)) < 0.3).astype(float)
    >>> rep = evaluate_multilabel(y, y + rng.normal(0, 0.5, y.shape), labels=("a", "b"), n_bootstrap=200)
    >>> 0.8 < rep.macro["auroc"]["value"] < 1.0
    True
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    if y_true.shape != y_prob.shape or y_true.ndim != 2 or y_true.shape[1] != len(labels):
        raise ValueError(f"y_true {y_true.shape} and y_prob {y_prob.shape} must both be (n, {len(labels)})")
    if np.isnan(y_prob).any():
        raise ValueError("y_prob contains NaN")
    cols, unscorable = scorable_labels(y_true, labels)
    point = _per_label(y_true, y_prob, cols, thresholds)
    n = y_true.shape[0]
    boot = np.full((n_bootstrap, len(cols), 3), np.nan)
    rng = np.random.default_rng(seed)
    drawn = 0
    redraws = 0
    while drawn < n_bootstrap and cols:
        idx = rng.integers(0, n, n)
        yt = y_true[idx][:, cols]
        pos = np.nansum(yt, axis=0)
        known = (~np.isnan(yt)).sum(axis=0)
        if ((pos == 0) | (pos == known)).any():
            redraws += 1
            if redraws > max_redraws * n_bootstrap:
                break  # a label too rare to bootstrap: its CI stays NaN rather than looping forever
            continue
        boot[drawn] = _per_label(y_true[idx], y_prob[idx], cols, thresholds)
        drawn += 1
    lo_q, hi_q = 100 * alpha / 2, 100 * (1 - alpha / 2)
    names = [labels[j] for j in cols]
    frame = pd.DataFrame(index=pd.Index(names, name=None))
    for k, metric in enumerate(("auroc", "auprc", "f1")):
        if metric == "f1" and thresholds is None:
            continue
        frame[metric] = point[:, k]
        if drawn:
            frame[f"{metric}_lo"] = np.nanpercentile(boot[:drawn, :, k], lo_q, axis=0)
            frame[f"{metric}_hi"] = np.nanpercentile(boot[:drawn, :, k], hi_q, axis=0)
    frame["n_pos"] = [int(np.nansum(y_true[:, j])) for j in cols]
    frame["n"] = [int(_known(y_true, j).sum()) for j in cols]
    macro = {}
    for k, metric in enumerate(("auroc", "auprc", "f1")):
        if metric == "f1" and thresholds is None:
            continue
        value = float(np.nanmean(point[:, k])) if cols else float("nan")
        reps = np.nanmean(boot[:drawn, :, k], axis=1) if drawn else np.array([np.nan])
        macro[metric] = {"value": value, "lo": float(np.nanpercentile(reps, lo_q)) if drawn else float("nan"),
                         "hi": float(np.nanpercentile(reps, hi_q)) if drawn else float("nan")}
    return EvaluationReport(tuple(labels), frame, macro, unscorable, n, drawn)


def macro_auroc(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Macro AUROC over scorable labels (no bootstrap): the validation metric used during training."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    vals = []
    for j in range(y_true.shape[1]):
        m = _known(y_true, j)
        v = auroc(y_true[m, j], y_prob[m, j])
        if not np.isnan(v):
            vals.append(v)
    return float(np.mean(vals)) if vals else float("nan")
