"""Measurements from real delineations: intervals, QTc formulas, frontal axes against LUDB's labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgscope.datasets import open_dataset
from ecgscope.signal import QTC_FORMULAS, ecg_delineate, ecg_measurements
from ecgscope.signal.measurements import frontal_axis, qtc


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The delineator runs single-threaded (as measured); two xdist workers share two cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

KEYS = {"pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "qtc_formula", "p_axis_deg", "qrs_axis_deg", "t_axis_deg",
        "heart_rate_bpm"}
_LIMB = {"I": (0, 1.0), "II": (60, 1.0), "III": (120, 1.0), "aVR": (-150, np.sqrt(3) / 2),
         "aVL": (-30, np.sqrt(3) / 2), "aVF": (90, np.sqrt(3) / 2)}


def test_qtc_formulas():
    assert qtc(400, 1000, "bazett") == pytest.approx(400)
    assert qtc(360, 640, "bazett") == pytest.approx(450)
    assert qtc(360, 729, "fridericia") == pytest.approx(400)
    assert qtc(380, 800, "framingham") == pytest.approx(380 + 154 * 0.2)
    assert qtc(380, 750, "hodges") == pytest.approx(380 + 1.75 * 20)
    with pytest.raises(ValueError, match="valid formulas"):
        qtc(400, 800, "rautaharju")


@pytest.mark.parametrize("angle", [-120, -30, 0, 45, 60, 90, 150, 180])
def test_frontal_axis_recovers_a_known_vector(angle):
    areas = {n: g * np.cos(np.radians(angle - t)) for n, (t, g) in _LIMB.items()}
    assert frontal_axis(areas) == pytest.approx(angle if angle != -180 else 180, abs=1e-6)
    two = {k: areas[k] for k in ("I", "aVF")}
    assert frontal_axis(two) == pytest.approx(angle, abs=1e-6)
    assert frontal_axis({"II": 1.0}) is None  # one direction is not enough


def test_measurements_of_a_real_record(ptbxl_record):
    d = ecg_delineate(ptbxl_record)
    m = ecg_measurements(ptbxl_record, d)
    assert KEYS <= set(m) and m["qtc_formula"] == "bazett"
    assert 40 < m["heart_rate_bpm"] < 60  # PTB-XL 00002: sinus bradycardia
    assert 100 < m["pr_ms"] < 250 and 60 < m["qrs_ms"] < 140 and 320 < m["qt_ms"] < 500
    assert m["qrs_axis_deg"] is not None and -180 < m["qrs_axis_deg"] <= 180
    for f in QTC_FORMULAS:
        mf = ecg_measurements(ptbxl_record, d, qtc_formula=f)
        assert mf["qtc_formula"] == f and mf["qtc_ms"] == m["qtc_all_ms"][f]
    # bradycardia: Bazett corrects QT down the most
    assert m["qtc_all_ms"]["bazett"] < m["qtc_all_ms"]["fridericia"] < m["qt_ms"]
    with pytest.raises(ValueError, match="valid formulas"):
        ecg_measurements(ptbxl_record, d, qtc_formula="x")


def test_single_lead_has_no_axes_and_af_has_no_pr(ptbxl_record, data_dir):
    lead = ptbxl_record.select_leads(["II"])
    m = ecg_measurements(lead, ecg_delineate(lead))
    assert m["qrs_axis_deg"] is None and m["p_axis_deg"] is None and m["qrs_ms"] is not None
    ludb = open_dataset("ludb", data_dir)
    i = int(np.flatnonzero(ludb.index["rhythm"].str.contains("fibrillation").to_numpy())[0])
    rec = ludb.load(i)
    m = ecg_measurements(rec, ecg_delineate(rec))
    assert m["pr_ms"] is None and m["p_axis_deg"] is None and m["qrs_ms"] is not None


def test_axes_and_intervals_agree_with_ludb_diagnoses(data_dir):
    """QRS axis ordered like LUDB's axis classes; PR longer in 1st-degree AV block (40 records)."""
    ludb = open_dataset("ludb", data_dir)
    meta = pd.read_csv(ludb.root / "ludb.csv").set_index("ID")
    rows = []
    for i in range(0, 160, 4):
        rec = ludb.load(i)
        m = ecg_measurements(rec, ecg_delineate(rec))
        info = meta.loc[int(rec.record_id)]
        rows.append({"axis": str(info["Electric axis of the heart"]).split(": ")[-1],
                     "avb1": "I degree" in str(info["Conduction abnormalities"]),
                     "qrs_axis": m["qrs_axis_deg"], "pr": m["pr_ms"]})
    df = pd.DataFrame(rows)
    by = df.groupby("axis")["qrs_axis"].median()
    assert by["left axis deviation"] < by["normal"] < by["vertical"]
    assert df.loc[df.axis == "normal", "qrs_axis"].between(0, 100).mean() >= 0.8
    assert df.loc[df.avb1, "pr"].min() > df.loc[~df.avb1, "pr"].median()
