"""Signal quality on real records with real-looking faults: flags, reasons, windows."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.record import Record
from ecgscope.signal import ecg_quality, lead_quality


@pytest.fixture(scope="module")
def clean(ptbxl_record) -> Record:
    return ptbxl_record


def _with_lead(rec: Record, lead: str, x: np.ndarray) -> Record:
    sig = rec.signal.copy()
    sig[rec.leads.index(lead)] = x
    return rec.replace(signal=sig)


def test_clean_record_is_usable_with_design_keys(clean):
    q = ecg_quality(clean)
    d = q.to_dict()
    assert d["usable"] is True
    assert set(d) >= {"usable", "per_lead", "issues", "windows"}
    assert set(d["per_lead"]) == set(clean.leads)
    assert all(0.0 <= v <= 1.0 for v in d["per_lead"].values())
    assert sum(q.lead_usable(n) for n in clean.leads) >= 11
    assert len(d["windows"]) == 2 and d["windows"][1]["start_s"] == 5.0


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("flat", "flatline"),
        ("clip", "saturation"),
        ("noise", "high-frequency noise"),
        ("wander", "baseline wander"),
        ("off", "lead off"),
        ("motion", "artifact"),
    ],
)
def test_each_fault_is_flagged_with_its_reason(clean, fault, reason):
    x = clean.lead("V2").astype(np.float64)
    t = np.arange(x.size) / clean.fs
    rng = np.random.default_rng(0)
    if fault == "flat":
        y = np.zeros_like(x)
    elif fault == "clip":
        y = np.clip(x, -0.3 * np.abs(x).max(), 0.3 * np.abs(x).max())
    elif fault == "noise":
        y = x + rng.normal(0, 0.5, x.size)
    elif fault == "wander":
        y = x + 3.0 * np.sin(2 * np.pi * 0.2 * t)
    elif fault == "off":
        y = x + np.where(t > 4, 15.0, 0.0)
    else:  # in-band noise as large as the ECG, as electrode motion gives
        from ecgscope.signal.filters import bandpass

        n = bandpass(rng.normal(0, 1, (1, x.size)), clean.fs, 1.0, 15.0)[0]
        y = n * np.ptp(x) / np.ptp(n)
    q = ecg_quality(_with_lead(clean, "V2", y))
    assert reason in q.leads["V2"].issues
    assert f"V2: {reason}" in q.issues
    if reason in ("flatline", "lead off", "high-frequency noise", "artifact"):
        assert not q.lead_usable("V2")
    assert q.lead_usable("II") and q.usable  # one bad lead does not condemn a 12-lead record


def test_noise_in_one_window_flags_that_window_only(clean):
    sig = clean.signal.copy()
    rng = np.random.default_rng(1)
    half = int(5 * clean.fs)
    sig[:, half:] += rng.normal(0, 1.0, sig[:, half:].shape)
    q = ecg_quality(clean.replace(signal=sig))
    assert q.windows[0].usable and not q.windows[1].usable
    assert any("high-frequency noise" in i for i in q.windows[1].issues)
    assert not q.windows[0].issues or all("noise" not in i for i in q.windows[0].issues)


def test_two_seconds_of_noise_is_unusable_not_an_error():
    x = np.random.default_rng(2).normal(0, 1.0, (1, 1000))
    q = ecg_quality(Record(x, fs=500, leads=["II"]))
    assert not q.usable and len(q.windows) == 1
    assert any("record unusable" in i for i in q.issues)


def test_windows_follow_classification_convention(clean):
    rec12 = clean.replace(signal=np.tile(clean.signal, 2)[:, : int(12 * clean.fs)])
    assert [w.start_s for w in ecg_quality(rec12).windows] == [0.0, 5.0]  # last partial window dropped
    rec3 = clean.replace(signal=clean.signal[:, : int(3 * clean.fs)])
    assert len(ecg_quality(rec3).windows) == 1


def test_lead_quality_keeps_its_interface(clean):
    lq = lead_quality(clean)
    assert set(lq) == set(clean.leads)
    assert lq["II"].to_dict()["usable"] is True
