"""Record head: whole-record measurements blended into a network's per-label logits.

A window network sees 5-10 s of signal; some labels are defined by measurements over the whole record that
ecgscope's signal analysis already makes: the PR interval (1st-degree AV block), the heart rate (brady- and
tachycardia), RR irregularity and P-wave presence (atrial fibrillation, sinus rhythm), the QRS duration and
axes, the signal quality.  A package may carry ``record_head.json``: one
:class:`~ecgscope.inference.rhythm_model.RhythmLogistic` per label over :data:`RECORD_FEATURES` (fitted on
the training folds), and a blend weight ``alpha`` chosen on the validation fold::

    z = (1 - alpha) * logit(p_network) + alpha * z_head      (labels with a head; others keep the network's)

Calibration and thresholds are then fitted on the blended validation probabilities, so everything after
the blend is unchanged.  The statistics come from the record the model reads (lead I for a single-lead
model) and its learned delineation; the Analyzer computes them once per record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.calibrate._base import logit, sigmoid
from ecgscope.inference.rhythm_model import RhythmLogistic
from ecgscope.record import Record
from ecgscope.signal import ecg_measurements
from ecgscope.signal.delineate import Delineation
from ecgscope.signal.quality import QualityReport
from ecgscope.signal.rhythm_features import RHYTHM_FEATURES, ecg_rhythm_features

MEASUREMENT_FEATURES = ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "p_axis_deg", "qrs_axis_deg",
                        "t_axis_deg")
QUALITY_FEATURES = ("quality_mean", "quality_min", "quality_usable")
RECORD_FEATURES = RHYTHM_FEATURES + MEASUREMENT_FEATURES + QUALITY_FEATURES
MIN_POSITIVES = 5  # a label with fewer training positives keeps the network's logit alone


def record_features(record: Record, delineation: Delineation, quality: QualityReport) -> dict[str, float]:
    """:data:`RECORD_FEATURES` of ``record``: rhythm statistics, global measurements, per-lead quality."""
    out = dict(ecg_rhythm_features(record, delineation))
    meas = ecg_measurements(record, delineation)
    out.update({k: float("nan") if meas.get(k) is None else float(meas[k]) for k in MEASUREMENT_FEATURES})
    scores = [quality.per_lead[n] for n in record.leads]
    out.update({"quality_mean": float(np.mean(scores)), "quality_min": float(np.min(scores)),
                "quality_usable": float(quality.usable)})
    return out


class RecordHead:
    """Per-label logistic models over record features and the blend weight (see the module docstring).

    Parameters
    ----------
    labels : tuple of str
        The package's labels, in order.
    C : float
        Inverse regularisation of each label's logistic model.
    """

    def __init__(self, labels: tuple[str, ...], C: float = 0.1):
        self.labels = tuple(labels)
        self.C = C

    def fit(self, X: np.ndarray, y: np.ndarray) -> RecordHead:
        """``X`` (n, len(RECORD_FEATURES)) on training records, ``y`` (n, n_labels) with NaN = not assessed."""
        X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
        self.models_: list[RhythmLogistic | None] = []
        for j in range(len(self.labels)):
            known = ~np.isnan(y[:, j])
            pos = y[known, j].sum()
            if pos < MIN_POSITIVES or pos == known.sum():
                self.models_.append(None)
                continue
            self.models_.append(RhythmLogistic(C=self.C, features=RECORD_FEATURES).fit(X[known], y[known, j]))
        self.alpha_ = 0.0
        return self

    def head_logits(self, X: np.ndarray) -> np.ndarray:
        """(n, n_labels) logits of the label models (NaN where a label has none)."""
        X = np.asarray(X, np.float64)
        out = np.full((len(X), len(self.labels)), np.nan)
        for j, m in enumerate(self.models_):
            if m is not None:
                out[:, j] = m.decision_function(X)
        return out

    def blend(self, network_probs: np.ndarray, X: np.ndarray, alpha: float | None = None) -> np.ndarray:
        """Blended (uncalibrated) probabilities from the network's record probabilities and the features."""
        a = self.alpha_ if alpha is None else float(alpha)
        z_net = logit(network_probs)  # clipped to [1e-6, 1 - 1e-6] as for the calibrators
        z_head = self.head_logits(X)
        z = np.where(np.isnan(z_head), z_net, (1 - a) * z_net + a * np.nan_to_num(z_head))
        return sigmoid(z)

    def choose_alpha(self, network_probs: np.ndarray, X: np.ndarray, y: np.ndarray,
                     grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)) -> dict[str, float]:
        """Set ``alpha_`` to the grid value with the best macro AUROC on (validation) ``y``; returns the scores."""
        from ecgscope.evaluate.metrics import macro_auroc

        scores = {str(a): float(macro_auroc(y, self.blend(network_probs, X, a))) for a in grid}
        self.alpha_ = float(max(grid, key=lambda a: scores[str(a)]))
        return scores

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "record-head", "labels": list(self.labels), "C": self.C, "alpha": self.alpha_,
                "features": list(RECORD_FEATURES),
                "models": [None if m is None else m.to_dict() for m in self.models_]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RecordHead:
        if d.get("kind") != "record-head":
            raise ValueError(f"not a record head: kind={d.get('kind')!r}")
        if tuple(d["features"]) != RECORD_FEATURES:
            raise ValueError("record head was fitted on other record features than ecgscope computes")
        head = cls(tuple(d["labels"]), C=d["C"])
        head.models_ = [None if m is None else RhythmLogistic.from_dict(m) for m in d["models"]]
        head.alpha_ = float(d["alpha"])
        if len(head.models_) != len(head.labels):
            raise ValueError("record head has a different number of label models than labels")
        return head

    @classmethod
    def load(cls, path: str | os.PathLike) -> RecordHead:
        return cls.from_dict(json.loads(Path(path).read_text()))

