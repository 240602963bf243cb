"""The metric code matches scikit-learn on fixed arrays and handles unscorable labels explicitly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from ecgscope.evaluate.metrics import auroc, average_precision, evaluate_multilabel, f1_at, macro_auroc


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(42)
    y = (rng.random((300, 5)) < [0.05, 0.2, 0.5, 0.01, 0.3]).astype(float)
    y[:, 3] = 0
    y[7, 3] = 1  # a single positive
    scores = np.round(y * 0.6 + rng.random(y.shape) * 0.8, 2)  # rounded: plenty of ties
    return y, scores


def test_auroc_and_ap_match_sklearn(arrays):
    y, s = arrays
    for j in range(y.shape[1]):
        assert auroc(y[:, j], s[:, j]) == pytest.approx(roc_auc_score(y[:, j], s[:, j]), abs=1e-12)
        assert average_precision(y[:, j], s[:, j]) == pytest.approx(
            average_precision_score(y[:, j], s[:, j]), abs=1e-12)
        assert f1_at(y[:, j], s[:, j], 0.5) == pytest.approx(f1_score(y[:, j], s[:, j] >= 0.5), abs=1e-12)


def test_macro_matches_sklearn_over_scorable(arrays):
    y, s = arrays
    y = y.copy()
    y[:, 4] = 0  # no positives: unscorable
    expected = np.mean([roc_auc_score(y[:, j], s[:, j]) for j in range(4)])
    assert macro_auroc(y, s) == pytest.approx(expected)
    rep = evaluate_multilabel(y, s, labels=tuple("abcde"), n_bootstrap=0)
    assert rep.macro["auroc"]["value"] == pytest.approx(expected)
    assert rep.unscorable == [{"label": "e", "reason": "no positives"}]


def test_nan_means_not_assessed(arrays):
    y, s = arrays
    y = y.copy()
    y[:100, 1] = np.nan
    rep = evaluate_multilabel(y, s, labels=tuple("abcde"), n_bootstrap=0)
    m = ~np.isnan(y[:, 1])
    assert rep.per_label.loc["b", "auroc"] == pytest.approx(roc_auc_score(y[m, 1], s[m, 1]))
    assert rep.per_label.loc["b", "n"] == 200
    y[:, 2] = np.nan
    rep = evaluate_multilabel(y, s, labels=tuple("abcde"), n_bootstrap=0)
    assert {"label": "c", "reason": "not assessed by this dataset"} in rep.unscorable


def test_bootstrap_ci_brackets_point_and_is_reproducible(arrays):
    y, s = arrays
    a = evaluate_multilabel(y, s, labels=tuple("abcde"), thresholds=np.full(5, 0.5), n_bootstrap=300, seed=1)
    b = evaluate_multilabel(y, s, labels=tuple("abcde"), thresholds=np.full(5, 0.5), n_bootstrap=300, seed=1)
    assert a.to_dict() == b.to_dict()
    for metric in ("auroc", "auprc", "f1"):
        m = a.macro[metric]
        assert m["lo"] <= m["value"] <= m["hi"] and m["hi"] - m["lo"] < 0.3
    assert a.n_bootstrap == 300
    assert (a.per_label["auroc_lo"] <= a.per_label["auroc_hi"]).all()


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="must both be"):
        evaluate_multilabel(np.zeros((3, 2)), np.zeros((3, 3)), labels=("a", "b"))
