"""The benchmark's tasks on real data: PTB-XL superclasses and rhythms, zero-shot transfer tasks."""

from __future__ import annotations

import numpy as np
import pytest

from ecgscope.datasets import open_dataset
from ecgscope.datasets.splits import check_no_patient_overlap
from ecgscope.labels import LABELS
from ecgscope.tasks import get_task
from ecgscope.tasks.builtin import PTBXL_RHYTHMS, PTBXL_SUPERCLASSES
from ecgscope.tasks.transfer import UNUSED_FOLD, TransferDataset


def test_ptbxl_super_targets_and_split(data_dir):
    task = get_task("ptbxl-super")
    assert task.labels == PTBXL_SUPERCLASSES and task.input == "12-lead 10 s"
    ds = task.open(data_dir)
    y = task.target_matrix(ds)
    assert y.shape == (2980, 5)
    unassessed = np.isnan(y).all(axis=1)
    assert unassessed.sum() == 60  # records without any diagnostic statement: not assessed, not "negative"
    assert np.isnan(y).sum() == 60 * 5
    assert dict(zip(PTBXL_SUPERCLASSES, np.nansum(y, axis=0).astype(int), strict=True)) == {
        "NORM": 1429, "MI": 663, "STTC": 700, "CD": 600, "HYP": 344}
    # the superclass follows scp_statements' diagnostic_class: an IMI record is MI
    k = next(i for i, c in enumerate(ds.index["scp_codes"]) if "IMI" in c)
    assert y[k, PTBXL_SUPERCLASSES.index("MI")] == 1
    parts = task.splits(ds)
    assert [len(parts[p]) for p in ("train", "val", "test")] == [2322, 330, 328]
    assert (np.nansum(y[parts["test"]], axis=0) > 0).all()


def test_ptbxl_rhythm_targets(data_dir):
    task = get_task("ptbxl-rhythm")
    ds = task.open(data_dir)
    y = task.target_matrix(ds)
    assert y.shape == (2980, len(PTBXL_RHYTHMS))
    assert np.isnan(y).all(axis=1).sum() == 120
    counts = dict(zip(PTBXL_RHYTHMS, np.nansum(y, axis=0).astype(int), strict=True))
    assert counts["SR"] == 2277 and counts["AFIB"] == 197 and counts["PSVT"] == 1
    # every rhythm statement of the official table is a label (rare ones become unscorable, not missing)
    stm = ds.scp_statements()
    assert set(PTBXL_RHYTHMS) == set(stm.index[stm["rhythm"] == 1.0])


@pytest.mark.parametrize(("name", "source", "target", "n_test"), [
    ("ptbxl-to-cinc2017-af", "ptbxl100", "cinc2017", 200),
    ("ptbxl-to-cpsc2021-af", "ptbxl100", "cpsc2021", None),
    ("cinc2017-to-ptbxl-af", "cinc2017", "ptbxl100", 328),
])
def test_transfer_tasks_train_on_one_dataset_and_test_on_another(data_dir, name, source, target, n_test):
    task = get_task(name)
    assert task.dataset == source and task.labels == ("Atrial fibrillation",) and task.single_lead
    ds = task.open(data_dir)
    assert isinstance(ds, TransferDataset)
    parts = task.splits(ds)  # raises on a patient in two parts
    origin = ds.index["source_dataset"].to_numpy()
    assert (origin[parts["train"]] == source).all() and (origin[parts["val"]] == source).all()
    assert (origin[parts["test"]] == target).all()
    tgt = open_dataset(target, data_dir)
    assert len(parts["test"]) == (n_test if n_test is not None else len(tgt))
    # the source's own test fold is used by nothing
    src = open_dataset(source, data_dir)
    assert (ds.index["fold"].to_numpy()[: len(src)][src.index["fold"].to_numpy() == 10] == UNUSED_FOLD).all()
    y = task.target_matrix(ds)
    assert np.nansum(y[parts["train"]]) > 0 and np.nansum(y[parts["test"]]) > 0
    assert ds.index["patient_id"].str.startswith((source + ":", target + ":")).all()
    check_no_patient_overlap(ds.index, parts)
    if target == "cinc2017":
        # the same test records as the in-domain cinc2017-af task, so the two are directly comparable
        own = get_task("cinc2017-af")
        own_ds = own.open(data_dir)
        own_test = set(own_ds.index["record_id"].to_numpy()[own.splits(own_ds)["test"]])
        assert set(ds.index["record_id"].to_numpy()[parts["test"]]) == own_test
    rec = ds.load(int(parts["test"][0]))
    assert rec.patient_id.startswith(target + ":")


def test_a_transfer_task_trains_end_to_end(data_dir, tmp_path):
    import torch

    from ecgscope.train import TrainConfig, train

    torch.set_num_threads(1)
    res = train(TrainConfig(model="resnet1d_tiny", strategy="finetune", task="ptbxl-to-cinc2017-af",
                            data_dir=str(data_dir), out_dir=str(tmp_path), epochs=1, limit=48, batch_size=16,
                            progress=False, n_bootstrap=0))
    assert res.predictions["test"].shape == res.targets["test"].shape == (16, 1)  # val/test: max(limit // 4, 16)
    assert np.isfinite(res.predictions["test"]).all()


def test_a_leave_one_source_out_task_trains_end_to_end(data_dir, tmp_path):
    import torch

    from ecgscope.train import TrainConfig, train

    torch.set_num_threads(1)
    res = train(TrainConfig(model="resnet1d_tiny", strategy="finetune", task="loso17-ludb", data_dir=str(data_dir),
                            out_dir=str(tmp_path), epochs=1, limit=48, batch_size=16, progress=False, n_bootstrap=0,
                            augment="devices"))
    assert res.predictions["test"].shape == res.targets["test"].shape == (16, 17)
    assert np.isfinite(res.predictions["test"]).all()
    # LUDB does not define infarction: unknown in every test row, so it is never scored as a negative
    assert np.isnan(res.targets["test"][:, list(LABELS).index("Infarction")]).all()
