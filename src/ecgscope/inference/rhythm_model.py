"""Record-level rhythm models: a classifier over :func:`~ecgscope.signal.rhythm_features.ecg_rhythm_features`.

A model package whose ``meta.json`` says ``"model_kind": "rhythm-features"`` holds ``model.json`` (this
estimator's state) instead of a network.  The Analyzer delineates the whole record, computes the rhythm
statistics and turns them into one logit per label; calibration, thresholds and the result JSON are the
same as for the networks.  Why a record-level model for AF: see the feature module's docstring and
``docs/models.md``.

:class:`RhythmLogistic` is a scikit-learn style estimator (``fit`` / ``decision_function`` /
``predict_proba``, learned state ending in ``_``) whose prediction needs NumPy only, so a shipped model
is a small JSON file rather than a pickle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.calibrate._base import sigmoid
from ecgscope.signal.rhythm_features import RHYTHM_FEATURES

RHYTHM_MODEL_KIND = "rhythm-features"
RHYTHM_MODEL_FILE = "model.json"


class RhythmLogistic:
    """L2-regularised logistic regression on standardised rhythm statistics, one label.

    Missing statistics (NaN: too few beats for one of them) are replaced by their training median.

    Parameters
    ----------
    C : float
        Inverse regularisation strength (scikit-learn's ``C``).
    class_weight : {"balanced", None}
        ``"balanced"`` weighs the classes inversely to their frequency (AF is ~10 % of strips).
    features : tuple of str
        Names of the columns of ``X`` (default :data:`RHYTHM_FEATURES`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = (X[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(int)
    >>> m = RhythmLogistic(features=("a", "b", "c")).fit(X, y)
    >>> bool(m.predict_proba(X[:1]).shape == (1,)), bool(m.coef_[0] > 1)
    (True, True)
    """

    def __init__(self, C: float = 1.0, class_weight: str | None = "balanced",
                 features: tuple[str, ...] = RHYTHM_FEATURES):
        self.C = C
        self.class_weight = class_weight
        self.features = tuple(features)

    def _check(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"X must be (n_records, {len(self.features)}) rhythm statistics; got shape {X.shape}")
        return X

    def fit(self, X: np.ndarray, y: np.ndarray) -> RhythmLogistic:
        from sklearn.linear_model import LogisticRegression

        X = self._check(X)
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (len(X),) or np.isnan(y).any() or not set(np.unique(y)) <= {0.0, 1.0}:
            raise ValueError("y must be one 0/1 label per row of X (drop records that were not assessed)")
        if len(np.unique(y)) < 2:
            raise ValueError("y needs both classes to fit a classifier")
        seen = ~np.isnan(X).all(axis=0)  # a statistic missing everywhere (axes from one lead) is filled with 0
        self.fill_ = np.zeros(X.shape[1])
        self.fill_[seen] = np.nanmedian(X[:, seen], axis=0)
        Z = np.where(np.isnan(X), self.fill_, X)
        self.mean_ = Z.mean(axis=0)
        self.scale_ = np.where(Z.std(axis=0) > 1e-12, Z.std(axis=0), 1.0)
        clf = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=5000)
        clf.fit((Z - self.mean_) / self.scale_, y)
        self.coef_ = clf.coef_[0].astype(np.float64)
        self.intercept_ = float(clf.intercept_[0])
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """(n_records,) logits."""
        X = self._check(X)
        Z = np.where(np.isnan(X), self.fill_, X)
        return ((Z - self.mean_) / self.scale_) @ self.coef_ + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n_records,) probabilities of the positive class (uncalibrated: the package's calibrator follows)."""
        return sigmoid(self.decision_function(X))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": RHYTHM_MODEL_KIND, "estimator": "logistic", "features": list(self.features), "C": self.C,
                "class_weight": self.class_weight, "fill": self.fill_.tolist(), "mean": self.mean_.tolist(),
                "scale": self.scale_.tolist(), "coef": self.coef_.tolist(), "intercept": self.intercept_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RhythmLogistic:
        if d.get("kind") != RHYTHM_MODEL_KIND or d.get("estimator") != "logistic":
            raise ValueError(f"not a rhythm logistic model: kind={d.get('kind')!r}, estimator={d.get('estimator')!r}")
        m = cls(C=d["C"], class_weight=d["class_weight"], features=tuple(d["features"]))
        m.fill_, m.mean_, m.scale_, m.coef_ = (np.asarray(d[k], dtype=np.float64)
                                               for k in ("fill", "mean", "scale", "coef"))
        m.intercept_ = float(d["intercept"])
        if not (m.fill_.shape == m.mean_.shape == m.scale_.shape == m.coef_.shape == (len(m.features),)):
            raise ValueError("rhythm model arrays do not match its feature list")
        return m


class RhythmBackend:
    """Runs a package's ``model.json``: rhythm statistics (dicts) -> (n_records, 1) logits."""

    name = "rhythm"

    def __init__(self, model_json: str | os.PathLike):
        self.model = RhythmLogistic.from_dict(json.loads(Path(model_json).read_text()))
        unknown = set(self.model.features) - set(RHYTHM_FEATURES)
        if unknown:
            raise ValueError(f"rhythm model uses statistics ecgscope does not compute: {sorted(unknown)}")

    def logits(self, features: list[dict[str, float]]) -> np.ndarray:
        return self.model.decision_function(feature_matrix(features, self.model.features))[:, None]


def feature_matrix(features: list[dict[str, float]], names: tuple[str, ...]) -> np.ndarray:
    """(n_records, len(names)) from per-record feature dicts."""
    return np.array([[f[k] for k in names] for f in features], dtype=np.float64).reshape(len(features), len(names))
