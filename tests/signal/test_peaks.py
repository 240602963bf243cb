"""R-peak detection on real records: accuracy, leads, rates, polarity, pacing, noise, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.datasets import open_dataset
from ecgscope.evaluate.fiducials import score_beats
from ecgscope.io import load_record
from ecgscope.record import Record
from ecgscope.signal import PEAK_METHODS, ecg_peaks
from ecgscope.signal.resample import resample_array


@pytest.fixture(scope="module")
def mitdb(data_dir):
    return open_dataset("mitdb", data_dir)


def _segment(mitdb, rid: str, start_s: float, dur_s: float):
    rec = load_record(str(mitdb.root / rid))
    ann = mitdb.annotations(rid)
    a, b = int(start_s * rec.fs), int((start_s + dur_s) * rec.fs)
    ref = ann.beat_samples[(ann.beat_samples >= a) & (ann.beat_samples < b)] - a
    return rec.replace(signal=rec.signal[:, a:b]), ref


def _se_ppv(ref, det, fs):
    s = score_beats(ref, det, fs, skip_s=0)
    return s.sensitivity, s.ppv


@pytest.mark.parametrize(("rid", "what"), [("100", "normal"), ("107", "paced"), ("119", "bigeminy"),
                                           ("105", "noisy"), ("108", "large P, noise")])
def test_mitdb_segments_both_leads(mitdb, rid, what):
    rec, ref = _segment(mitdb, rid, 300, 120)
    se, ppv = _se_ppv(ref, ecg_peaks(rec), rec.fs)
    floor = 0.97 if what.startswith(("noisy", "large")) else 0.995
    assert se >= floor and ppv >= floor, (rid, what, se, ppv)


def test_inverted_and_single_lead_and_any_rate(mitdb):
    rec, ref = _segment(mitdb, "100", 600, 60)
    x = rec.signal[0]
    base = ecg_peaks(x, rec.fs)
    assert _se_ppv(ref, base, rec.fs) == (1.0, 1.0)
    inv = ecg_peaks(-x, rec.fs)
    assert np.abs(inv[:, None] - base[None, :]).min(axis=1).max() <= int(0.06 * rec.fs)  # same beats
    for fs_new in (50.0, 128.0, 1000.0):
        y = resample_array(x[None], rec.fs, fs_new)[0]
        se, ppv = _se_ppv(np.round(ref * fs_new / rec.fs).astype(int), ecg_peaks(y, fs_new), fs_new)
        assert se >= 0.99 and ppv >= 0.99, fs_new


def test_baseline_wander_and_noise_added_to_real_ecg(mitdb):
    rec, ref = _segment(mitdb, "103", 900, 60)
    t = np.arange(rec.n_samples) / rec.fs
    rng = np.random.default_rng(0)
    x = rec.signal + 1.5 * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0, 0.05, rec.signal.shape)
    se, ppv = _se_ppv(ref, ecg_peaks(x, rec.fs), rec.fs)
    assert se >= 0.99 and ppv >= 0.99


@pytest.mark.parametrize("bpm", [30, 250])
def test_extreme_heart_rates_from_a_real_beat(data_dir, bpm):
    ds = open_dataset("ludb", data_dir)
    rec = ds.load(0)
    ann = ds.annotations(0)["II"]["QRS"]
    r = int(ann[2, 1])
    beat = rec.lead("II")[r - 60: r + 60].astype(np.float64)  # ±120 ms around a real QRS
    beat -= np.linspace(beat[0], beat[-1], beat.size)
    rr = int(rec.fs * 60 / bpm)
    n = int(12 * rec.fs)
    x = np.zeros(n)
    truth = np.arange(rr // 2, n - 60, rr)
    for c in truth:
        x[c - 60: c + 60] += beat
    x += np.random.default_rng(1).normal(0, 0.01, n)
    det = ecg_peaks(x, rec.fs)
    se, ppv = _se_ppv(truth, det, rec.fs)
    assert se == 1.0 and ppv == 1.0, (bpm, len(truth), len(det))


def test_multilead_fusion_survives_a_dead_lead(data_dir):
    ds = open_dataset("ludb", data_dir)
    rec = ds.load(5)
    ref = ds.annotations(5)["II"]["QRS"][:, 1]
    sig = rec.signal.copy()
    sig[:6] = 0.0  # limb leads off
    sig[6:8] += np.random.default_rng(2).normal(0, 0.3, sig[6:8].shape)  # V1-V2 noisy
    det = ecg_peaks(rec.replace(signal=sig))
    ri = (det >= ref.min() - 50) & (det <= ref.max() + 50)
    se, ppv = _se_ppv(ref, det[ri], rec.fs)
    assert se == 1.0 and ppv == 1.0


def test_cpsc2019_noisy_single_lead(data_dir):
    ds = open_dataset("cpsc2019", data_dir)
    tp = fn = fp = 0
    for i in range(0, len(ds), 5):
        s = score_beats(ds.r_peaks(i), ecg_peaks(ds.load(i)), 500.0, skip_s=0, tolerance_s=0.075)
        tp, fn, fp = tp + s.tp, fn + s.fn, fp + s.fp
    assert tp / (tp + fn) >= 0.85 and tp / (tp + fp) >= 0.85


def test_neurokit_method_and_inputs(ptbxl_record):
    a = ecg_peaks(ptbxl_record, method="neurokit")
    b = ecg_peaks(ptbxl_record)
    assert a.dtype == np.int64 and b.dtype == np.int64
    # the same beats (NeuroKit2 also takes a tiny complex 0.2 s before the end)
    assert np.abs(a[:, None] - b[None, :]).min(axis=0).max() <= 0.05 * ptbxl_record.fs
    assert np.array_equal(ecg_peaks(ptbxl_record.signal, ptbxl_record.fs), b)
    assert set(PEAK_METHODS) == {"ecgscope", "neurokit"}


def test_bad_input_gives_empty_or_clear_errors():
    assert ecg_peaks(np.zeros(5000), 500).size == 0
    assert ecg_peaks(np.zeros((2, 100)), 500).size == 0  # 0.2 s: too short to hold a beat
    with pytest.raises(ValueError, match="valid methods: ecgscope, neurokit"):
        ecg_peaks(np.zeros(5000), 500, method="pan")
    with pytest.raises(ValueError, match="fs is required"):
        ecg_peaks(np.zeros(5000))
    flat = Record(np.vstack([np.zeros(1000), np.sin(np.arange(1000) / 20)]), fs=500, leads=["I", "II"])
    assert ecg_peaks(flat, method="neurokit").dtype == np.int64


def test_row_interpolation_is_numpys_interp_exactly():
    """The detector's all-rows interpolation gives np.interp's numbers, inside and outside the knots."""
    from ecgscope.signal.peaks import _interp_rows

    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(1, 2000))
        xp = np.arange(int(rng.integers(1, 30))) * float(rng.integers(1, 200)) if trial % 2 else \
            np.unique(np.sort(rng.uniform(-50, n + 50, int(rng.integers(1, 30)))))
        fp = rng.normal(size=(3, xp.size))
        ref = np.stack([np.interp(np.arange(n, dtype=float), xp, row) for row in fp])
        np.testing.assert_array_equal(_interp_rows(n, xp, fp), ref)
