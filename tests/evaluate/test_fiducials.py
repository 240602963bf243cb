"""Beat matching and scoring conventions (bxb-style and per-fiducial)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.evaluate.fiducials import (
    annotated_span,
    gross,
    match_events,
    score_beats,
    score_events,
    score_fiducials,
)


def test_matching_is_one_to_one_and_closest_first():
    ref = np.array([100, 200])
    det = np.array([150, 195])  # 150 is within tolerance of both; 195 is closer to 200
    ri, di = match_events(ref, det, tolerance=60)
    assert ri.tolist() == [0, 1] and di.tolist() == [0, 1]
    ri, di = match_events(np.array([100]), np.array([90, 105, 120]), tolerance=30)
    assert ri.tolist() == [0] and di.tolist() == [1]


def test_matching_respects_tolerance_and_empty_inputs():
    ri, di = match_events(np.array([0, 1000]), np.array([500]), tolerance=100)
    assert ri.size == 0 and di.size == 0
    assert match_events(np.zeros(0), np.array([1]), 5)[0].size == 0
    assert match_events(np.array([1]), np.zeros(0), 5)[0].size == 0


def test_matching_unsorted_detections_map_back_to_input_order():
    ri, di = match_events(np.array([10, 50]), np.array([52, 9]), tolerance=5)
    assert ri.tolist() == [0, 1] and di.tolist() == [1, 0]


def test_score_beats_skips_learning_period_and_counts():
    fs = 360.0
    ref = np.arange(0, 600 * fs, 0.8 * fs).astype(int)
    det = ref + 10
    det = np.concatenate([det[:-5], [int(400 * fs) + 100]])  # 5 missed at the end, 1 extra
    s = score_beats(ref, det, fs)
    n_scored = int((ref >= 300 * fs).sum())
    assert (s.tp, s.fn, s.fp) == (n_scored - 5, 5, 1)
    assert s.sensitivity == pytest.approx((n_scored - 5) / n_scored)
    assert s.mean_error_ms == pytest.approx(10 * 1000 / fs)
    whole = score_beats(ref, det, fs, skip_s=0)
    assert whole.tp == len(ref) - 5


def test_gross_sums_counts_before_dividing():
    a = score_events(np.array([1, 100]), np.array([1, 100]), fs=100)
    b = score_events(np.array([1, 100, 200, 300]), np.array([1]), fs=100)
    g = gross([a, b])
    assert (g.tp, g.fn, g.fp) == (3, 3, 0)
    assert g.sensitivity == pytest.approx(0.5)  # not the mean of 1.0 and 0.25
    assert g.f1 == pytest.approx(2 * 3 / (2 * 3 + 3))


def test_fiducial_scoring_ignores_unmatched_detections_outside_annotated_span():
    ref = {"qrs_on": np.array([1000, 1400, 1800]), "qrs_off": np.array([1040, 1440, 1840]), "p_on": np.array([-1])}
    det = {"qrs_on": np.array([200, 995, 1398, 1805, 2600]), "qrs_off": np.array([1045, 1440]), "p_on": np.array([1300])}
    assert annotated_span(ref) == (1000, 1840)
    s = score_fiducials(ref, det, fs=500)
    # 200 and 2600 are outside the span and unmatched; 995 is outside but matches 1000
    assert (s["qrs_on"].tp, s["qrs_on"].fn, s["qrs_on"].fp) == (3, 0, 0)
    assert (s["qrs_off"].tp, s["qrs_off"].fn) == (2, 1)
    assert s["p_on"].fp == 1 and s["p_on"].n_reference == 0  # P found where none was annotated
    assert s["qrs_on"].mean_error_ms == pytest.approx((-5 - 2 + 5) * 2 / 3)
    whole = score_fiducials(ref, det, fs=500, span=None)
    assert whole["qrs_on"].fp == 2
