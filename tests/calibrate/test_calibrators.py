"""Calibrators, thresholds and plausibility rules."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, f1_score

from ecgscope.calibrate import (
    CALIBRATION_METHODS,
    PlausibilityRules,
    ThresholdSelector,
    calibrator_from_dict,
    make_calibrator,
)
from ecgscope.calibrate._base import logit, sigmoid
from ecgscope.evaluate.calibration import brier_score, expected_calibration_error, reliability_curve
from ecgscope.labels import LABELS


@pytest.fixture(scope="module")
def miscalibrated():
    """Validation and test sets whose scores are over-confident (x3 in logit) on 3 labels, with NaNs."""
    rng = np.random.default_rng(7)

    def make(n):
        q = rng.uniform(0.02, 0.98, (n, 3))
        y = (rng.random(q.shape) < q).astype(float)
        y[rng.random(q.shape) < 0.1] = np.nan
        return sigmoid(3 * logit(q)), y

    return make(3000), make(3000)


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
def test_each_calibrator_reduces_ece_and_round_trips(method, miscalibrated):
    (pv, yv), (pt, yt) = miscalibrated
    cal = make_calibrator(method).fit(pv, yv)
    before, after = expected_calibration_error(yt, pt), expected_calibration_error(yt, cal.predict_proba(pt))
    assert after < before / 2 and after < 0.04, (before, after)
    again = calibrator_from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_array_equal(again.predict_proba(pt), cal.predict_proba(pt))


def test_calibrators_refuse_bad_input(miscalibrated):
    (pv, yv), _ = miscalibrated
    with pytest.raises(RuntimeError, match="not fitted"):
        make_calibrator("platt").predict_proba(pv)
    with pytest.raises(ValueError, match="within \\[0, 1\\]"):
        make_calibrator("temperature").fit(pv * 2, yv)
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        make_calibrator("isotonic").fit(pv, yv * 2)
    with pytest.raises(ValueError, match="valid methods: temperature, temperature-per-label, platt, isotonic"):
        make_calibrator("beta")


def test_single_class_label_keeps_identity():
    p = np.random.default_rng(0).random((50, 2))
    y = np.zeros((50, 2))
    y[:20, 0] = 1
    for method in ("platt", "isotonic", "temperature-per-label"):
        out = make_calibrator(method).fit(p, y).predict_proba(p)
        np.testing.assert_allclose(out[:, 1], np.clip(p[:, 1], 1e-3, 1 - 1e-3), atol=1e-6)


def test_f1_threshold_is_optimal_and_sensitivity_target_met():
    rng = np.random.default_rng(3)
    y = (rng.random((400, 4)) < [0.05, 0.2, 0.5, 0.3]).astype(float)
    p = np.clip(y * 0.4 + rng.random(y.shape) * 0.6, 0, 1).round(3)
    sel = ThresholdSelector("f1").fit(p, y)
    for j in range(4):
        best = max(f1_score(y[:, j], p[:, j] >= t) for t in np.unique(p[:, j]))
        assert f1_score(y[:, j], p[:, j] >= sel.thresholds_[j]) == pytest.approx(best)
    sens = ThresholdSelector("sensitivity", target_sensitivity=0.95).fit(p, y)
    for j in range(4):
        pred = p[:, j] >= sens.thresholds_[j]
        assert pred[y[:, j] == 1].mean() >= 0.95
    y[:, 3] = np.nan
    assert ThresholdSelector(default=0.42).fit(p, y).thresholds_[3] == 0.42
    with pytest.raises(ValueError, match="valid: f1, sensitivity"):
        ThresholdSelector("youden")


def test_calibration_metrics():
    y = np.array([0, 0, 1, 1, 1, np.nan])
    p = np.array([0.1, 0.2, 0.7, 0.8, 0.9, 0.5])
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y[:5], p[:5]))
    # 15 bins: each prediction in its own bin -> ECE = mean |p - y|
    assert expected_calibration_error(y, p) == pytest.approx(np.mean(np.abs(p[:5] - y[:5])))
    curve = reliability_curve(y, p)
    assert curve["count"].sum() == 5


@pytest.fixture(scope="module")
def ptbxl_rules(data_dir):
    from ecgscope.datasets import open_dataset, split_indices

    ds = open_dataset("ptbxl100", data_dir)
    train = split_indices(ds.index)["train"]
    return PlausibilityRules().fit(ds.labels.to_numpy()[train])


def _probs(**named):
    p = np.full(len(LABELS), 0.05)
    for name, v in named.items():
        p[LABELS.index(name.replace("_", " "))] = v
    return p


def test_rules_learned_from_ptbxl_training_labels(ptbxl_rules):
    rules = {(r.kind, r.a, r.b): r for r in ptbxl_rules.rules_}
    assert rules[("exclusive", "Atrial fibrillation", "Sinus rhythm")].source == "clinical+data"
    assert rules[("implies", "1st degree atrioventricular block", "Atrioventricular block")].source == "clinical+data"
    assert rules[("exclusive", "Sinus rhythm", "Electronic pacemaker")].source == "data"
    # AF and flutter co-occur in PTB-XL's training folds: the "rarely together" rule stays inactive
    assert not rules[("rarely_together", "Atrial fibrillation", "Atrial flutter")].active
    for r in ptbxl_rules.rules_:
        if r.source == "data" and r.kind == "exclusive":
            assert r.evidence["n_both"] == 0 and np.exp(-r.evidence["expected_both"]) < 0.001


def test_rules_apply(ptbxl_rules):
    thr = np.full(len(LABELS), 0.5)
    out = ptbxl_rules.apply(_probs(Atrial_fibrillation=0.9, Sinus_rhythm=0.6), thr)
    assert not out.positive[LABELS.index("Sinus rhythm")] and out.positive[LABELS.index("Atrial fibrillation")]
    assert out.suppressed == [{"name": "Sinus rhythm", "reason": out.suppressed[0]["reason"]}]
    assert "mutually exclusive" in out.suppressed[0]["reason"] and "0.90 vs 0.60" in out.suppressed[0]["reason"]
    out = ptbxl_rules.apply(_probs(**{"1st degree atrioventricular block": 0.8, "Sinus rhythm": 0.9}), thr)
    avb = LABELS.index("Atrioventricular block")
    assert out.positive[avb] and out.probabilities[avb] == pytest.approx(0.8)
    assert out.adjustments[0]["name"] == "Atrioventricular block"
    out = ptbxl_rules.apply(_probs(Bradycardia=0.7, Tachycardia=0.55, Sinus_rhythm=0.9), thr)
    assert [s["name"] for s in out.suppressed] == ["Tachycardia"]
    out = ptbxl_rules.apply(_probs(Poor_data_quality=0.8, Sinus_rhythm=0.9), thr)
    assert out.unreliable and out.positive[LABELS.index("Sinus rhythm")]  # flagged, not hidden


def test_rules_round_trip(ptbxl_rules):
    again = PlausibilityRules.from_dict(json.loads(json.dumps(ptbxl_rules.to_dict())))
    p = _probs(Atrial_fibrillation=0.7, Sinus_rhythm=0.8, Electronic_pacemaker=0.6)
    a, b = ptbxl_rules.apply(p, np.full(17, 0.5)), again.apply(p, np.full(17, 0.5))
    assert a.suppressed == b.suppressed and (a.positive == b.positive).all()
    with pytest.raises(ValueError, match="unknown label"):
        PlausibilityRules(clinical=(("exclusive", "Sinus rhythm", "Sinus tachy"),))
