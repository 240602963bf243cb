"""Label-fraction subsets on real data: subject-aware, nested, stratified, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.benchmark import check_fraction_split, fraction_rows, patient_order, training_subsets
from ecgscope.datasets.splits import PatientLeakError
from ecgscope.tasks import get_task

FRACTIONS = (0.1, 0.3, 1.0)


@pytest.mark.parametrize(("task_name", "seed"), [("ptbxl17", 1), ("ptbxl17", 2), ("cinc2017-af", 1),
                                                  ("ptbxl-super", 3), ("ptbxl-to-cinc2017-af", 1)])
def test_no_patient_in_both_train_and_test_at_any_fraction(data_dir, task_name, seed):
    ds, parts, subsets = training_subsets(task_name, FRACTIONS, seed, data_dir)
    pids = ds.index["patient_id"].astype(str).to_numpy()
    held_out = set(pids[parts["test"]]) | set(pids[parts["val"]])
    assert held_out
    for f in FRACTIONS:
        rows = subsets[f]
        assert len(rows) and not set(pids[rows]) & held_out, f"fraction {f} shares patients with val/test"
        assert np.isin(rows, parts["train"]).all()
        # a patient is in or out of a subset with all of its records
        in_subset = set(pids[rows])
        assert set(np.asarray(parts["train"])[np.isin(pids[parts["train"]], list(in_subset))]) == set(rows)
    # nested, and 100 % is the whole training split
    assert set(subsets[0.1]) <= set(subsets[0.3]) <= set(subsets[1.0])
    assert np.array_equal(subsets[1.0], np.sort(parts["train"]))
    n_patients = len(set(pids[parts["train"]]))
    for f in (0.1, 0.3):
        assert abs(len(set(pids[subsets[f]])) - f * n_patients) <= 1


def test_subsets_are_stratified_and_seeded(data_dir):
    task = get_task("ptbxl17")
    ds, parts, subsets = training_subsets("ptbxl17", FRACTIONS, 1, data_dir)
    y = task.target_matrix(ds)
    full = np.nansum(y[parts["train"]], axis=0)
    part = np.nansum(y[subsets[0.3]], axis=0)
    common = full >= 40  # labels frequent enough for the share to be meaningful
    assert common.sum() >= 6
    share = part[common] / full[common]
    assert np.all(np.abs(share - 0.3) < 0.08), share
    # every label with at least 10 training positives keeps one in the 10 % subset
    assert (np.nansum(y[subsets[0.1]], axis=0)[full >= 10] > 0).all()
    again = training_subsets("ptbxl17", FRACTIONS, 1, data_dir)[2]
    other = training_subsets("ptbxl17", FRACTIONS, 2, data_dir)[2]
    assert all(np.array_equal(subsets[f], again[f]) for f in FRACTIONS)
    assert not np.array_equal(subsets[0.1], other[0.1])


def test_leak_check_fails_on_a_leaking_subset(data_dir):
    ds, parts, subsets = training_subsets("ptbxl17", FRACTIONS, 1, data_dir)
    leaking = {0.1: np.sort(np.r_[subsets[0.1], parts["test"][:3]])}
    with pytest.raises(ValueError, match="outside the training split"):
        check_fraction_split(ds.index, parts, leaking)
    # a training row whose patient also has a test record
    pids = ds.index["patient_id"].astype(str).to_numpy()
    fake = ds.index.copy()
    fake.loc[fake.index[subsets[0.1][0]], "patient_id"] = pids[parts["test"][0]]
    with pytest.raises(PatientLeakError):
        check_fraction_split(fake, parts, {0.1: subsets[0.1]})


def test_patient_order_groups_records_and_rejects_bad_input():
    pids = ["a", "a", "b", "c", "c", "d"]
    y = np.array([[1, 0], [0, 0], [0, 1], [0, 0], [np.nan, 0], [1, 0]], dtype=float)
    order = patient_order(pids, y, seed=0)
    assert sorted(order) == ["a", "b", "c", "d"]
    rows = fraction_rows(np.arange(6) + 100, pids, y, (0.5, 1.0), seed=0)
    kept = {pids[r - 100] for r in rows[0.5]}
    assert len(kept) == 2 and all((np.array(pids)[rows[0.5] - 100] == p).sum() == pids.count(p) for p in kept)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        fraction_rows(np.arange(6), pids, y, (0.0,), seed=0)
    with pytest.raises(ValueError, match="patient ids"):
        patient_order(pids[:3], y, seed=0)
