"""Tasks as data: registry, targets on the real datasets, splits, and the contract merge."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.labels import LABELS
from ecgscope.models import create_model
from ecgscope.tasks import INPUTS, TASKS, Task, get_task, list_tasks, register_task


def test_shipped_tasks():
    assert {"ptbxl17", "ptbxl17-500", "cinc2017-af", "cinc2017-naos"} <= set(list_tasks())
    assert get_task("ptbxl17").dataset == "ptbxl100" and get_task("ptbxl17").labels == LABELS
    assert get_task("ptbxl17-500").dataset == "ptbxl"
    with pytest.raises(KeyError, match="valid tasks"):
        get_task("nope")
    with pytest.raises(KeyError, match="valid inputs"):
        Task(name="x", dataset="ptbxl", labels=("a",), input="3-lead 7 s")


def test_adding_a_task_is_one_declaration(data_dir):
    task = register_task(Task(name="ptbxl-af-test", dataset="ptbxl100", labels=("Atrial fibrillation",),
                              input="12-lead 10 s"))
    try:
        ds = task.open(data_dir)
        y = task.target_matrix(ds)
        assert y.shape == (2980, 1) and int(np.nansum(y)) == 197
        with pytest.raises(ValueError, match="already registered"):
            register_task(task)
    finally:
        TASKS.pop("ptbxl-af-test")


def test_ptbxl17_targets_and_patient_disjoint_split(data_dir):
    task = get_task("ptbxl17")
    ds = task.open(data_dir)
    y = task.target_matrix(ds)
    assert y.shape == (2980, 17)
    parts = task.splits(ds)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [2322, 330, 328]
    pid = ds.index["patient_id"].to_numpy()
    assert not set(pid[parts["train"]]) & set(pid[parts["val"]])
    assert set(ds.index["fold"].to_numpy()[parts["val"]]) == {9}


def test_cinc2017_label_sets(data_dir):
    ds = get_task("cinc2017-af").open(data_dir)
    af = get_task("cinc2017-af").target_matrix(ds)
    cls = ds.index["cinc_class"].to_numpy(str)
    assert np.isnan(af[cls == "~", 0]).all()  # noisy records: AF not assessed
    assert (af[cls == "A", 0] == 1).all() and (af[cls == "N", 0] == 0).all()
    naos = get_task("cinc2017-naos").target_matrix(ds)
    assert naos.shape == (2001, 4) and (naos.sum(1) == 1).all()
    assert naos.sum(0).tolist() == [1171, 173, 582, 75]


def test_contract_merge_takes_fs_from_the_model_and_window_leads_from_the_task():
    ssm = create_model("ssm_tiny").pretrained_cfg
    c = get_task("ptbxl17").contract_for(ssm.input_contract)
    assert (c.fs, c.window_samples, c.normalization, c.single_lead) == (100.0, 500, "per_lead", None)
    ecgfm = create_model("ecgfm_tiny").pretrained_cfg
    c = get_task("ptbxl17").contract_for(ecgfm.input_contract)
    assert (c.fs, c.window_samples) == (500.0, 2500)
    stmem = create_model("stmem_tiny").pretrained_cfg
    c = get_task("cinc2017-af").contract_for(stmem.input_contract, fixed_window=stmem.fixed_window, lead_alone=True)
    assert (c.fs, c.window_samples, c.single_lead, c.duplicate_single_lead, c.n_channels) == (250.0, 2250, "I", False, 1)
    assert c.bandpass == (0.67, 40.0) and c.normalization == "global"
    c = get_task("cinc2017-af").contract_for(ssm.input_contract)
    assert (c.single_lead, c.duplicate_single_lead, c.n_channels) == ("I", True, 12)
    c = Task(name="t", dataset="ptbxl", labels=LABELS, input="12-lead 10 s").contract_for(ssm.input_contract)
    assert c.window_samples == 1000 and set(INPUTS) >= {"12-lead 10 s", "single-lead 5 s"}
