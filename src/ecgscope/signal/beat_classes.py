"""AAMI beat classes (N, S, V) of every beat, from its RR context and its shape against the record's own beats.

``ecg_beat_classes(record)`` finds the R peaks (or takes them), computes :mod:`~ecgscope.signal.beat_features`
and runs two gradient-boosted tree models, trained by :mod:`ecgscope.train.beat_classifier` on the MIT-BIH
100-series and the CPSC 2021 sample (records with paced beats left out, as EC57 does):

1. **V or not** — ventricular ectopic beats.  The model is *monotone* in the shape features: a beat that differs
   more from its dominant template (lower correlation, larger residual, wider QRS) never gets a lower V
   probability.  With ectopy from few patients to learn from, this is what lets it carry to ectopic shapes
   it never saw;
2. **S or N** among the rest — supraventricular ectopic beats, monotone in prematurity (an earlier beat is never
   less likely S).  Besides the annotated S beats, training adds normal beats made premature in their RR
   features (an S beat is a normal-looking beat that comes early), since the MIT-BIH 100-series holds only 192
   S beats.

``P(V)`` and ``P(S | not V)`` give the three probabilities.  AAMI's F (fusion, 13 beats here) and Q (paced,
unclassifiable) are not learned: fusion beats train as V, and a paced record's beats get classes as if unpaced
(pacing is reported at record level, not per beat).  Figures, inter-patient: ``benchmarks/results/beat_classes_mitdb.md``.

>>> from ecgscope.io import load_record                                    # doctest: +SKIP
>>> res = ecg_beat_classes(load_record("../shared/data/mitdb/119"))        # doctest: +SKIP
>>> res.counts()                                                           # doctest: +SKIP
{'N': 1546, 'S': 0, 'V': 444}
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.record import Record
from ecgscope.signal.beat_features import BEAT_FEATURES, beat_features
from ecgscope.signal.peaks import ecg_peaks

BEAT_CLASSES = ("N", "S", "V")
WEIGHTS_FILE = Path(__file__).with_name("weights") / "beat_classifier.npz"
_NODE_FIELDS = ("value", "feature_idx", "num_threshold", "missing_go_to_left", "left", "right", "is_leaf")


@dataclass(frozen=True)
class TreeEnsemble:
    """A binary gradient-boosted tree model as flat arrays (exported from scikit-learn's
    ``HistGradientBoostingClassifier`` by :func:`from_sklearn`): ``predict_proba`` gives P(class 1)."""

    baseline: float
    roots: np.ndarray  # (n_trees,) index of each tree's root node in the node arrays
    value: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray  # absolute node indices
    right: np.ndarray
    is_leaf: np.ndarray
    features: tuple[int, ...]  # columns of BEAT_FEATURES the model reads

    @classmethod
    def from_sklearn(cls, model, features: tuple[int, ...]) -> TreeEnsemble:
        parts = {f: [] for f in _NODE_FIELDS}
        roots, offset = [], 0
        for (tree,) in model._predictors:  # binary: one tree per iteration
            nodes = tree.nodes
            roots.append(offset)
            for f in _NODE_FIELDS:
                v = np.asarray(nodes[f])
                parts[f].append(v + offset if f in ("left", "right") else v)
            offset += len(nodes)
        cat = lambda f: np.concatenate(parts[f]) if parts[f] else np.zeros(0)  # noqa: E731
        return cls(float(np.ravel(model._baseline_prediction)[0]), np.asarray(roots, np.int64),
                   cat("value").astype(np.float64), cat("feature_idx").astype(np.int64),
                   cat("num_threshold").astype(np.float64), cat("missing_go_to_left").astype(bool),
                   cat("left").astype(np.int64), cat("right").astype(np.int64), cat("is_leaf").astype(bool),
                   tuple(int(i) for i in features))

    def raw_score(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of class 1 for every row of ``X``.  All trees descend together, one level per step (a loop
        over trees costs more in Python than the trees do for the few beats of a 10-s record), in blocks of
        rows so a day of beats never holds more than ~250 k nodes at once."""
        X = np.asarray(X, dtype=np.float64)[:, list(self.features)]
        n, n_trees = X.shape[0], self.roots.size
        score = np.full(n, self.baseline)
        if n == 0 or n_trees == 0:
            return score
        step = max(1, 250_000 // n_trees)
        for a in range(0, n, step):
            xb = X[a: a + step]
            rows = np.arange(xb.shape[0])[:, None]
            node = np.broadcast_to(self.roots, (xb.shape[0], n_trees)).copy()  # (rows, trees)
            while True:
                leaf = self.is_leaf[node]
                if leaf.all():
                    break
                x = xb[rows, self.feature[node]]  # (rows, trees)
                go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
                node = np.where(leaf, node, np.where(go_left, self.left[node], self.right[node]))
            score[a: a + step] += self.value[node].sum(axis=1)
        return score

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.raw_score(X)))

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_baseline": np.array([self.baseline]), f"{prefix}_roots": self.roots,
                f"{prefix}_value": self.value, f"{prefix}_feature": self.feature,
                f"{prefix}_threshold": self.threshold, f"{prefix}_missing_left": self.missing_left,
                f"{prefix}_left": self.left, f"{prefix}_right": self.right, f"{prefix}_is_leaf": self.is_leaf,
                f"{prefix}_features": np.asarray(self.features, np.int64)}

    @classmethod
    def from_arrays(cls, a, prefix: str) -> TreeEnsemble:
        g = lambda k: np.asarray(a[f"{prefix}_{k}"])  # noqa: E731
        return cls(float(g("baseline")[0]), g("roots"), g("value"), g("feature"), g("threshold"),
                   g("missing_left").astype(bool), g("left"), g("right"), g("is_leaf").astype(bool),
                   tuple(int(i) for i in g("features")))


