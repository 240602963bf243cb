"""HRV on real R peaks: equal to NeuroKit2 on clean rhythm, ectopic intervals excluded as stated."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.datasets import open_dataset
from ecgscope.io import load_record
from ecgscope.signal import ecg_hrv, ecg_peaks


def test_hrv_matches_neurokit_on_sinus_rhythm(data_dir):
    import neurokit2 as nk

    ann = open_dataset("mitdb", data_dir).annotations("100")
    keep = (ann.beat_samples > 6 * 360) & (ann.beat_samples < 185 * 360)  # normal beats only here
    peaks = ann.beat_samples[keep]
    assert set(ann.beat_symbols[keep]) == {"N"}
    h = ecg_hrv(peaks, ann.fs)
    assert h["n_excluded"] == 0
    t = nk.hrv_time(peaks, sampling_rate=360).iloc[0]
    p = nk.hrv_nonlinear(peaks, sampling_rate=360).iloc[0]
    assert h["mean_rr_ms"] == pytest.approx(t["HRV_MeanNN"], abs=0.01)
    assert h["sdnn_ms"] == pytest.approx(t["HRV_SDNN"], abs=0.01)
    assert h["rmssd_ms"] == pytest.approx(t["HRV_RMSSD"], abs=0.01)
    # NeuroKit2 divides by the number of intervals (not differences), and at 360 Hz two differences
    # are exactly 50 ms, which its float rounding counts as > 50: the same count up to those ties
    assert h["pnn50"] == pytest.approx(t["HRV_pNN50"], abs=1.0)
    assert h["sd1_ms"] == pytest.approx(p["HRV_SD1"], abs=0.01)
    assert h["sd2_ms"] == pytest.approx(p["HRV_SD2"], abs=0.01)


def test_ectopic_beats_are_excluded_from_successive_differences(data_dir):
    ds = open_dataset("mitdb", data_dir)
    ann = ds.annotations("119")  # ventricular bigeminy/trigeminy episodes
    keep = ann.beat_samples < 360 * 600
    h = ecg_hrv(ann.beat_samples[keep], ann.fs)
    n_v = int((ann.beat_symbols[keep] == "V").sum())
    assert n_v > 20
    assert h["n_excluded"] >= n_v  # each PVC makes a short and a long interval
    # the RMSSD of the normal intervals stays physiological despite the PVCs
    assert h["rmssd_ms"] < 100
    assert "20%" in h["ectopic_handling"]


def test_hrv_from_detected_peaks_of_a_real_window(data_dir):
    rec = load_record(data_dir / "ptbxl" / "records500" / "00000" / "00002_hr")
    z = rec.signal[1]
    z = (z - z.mean()) / z.std()
    h = ecg_hrv(ecg_peaks(z[:2500], rec.fs), rec.fs)  # 5 s at about 45 bpm: 3 beats
    assert h["n_beats"] == 3 and 40 < h["heart_rate_bpm"] < 50
    assert h["sdnn_ms"] is not None and h["rmssd_ms"] is not None and h["sd1_ms"] is None
    h10 = ecg_hrv(ecg_peaks(z, rec.fs), rec.fs)
    assert h10["n_beats"] == 7 and h10["sd2_ms"] is not None


@pytest.mark.parametrize("peaks", [np.array([], int), np.array([100]), np.array([100, 600])])
def test_too_few_beats_give_none(peaks):
    h = ecg_hrv(peaks, 500)
    assert h["sdnn_ms"] is None and h["rmssd_ms"] is None and h["sd1_ms"] is None
    assert h["n_beats"] == len(peaks)
    assert (h["mean_rr_ms"] is None) == (len(peaks) < 2)
