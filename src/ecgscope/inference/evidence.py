"""Evidence combination: one calibrated probability per label from every kind of evidence ecgscope has.

A network package sees windows of 5-10 s; ecgscope also measures the whole record, and its rhythm
statistics decide atrial fibrillation better than any window network it has trained (docs/models.md).
A package may carry ``evidence.json``: per label, how these kinds of evidence add up::

    network  logit of the package's own calibrated probability: its window network read over the record
             (max / mean over windows), blended with its record head when it has one
    record   a logistic model over the whole-record measurements (:data:`RECORD_FEATURES`: rhythm
             statistics, PR/QRS/QT, axes, per-lead quality), fitted across the sources with the combination
    rhythm   a logistic model over the rhythm statistics alone (RR irregularity, P waves: the estimator
             of ``ecgscope-af-1lead``), fitted the same way, for the rhythm labels (Atrial fibrillation)

    z_label = b + sum_k w_k z_k        p_label = sigmoid(z_label)

one logistic regression per label over the kinds that speak to it (stacking), fitted on records of
several sources that none of the evidence models was trained on (out-of-fold logits where one was; see
:mod:`ecgscope.train.evidence`), every source weighing the same in total so that the largest source
does not set the scale for the others.  The fit is the label's calibration; its threshold is chosen on
out-of-fold combined probabilities.  A label whose fitting data are too thin (fewer than
``min_positives`` positives, or fewer than ``min_sources`` sources that define it) keeps the package's
own probability and threshold, and the result says so (``path: "package"``).

What carried a label: the contribution of kind k is ``w_k (z_k - c_k)``, with ``c_k`` the mean of z_k over
the fitting records, i.e. log-odds relative to an average record; the kind with the largest absolute
contribution carried it (for a label on the package's path, the network: its only evidence).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = (rng.random(400) < 0.3).astype(float)[:, None]
>>> Z = {"network": (y * 2 + rng.normal(size=(400, 1))), "rhythm": (y * 3 + rng.normal(size=(400, 1)))}
>>> comb = EvidenceCombiner(("AF",), min_sources=1).fit(Z, y, np.array(["a", "b"] * 200), np.arange(400) % 5)
>>> bool(comb.weights_[0]["rhythm"] > comb.weights_[0]["network"] > 0)
True
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.calibrate._base import logit, sigmoid
from ecgscope.calibrate.plausibility import QUALITY_LABEL
from ecgscope.inference.record_head import RECORD_FEATURES
from ecgscope.inference.rhythm_model import RhythmLogistic

EVIDENCE_KIND = "evidence-combiner"
EVIDENCE_KINDS = ("network", "record", "rhythm")
FEATURE_KINDS = ("record", "rhythm")  # the kinds computed from record features by the combination's own models
PACKAGE_PATH = "package"  # a label that keeps the package's own calibrated path


def _fit_logistic(X: np.ndarray, y: np.ndarray, w: np.ndarray, C: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=5000).fit(X, y, sample_weight=w)
    return clf.coef_[0].astype(np.float64), float(clf.intercept_[0])


def source_weights(sources: np.ndarray) -> np.ndarray:
    """Per-row weights giving every source the same total weight (mean weight 1)."""
    _, inverse, counts = np.unique(sources, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return w * len(w) / w.sum()


def mean_source_f1_threshold(p: np.ndarray, y: np.ndarray, sources: np.ndarray) -> float:
    """The threshold with the best mean F1 over the sources that have positives (each source weighing the same,
    so the threshold is not the one of the source with the most records)."""
    cands = np.unique(p)
    f1s = []
    for src in np.unique(sources):
        m = sources == src
        pos = y[m].sum()
        if pos == 0:
            continue
        called = (p[m][None, :] >= cands[:, None])  # (n_candidates, n_rows)
        tp = (called & (y[m][None, :] == 1)).sum(axis=1)
        f1s.append(2 * tp / (called.sum(axis=1) + pos))
    return float(cands[int(np.argmax(np.mean(f1s, axis=0)))])


class EvidenceCombiner:
    """Per-label logistic stacking of evidence logits (module docstring).

    Parameters
    ----------
    labels : tuple of str
        The package's labels, in order.
    C : float
        Inverse L2 regularisation of each label's combination.
    min_positives : int
        A label is combined only with at least this many positives in the fitting data ...
    min_sources : int
        ... and at least this many sources that define it with positives from ``min_positive_patients``
        patients or more each (thousands of windows of one or two patients teach the weights little that
        carries to other people).  Poor data quality needs this many sources that define it, one of them
        with such positives: its threshold caps the clean records called poor per source.
    min_positive_patients : int
    threshold_strategy : {"f1", "sensitivity"}
        How a combined label's threshold is chosen on the out-of-fold combined probabilities: ``f1`` takes
        the threshold with the best mean F1 over the sources with positives (every source weighing the
        same, as in the fit), ``sensitivity`` the pooled rule of :class:`ThresholdSelector`.
    max_clean_flagged : float
        For "Poor data quality" (whose positive call marks a whole result unreliable): the threshold is at
        least the one that calls at most this share of every source's clean records poor.
    """

    def __init__(self, labels: tuple[str, ...], C: float = 1.0, min_positives: int = 20, min_sources: int = 2,
                 min_positive_patients: int = 5, threshold_strategy: str = "f1", max_clean_flagged: float = 0.04):
        self.labels = tuple(labels)
        self.C = C
        self.min_positives = min_positives
        self.min_sources = min_sources
        self.min_positive_patients = min_positive_patients
        self.threshold_strategy = threshold_strategy
        self.max_clean_flagged = max_clean_flagged
        self.feature_models_: dict[str, dict[str, RhythmLogistic]] = {k: {} for k in FEATURE_KINDS}

    # ------------------------------------------------------------------ fitting
    def _kinds(self, Z: dict[str, np.ndarray], j: int, rows: np.ndarray) -> list[str]:
        """The evidence kinds that speak to label j on (nearly) all of ``rows``."""
        return [k for k in EVIDENCE_KINDS if k in Z and np.isfinite(Z[k][rows, j]).mean() > 0.95]

    def _design(self, Z: dict[str, np.ndarray], j: int, kinds: list[str], rows: np.ndarray | slice,
                centers: dict[str, float]) -> np.ndarray:
        cols = []
        for k in kinds:
            z = Z[k][rows, j]
            cols.append(np.where(np.isfinite(z), z, centers[k]))  # a missing logit says nothing (its centre)
        return np.stack(cols, axis=1)

    def fit(self, Z: dict[str, np.ndarray], y: np.ndarray, sources: np.ndarray, groups: np.ndarray,
            package_thresholds: np.ndarray | None = None, patients: np.ndarray | None = None) -> EvidenceCombiner:
        """Fit every label's combination.

        ``Z``: kind -> (n, n_labels) logits (NaN where the kind does not speak); ``y`` (n, n_labels), NaN =
        the record's source does not define the label; ``sources`` (n,) source names; ``groups`` (n,)
        cross-fitting folds (patient-grouped) for the out-of-fold probabilities the thresholds are chosen on.
        ``package_thresholds``: the package's own, kept for the labels that are not combined; ``patients`` (n,)
        patient ids (default: every row its own patient).
        """
        from ecgscope.calibrate import ThresholdSelector

        y = np.asarray(y, np.float64)
        sources, groups = np.asarray(sources), np.asarray(groups)
        n, L = y.shape
        patients = np.asarray(patients) if patients is not None else np.arange(n).astype(str)
        unknown = set(Z) - set(EVIDENCE_KINDS)
        if unknown:
            raise ValueError(f"unknown evidence kinds {sorted(unknown)}; valid: {', '.join(EVIDENCE_KINDS)}")
        if "network" not in Z:
            raise ValueError("the network's evidence is needed")
        self.combined_ = np.zeros(L, bool)
        self.kinds_: list[list[str]] = []
        self.weights_: list[dict[str, float]] = []
        self.intercept_ = np.zeros(L)
        self.centers_: list[dict[str, float]] = []
        self.thresholds_ = (np.asarray(package_thresholds, np.float64).copy() if package_thresholds is not None
                            else np.full(L, 0.5))
        self.fit_report_: list[dict[str, Any]] = []
        for j, name in enumerate(self.labels):
            known = np.isfinite(y[:, j])
            rows = np.flatnonzero(known)
            n_pos = int(y[rows, j].sum())
            defining = sorted(set(sources[rows]))
            teaching = [src for src in defining  # sources with positives from enough patients
                        if len(set(patients[rows][(sources[rows] == src) & (y[rows, j] == 1)]))
                        >= self.min_positive_patients]
            kinds = self._kinds(Z, j, rows) if len(rows) else ["network"]
            centers = {k: float(np.nanmean(Z[k][rows, j])) if len(rows) else 0.0 for k in kinds}
            report = {"label": name, "n": int(len(rows)), "n_pos": n_pos, "sources": defining,
                      "sources_with_positive_patients": teaching, "kinds": kinds}
            # Poor data quality is combined to cap false alarms per source, which needs every source's clean records
            # rather than positives of several: one source with noisy records from enough patients suffices
            enough = (len(teaching) >= 1 and len(defining) >= self.min_sources if name == QUALITY_LABEL
                      else len(teaching) >= self.min_sources)
            if n_pos < self.min_positives or not enough or n_pos == len(rows):
                self.kinds_.append(["network"])  # the package's own probability and threshold
                self.weights_.append({"network": 1.0})
                self.centers_.append({"network": float(np.nanmean(Z["network"][rows if len(rows) else slice(None), j]))})
                self.fit_report_.append({**report, "path": PACKAGE_PATH})
                continue
            X = self._design(Z, j, kinds, rows, centers)
            w = source_weights(sources[rows])
            coef, b = _fit_logistic(X, y[rows, j], w, self.C)
            # out-of-fold combined probabilities for the threshold
            oof = np.full(len(rows), np.nan)
            for g in np.unique(groups[rows]):
                test = groups[rows] == g
                train = ~test
                if len(np.unique(y[rows[train], j])) < 2:
                    continue
                c_g, b_g = _fit_logistic(X[train], y[rows[train], j], w[train], self.C)
                oof[test] = sigmoid(X[test] @ c_g + b_g)
            ok = np.isfinite(oof)
            if self.threshold_strategy == "f1":
                thr = mean_source_f1_threshold(oof[ok], y[rows[ok], j], sources[rows[ok]])
            else:
                thr = float(ThresholdSelector(self.threshold_strategy).fit(oof[ok, None], y[rows[ok], j, None])
                            .thresholds_[0])
            floor = None
            if name == QUALITY_LABEL:  # a poor-quality call voids the whole result: cap its false alarms per source
                floor = max(float(np.quantile(oof[ok & (sources[rows] == s) & (y[rows, j] == 0)],
                                              1 - self.max_clean_flagged))
                            for s in defining if np.any(ok & (sources[rows] == s) & (y[rows, j] == 0)))
                thr = max(thr, floor)
            self.combined_[j] = True
            self.kinds_.append(kinds)
            self.weights_.append({k: float(c) for k, c in zip(kinds, coef, strict=True)})
            self.intercept_[j] = b
            self.centers_.append(centers)
            self.thresholds_[j] = thr
            self.fit_report_.append({**report, "path": "combined", "weights": self.weights_[j], "intercept": b,
                                     "threshold": thr, **({"clean_flag_floor": floor} if floor is not None else {}),
                                     "oof": {"n": int(ok.sum())}})
        return self

    def fit_feature_model(self, kind: str, label: str, X_record: np.ndarray, y: np.ndarray,
                          features: tuple[str, ...] = RECORD_FEATURES, C: float = 1.0) -> EvidenceCombiner:
        """Fit the logistic model whose logit is the ``kind`` evidence of ``label`` over ``features`` (columns of
        ``X_record``, (n, len(RECORD_FEATURES)); ``y`` (n,) 0/1)."""
        if kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature evidence {kind!r}; valid: {', '.join(FEATURE_KINDS)}")
        if label not in self.labels:
            raise ValueError(f"unknown label {label!r}")
        cols = [RECORD_FEATURES.index(f) for f in features]
        self.feature_models_[kind][label] = RhythmLogistic(C=C, features=tuple(features)).fit(X_record[:, cols], y)
        return self

    # ------------------------------------------------------------------ prediction
    def evidence_logits(self, package_probs: np.ndarray, X_record: np.ndarray | None) -> dict[str, np.ndarray]:
        """kind -> (n, n_labels) evidence logits: the network's (the package's calibrated probabilities), and the
        combination's own record and rhythm models' from :data:`RECORD_FEATURES` ``X_record`` (NaN where a
        kind has no model for a label)."""
        z = {"network": network_logits(package_probs)}
        n = len(z["network"])
        for kind, models in self.feature_models_.items():
            if not models:
                continue
            if X_record is None:
                raise ValueError(f"the {kind} evidence needs the records' features")
            col = np.full((n, len(self.labels)), np.nan)
            for name, m in models.items():
                col[:, self.labels.index(name)] = m.decision_function(
                    np.asarray(X_record, np.float64)[:, [RECORD_FEATURES.index(f) for f in m.features]])
            z[kind] = col
        return z

    def combine(self, package_probs: np.ndarray, X_record: np.ndarray | None, explain: bool = True
                ) -> tuple[np.ndarray, list[list[dict]] | None]:
        """Final probabilities (n, n_labels) and, per record and label, the evidence that carried it (None with
        ``explain=False``: batch classification needs the probabilities only).

        ``package_probs``: the package's own calibrated probabilities; ``X_record``: the records'
        :data:`RECORD_FEATURES` (None when the combination has no record or rhythm models).
        """
        Z = self.evidence_logits(package_probs, X_record)
        p = np.asarray(package_probs, np.float64).copy()
        n = len(p)
        evidence: list[list[dict[str, Any]]] | None = [[] for _ in range(n)] if explain else None
        for j in range(len(self.labels)):
            kinds, c = self.kinds_[j], self.centers_[j]
            w = np.array([self.weights_[j][k] for k in kinds])
            X = self._design(Z, j, kinds, slice(None), c)
            if self.combined_[j]:
                p[:, j] = sigmoid(X @ w + self.intercept_[j])
            if evidence is None:
                continue
            contrib = (X - np.array([c[k] for k in kinds])) * w  # (n, kinds)
            path = "combined" if self.combined_[j] else PACKAGE_PATH
            for i in range(n):
                log_odds = dict.fromkeys(EVIDENCE_KINDS)
                log_odds.update({k: round(float(contrib[i, m]), 3) for m, k in enumerate(kinds)})
                evidence[i].append({"path": path, "carried_by": kinds[int(np.argmax(np.abs(contrib[i])))],
                                    "log_odds": log_odds})
        return p, evidence

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {"kind": EVIDENCE_KIND, "labels": list(self.labels), "C": self.C,
                "min_positives": self.min_positives, "min_sources": self.min_sources,
                "min_positive_patients": self.min_positive_patients,
                "threshold_strategy": self.threshold_strategy, "max_clean_flagged": self.max_clean_flagged,
                "record_features": list(RECORD_FEATURES),
                "per_label": [{"label": name, "combined": bool(self.combined_[j]), "kinds": self.kinds_[j],
                               "weights": self.weights_[j], "intercept": float(self.intercept_[j]),
                               "centers": self.centers_[j], "threshold": float(self.thresholds_[j])}
                              for j, name in enumerate(self.labels)],
                "feature_models": {kind: {k: m.to_dict() for k, m in models.items()}
                                   for kind, models in self.feature_models_.items()},
                "fit_report": getattr(self, "fit_report_", [])}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvidenceCombiner:
        if d.get("kind") != EVIDENCE_KIND:
            raise ValueError(f"not an evidence combiner: kind={d.get('kind')!r}")
        if tuple(d["record_features"]) != RECORD_FEATURES:
            raise ValueError("evidence combiner was fitted on other record features than ecgscope computes")
        comb = cls(tuple(d["labels"]), C=d["C"], min_positives=d["min_positives"], min_sources=d["min_sources"],
                   min_positive_patients=d["min_positive_patients"],
                   threshold_strategy=d["threshold_strategy"], max_clean_flagged=d["max_clean_flagged"])
        per = d["per_label"]
        if [e["label"] for e in per] != list(comb.labels):
            raise ValueError("evidence combiner's per-label entries do not match its labels")
        for e in per:
            bad = set(e["kinds"]) - set(EVIDENCE_KINDS)
            if bad:
                raise ValueError(f"evidence combiner uses unknown evidence kinds {sorted(bad)}")
        comb.combined_ = np.array([e["combined"] for e in per], bool)
        comb.kinds_ = [list(e["kinds"]) for e in per]
        comb.weights_ = [{k: float(v) for k, v in e["weights"].items()} for e in per]
        comb.intercept_ = np.array([e["intercept"] for e in per], np.float64)
        comb.centers_ = [{k: float(v) for k, v in e["centers"].items()} for e in per]
        comb.thresholds_ = np.array([e["threshold"] for e in per], np.float64)
        comb.feature_models_ = {kind: {k: RhythmLogistic.from_dict(m) for k, m in d["feature_models"].get(kind, {}).items()}
                                for kind in FEATURE_KINDS}
        used = {f for models in comb.feature_models_.values() for m in models.values() for f in m.features}
        unknown = used - set(RECORD_FEATURES)
        if unknown:
            raise ValueError(f"evidence combiner uses record features ecgscope does not compute: {sorted(unknown)}")
        comb.fit_report_ = d.get("fit_report", [])
        return comb

    @classmethod
    def load(cls, path: str | os.PathLike) -> EvidenceCombiner:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @property
    def needs_features(self) -> bool:
        """Whether the combination reads record features (a delineation per record)."""
        return any(self.feature_models_.values())


def network_logits(probs: np.ndarray) -> np.ndarray:
    """The ``network`` evidence: logits of the package's calibrated probabilities."""
    return logit(np.asarray(probs, np.float64))