@dataclass(frozen=True)
class BeatClassifier:
    """P(V) and P(S | not V) models over ``BEAT_FEATURES`` (from :mod:`ecgscope.train.beat_classifier`)."""

    v_model: TreeEnsemble
    s_model: TreeEnsemble
    feature_names: tuple[str, ...] = BEAT_FEATURES
    info: str = ""

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n_beats, 3) probabilities of N, S, V."""
        X = np.asarray(X, dtype=np.float64)
        if X.shape[0] == 0:
            return np.zeros((0, 3))
        pv = self.v_model.predict_proba(X)
        ps = self.s_model.predict_proba(X)
        return np.stack([(1 - pv) * (1 - ps), (1 - pv) * ps, pv], axis=1)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, feature_names=np.asarray(self.feature_names), info=np.asarray(self.info),
                            **self.v_model.arrays("v"), **self.s_model.arrays("s"))

    @classmethod
    def load(cls, path: str | Path) -> BeatClassifier:
        with np.load(path, allow_pickle=False) as a:
            names = tuple(str(s) for s in a["feature_names"])
            if names != BEAT_FEATURES:
                raise ValueError(f"beat-classifier weights {path} were made for other features: retrain them "
                                 "(python -m ecgscope.train.beat_classifier)")
            return cls(TreeEnsemble.from_arrays(a, "v"), TreeEnsemble.from_arrays(a, "s"), names, str(a["info"]))


@cache
def _shipped() -> BeatClassifier:
    return BeatClassifier.load(WEIGHTS_FILE)


def load_beat_classifier(path: str | Path | None = None) -> BeatClassifier:
    """The shipped beat classifier (or the weights file at ``path``)."""
    return _shipped() if path is None else BeatClassifier.load(path)


@dataclass
class BeatClasses:
    """Per beat: R-peak sample, class (``BEAT_CLASSES``) and the three probabilities."""

    peaks: np.ndarray
    classes: np.ndarray  # '<U1'
    probabilities: np.ndarray  # (n, 3) N, S, V

    def counts(self) -> dict[str, int]:
        return {c: int((self.classes == c).sum()) for c in BEAT_CLASSES}

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "peaks": self.peaks.tolist(), "classes": self.classes.tolist()}


def classify_features(features: np.ndarray, classifier: BeatClassifier | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Classes and probabilities of beats from their :func:`~ecgscope.signal.beat_features.beat_features`."""
    proba = (classifier or load_beat_classifier()).predict_proba(features)
    classes = np.asarray(BEAT_CLASSES)[proba.argmax(axis=1)] if len(proba) else np.zeros(0, "<U1")
    return classes.astype("<U1"), proba


def ecg_beat_classes(signal: Record | np.ndarray, fs: float | None = None, *, peaks: np.ndarray | None = None,
                     classifier: BeatClassifier | None = None) -> BeatClasses:
    """AAMI class (N, S or V) of every beat of a record held in memory (module docstring).

    Parameters
    ----------
    signal : Record or array (n_leads, n_samples) / (n_samples,) in mV
    fs : float
        Required for an array, ignored for a Record.
    peaks : int array, optional
        R-peak samples (default: :func:`~ecgscope.signal.peaks.ecg_peaks`).
    classifier : BeatClassifier, optional
        Default: the shipped one.

    Returns
    -------
    BeatClasses

    Examples
    --------
    >>> import neurokit2 as nk
    >>> x = nk.ecg_simulate(duration=60, sampling_rate=360, heart_rate=70, random_state=0)
    >>> res = ecg_beat_classes(x, 360)
    >>> res.counts()["V"]
    0
    """
    p = ecg_peaks(signal, fs) if peaks is None else np.asarray(peaks, dtype=np.int64)
    classes, proba = classify_features(beat_features(signal, fs, p), classifier)
    return BeatClasses(p, classes, proba)
