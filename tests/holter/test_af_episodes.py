"""AF episodes and the CPSC 2021 score, on the real CPSC 2021 sample records."""

from __future__ import annotations

import pytest

from ecgscope.evaluate.cpsc2021 import Cpsc2021Reference, predicted_class, record_score
from ecgscope.holter.af import episodes, window_probabilities
from ecgscope.inference import Analyzer
from ecgscope.io import load_record
from ecgscope.signal.peaks import ecg_peaks


@pytest.fixture(scope="module")
def root(data_dir):
    return data_dir / "cpsc2021_sample"


def test_the_truth_scores_the_challenges_maximum_and_nothing_scores_less(root):
    par = Cpsc2021Reference.read(str(root / "data_101_6"))  # 4 paroxysmal episodes
    truth = par.episodes()
    assert len(truth) == 4 and record_score(par, truth)["score"] == 1 + 2 * 4
    assert record_score(par, [])["score"] == -1  # R[paroxysmal, non-AF]
    late = [(s + 2000, e + 2000) for s, e in truth]  # ten seconds late: class right, endpoints wrong
    assert record_score(par, late)["ur"] == 1 and record_score(par, late)["ue"] < 2
    per = Cpsc2021Reference.read(str(root / "data_84_2"))
    assert record_score(per, [(0, per.n_samples - 1)])["score"] == 3
    assert record_score(per, [])["score"] == -2
    non = Cpsc2021Reference.read(str(root / "data_21_7"))
    assert record_score(non, [])["score"] == 1 and record_score(non, [(0, 999)])["score"] == -0.5
    assert predicted_class([(0, 9)], 10) == 1 and predicted_class([(0, 5)], 10) == 2


@pytest.mark.parametrize("rid, expected", [("data_84_2", "persistent AF"), ("data_21_8", "non-AF"),
                                           ("data_92_19", "paroxysmal AF")])
def test_episodes_from_the_shipped_detector(root, rid, expected):
    detector = Analyzer.from_pretrained("ecgscope-af-1lead")
    rec = load_record(root / f"{rid}.hea")
    x = rec.signal[rec.leads.index("I")].astype(float)
    window = int(30 * rec.fs)
    probs = window_probabilities(detector, x, rec.fs, window)
    found = episodes(ecg_peaks(rec.select_leads(["I"])), probs, float(detector.thresholds[0]), window,
                     rec.n_samples, rec.fs)
    result = record_score(Cpsc2021Reference.read(str(root / rid)), found)
    assert result["predicted_class"] == expected
    assert all(0 <= s < e < rec.n_samples for s, e in found)
    if expected == "paroxysmal AF":
        assert result["burden_error"] < 0.05
