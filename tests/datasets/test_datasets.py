"""Datasets on the real data: counts, label maps, subject-aware splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgscope.datasets import (
    DATASETS,
    PatientLeakError,
    assign_group_folds,
    available_datasets,
    check_no_patient_overlap,
    open_dataset,
    split_indices,
)
from ecgscope.datasets.labelmap import CodeRules, load_label_map
from ecgscope.datasets.prepared import prepare
from ecgscope.labels import LABELS, aggregate_windows
from ecgscope.signal.contract import InputContract

EXPECTED = {"ptbxl": 800, "ptbxl100": 2980, "ludb": 160, "mitdb": 23, "cinc2017": 2001, "cpsc2019": 50, "cpsc2021": 18}


def test_every_dataset_is_found(data_dir):
    assert set(available_datasets(data_dir)) == set(DATASETS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_record_counts_and_index_columns(data_dir, name):
    ds = open_dataset(name, data_dir)
    assert ds.index["record_id"].nunique() == EXPECTED[name]
    assert ds.labels.shape == (len(ds), len(LABELS))
    assert set(ds.index["fold"].unique()) <= set(range(1, 11))
    sample = ds[len(ds) // 2]
    assert sample.record.patient_id == ds.index.iloc[len(ds) // 2]["patient_id"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_patient_crosses_train_and_test(data_dir, name):
    ds = open_dataset(name, data_dir)
    parts = split_indices(ds.index)
    pids = ds.index["patient_id"].to_numpy()
    for a in parts:
        for b in parts:
            if a < b:
                assert not set(pids[parts[a]]) & set(pids[parts[b]])
    # and each patient has exactly one fold
    assert (ds.index.groupby("patient_id")["fold"].nunique() == 1).all()


def test_ptbxl_matches_the_documented_counts(data_dir):
    counts = open_dataset("ptbxl100", data_dir).label_counts()["positives"]
    # README of the data: AFIB 197, AFLT 16, PACE 36, WPW 6, SBRAD 93, 1AVB 100, CLBBB 63, CRBBB 52
    assert counts["Atrial fibrillation"] == 197 and counts["Atrial flutter"] == 16
    assert counts["Accessory pathway conduction"] == 6 and counts["Bradycardia"] == 93
    assert counts["1st degree atrioventricular block"] == 100 and counts["Left bundle branch block"] == 63
    assert counts["Right bundle branch block"] == 52 and counts["Electronic pacemaker"] == 36
    assert counts["Atrioventricular block"] == 103  # 1AVB 100 + 2AVB 2 + 3AVB 1
    assert counts["Ventricular tachycardia"] == 0  # no PTB-XL code: stated, not dropped
    ptbxl = open_dataset("ptbxl", data_dir)
    assert ptbxl.index["fold"].value_counts().to_dict() == {k: 80 for k in range(1, 11)}


def test_ptbxl_patients_never_cross_strat_folds(data_dir):
    idx = open_dataset("ptbxl100", data_dir).index
    assert (idx.groupby("patient_id")["fold"].nunique() == 1).all()
    assert idx["patient_id"].nunique() == 2893


def test_cinc2017_classes(data_dir):
    ds = open_dataset("cinc2017", data_dir)
    af = ds.labels["Atrial fibrillation"]
    assert af.sum() == 173 and (ds.index["cinc_class"] == "A").sum() == 173
    assert ds.labels["Poor data quality"].sum() == 75
    assert ds.labels.loc[ds.index["cinc_class"] == "~", "Sinus rhythm"].isna().all()


def test_ludb_annotations(data_dir):
    ds = open_dataset("ludb", data_dir)
    ann = ds.annotations(0)
    assert set(ann) == set(ds[0].record.leads)
    qrs = ann["II"]["QRS"]
    assert qrs.shape[1] == 3 and (qrs[:, 0] < qrs[:, 1]).all() and (qrs[:, 1] < qrs[:, 2]).all()
    total_qrs = sum(len(ds.annotations(i)["II"]["QRS"]) for i in range(10))
    assert 80 < total_qrs < 250


def test_mitdb_window_labels(data_dir):
    ds = open_dataset("mitdb", data_dir)
    lab = ds.labels
    pace_records = set(ds.index.loc[lab["Electronic pacemaker"] == 1, "record_id"])
    assert {"102", "104", "107"} <= pace_records  # the paced records of the 100 series
    assert lab.loc[ds.index["record_id"] == "100", "Premature ventricular contraction"].sum() == 1  # one V beat
    assert lab["Infarction"].isna().all()


def test_cpsc2021_groups_by_patient(data_dir):
    ds = open_dataset("cpsc2021", data_dir)
    assert ds.index["patient_id"].nunique() == 6
    assert ds.labels["Atrial fibrillation"].between(0, 1).all()


def test_code_rules():
    rules = CodeRules(load_label_map("ptbxl"), {"IMI": "MI", "NORM": "NORM"})
    vec = dict(zip(LABELS, rules({"SR", "CRBBB", "LAFB", "IMI"}, {"burst_noise": "V5"}), strict=True))
    assert vec["Bifascicular block"] == 1 and vec["Infarction"] == 1 and vec["Poor data quality"] == 1
    vec = dict(zip(LABELS, rules({"CRBBB"}, {"static_noise": " , I-V1,  ", "extra_beats": "SVES"}), strict=True))
    assert vec["Bifascicular block"] == 0 and vec["Poor data quality"] == 0
    assert vec["Premature ventricular contraction"] == 0
    vec = dict(zip(LABELS, rules(set(), {"static_noise": "alles", "extra_beats": "2VES"}), strict=True))
    assert vec["Poor data quality"] == 1 and vec["Premature ventricular contraction"] == 1


def test_group_folds_keep_groups_whole():
    groups = np.repeat(np.arange(37), np.arange(1, 38) % 5 + 1)
    folds = assign_group_folds(groups, 10, seed=3)
    frame = pd.DataFrame({"g": groups, "f": folds})
    assert (frame.groupby("g")["f"].nunique() == 1).all()
    sizes = frame["f"].value_counts()
    assert sizes.max() - sizes.min() <= 5
    np.testing.assert_array_equal(folds, assign_group_folds(groups, 10, seed=3))


def test_leak_check_names_patients():
    idx = pd.DataFrame({"patient_id": ["a", "b", "a"], "fold": [1, 2, 10]})
    with pytest.raises(PatientLeakError, match=r"1 patient\(s\) in both train and test, e.g. \['a'\]"):
        check_no_patient_overlap(idx, {"train": np.array([0, 1]), "test": np.array([2])})


def test_aggregation_rules():
    p = np.full((3, 17), 0.2)
    p[1, LABELS.index("Premature ventricular contraction")] = 0.9
    p[1, LABELS.index("Atrial fibrillation")] = 0.8
    agg = dict(zip(LABELS, aggregate_windows(p), strict=True))
    assert agg["Premature ventricular contraction"] == pytest.approx(0.9)
    assert agg["Atrial fibrillation"] == pytest.approx(0.4)


def test_prepared_cache_round_trip(data_dir):
    ds = open_dataset("cinc2017", data_dir)
    contract = InputContract(fs=100, window_samples=500, single_lead="I")
    first = prepare(ds, contract, rows=np.arange(12))
    again = prepare(ds, contract, rows=np.arange(12))
    assert len(first) == 12 and first.duplicated
    np.testing.assert_array_equal(first.windows(3), again.windows(3))
    assert first.windows(3).shape[1:] == (12, 500)
    crop = first.crop(0, np.random.default_rng(0))
    assert crop.shape == (12, 500)
