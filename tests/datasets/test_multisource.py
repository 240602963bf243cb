"""Every labelled source as one dataset: label masks (undefined is unknown, never negative), and the
leave-one-source-out split on the real data (no patient crosses, the held-out source is never trained on)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgscope.datasets import check_no_patient_overlap, open_dataset, split_indices
from ecgscope.datasets.multisource import (
    LABELLED_SOURCES,
    UNUSED_FOLD,
    MultiSourceDataset,
    loso_test_folds,
    open_multisource,
)
from ecgscope.labels import LABELS
from ecgscope.tasks import get_task
from ecgscope.train.losses import masked_bce


@pytest.fixture(scope="module")
def pooled(data_dir) -> MultiSourceDataset:
    return open_multisource(LABELLED_SOURCES, data_dir)


def test_every_labelled_source_is_stacked_with_its_mask(pooled):
    idx = pooled.index
    assert list(idx["source_dataset"].unique()) == list(LABELLED_SOURCES)
    assert len(pooled) == sum(len(s) for s in pooled.sources)
    mask = pooled.label_mask()
    # what each source can and cannot say (DESIGN §3 and the label-map files)
    assert mask.loc["ptbxl100"].all()
    assert mask.loc["cinc2017", "Atrial fibrillation"] and mask.loc["cinc2017", "Poor data quality"]
    assert not mask.loc["cinc2017", "Bradycardia"] and not mask.loc["cinc2017", "Infarction"]
    assert not mask.loc["ludb", "Infarction"] and mask.loc["ludb", "Left bundle branch block"]
    assert mask.loc["mitdb", "Premature ventricular contraction"] and mask.loc["mitdb", "Poor data quality"]
    assert not mask.loc["mitdb", "1st degree atrioventricular block"]
    assert mask.loc["cpsc2021"].sum() == 1 and mask.loc["cpsc2021", "Atrial fibrillation"]


def test_an_undefined_label_is_unknown_on_every_row_and_never_a_negative(pooled):
    mask = pooled.label_mask()
    src = pooled.index["source_dataset"].to_numpy()
    lab = pooled.labels.to_numpy()
    for source in pooled.source_names:
        rows = lab[src == source]
        for j, name in enumerate(LABELS):
            if not mask.loc[source, name]:
                assert np.isnan(rows[:, j]).all(), (source, name)
    # and the loss gives an unknown entry no gradient, whatever the network says there
    cinc = np.flatnonzero(src == "cinc2017")[:8]
    y = torch.tensor(lab[cinc])
    logits = torch.randn(y.shape, requires_grad=True)
    masked_bce(logits, y).backward()
    brady = LABELS.index("Bradycardia")
    assert torch.all(logits.grad[:, brady] == 0)
    assert torch.any(logits.grad[:, LABELS.index("Atrial fibrillation")] != 0)


def test_mitdb_noise_annotations_label_poor_quality(data_dir):
    mit = open_dataset("mitdb", data_dir)
    q = mit.labels["Poor data quality"].to_numpy()
    rid = mit.index["record_id"].to_numpy()
    assert q[rid == "105"].sum() >= 20  # 105 is the database's noisiest record
    assert q[rid == "100"].sum() == 0
    assert not np.isnan(q).any()


@pytest.mark.parametrize("held_out", LABELLED_SOURCES)
def test_loso_split_never_trains_on_the_held_out_source(data_dir, held_out):
    ds = open_multisource(LABELLED_SOURCES, data_dir, held_out=held_out, test_folds=loso_test_folds(held_out))
    parts = split_indices(ds.index)  # raises on a patient in two parts
    src = ds.index["source_dataset"].to_numpy()
    assert set(src[parts["test"]]) == {held_out}
    assert held_out not in set(src[parts["train"]]) | set(src[parts["val"]])
    assert set(src[parts["train"]]) == set(LABELLED_SOURCES) - {held_out}
    # the held-out source's test rows are its own fold 10 (all of it when small); its other rows, and the
    # others' fold 10, unused
    if loso_test_folds(held_out):
        np.testing.assert_array_equal(ds.index["source_fold"].to_numpy()[parts["test"]], 10)
    else:
        assert len(parts["test"]) == (src == held_out).sum()
    unused = ds.index["fold"].to_numpy() == UNUSED_FOLD
    assert np.all((src[unused] == held_out) | (ds.index["source_fold"].to_numpy()[unused] == 10))
    # patient ids carry the source, so the same id in two sources is two patients
    assert ds.index["patient_id"].str.startswith(tuple(f"{s}:" for s in LABELLED_SOURCES)).all()


def test_the_leak_check_sees_patients_across_sources(data_dir):
    ds = open_multisource(("ptbxl100", "ludb"), data_dir)
    idx = ds.index.copy()
    parts = split_indices(idx)
    # a PTB-XL training patient's record moved into the test part must be caught
    leak = {**parts, "test": np.append(parts["test"], parts["train"][0])}
    with pytest.raises(AssertionError, match="patient"):
        check_no_patient_overlap(idx, leak)


def test_rows_load_from_their_own_source(data_dir):
    ds = open_multisource(("ludb", "cinc2017"), data_dir)
    first_cinc = len(ds.sources[0])
    assert ds.load(0).n_leads == 12 and ds.load(0).fs == 500
    rec = ds.load(first_cinc)
    assert rec.n_leads == 1 and rec.fs == 300
    assert rec.patient_id == ds.index.iloc[first_cinc]["patient_id"]


def test_scorable_labels_need_ten_test_positives(data_dir):
    ds = open_multisource(("ptbxl100", "ludb"), data_dir, held_out="ludb", test_folds=None)
    scorable = ds.scorable_labels("ludb")
    counts = ds.positives().loc["ludb"]
    assert "Sinus rhythm" in scorable and "Infarction" not in scorable  # LUDB does not define infarction
    assert all(counts[lab] >= 10 for lab in scorable)


def test_bad_source_lists_are_refused(data_dir):
    ludb = open_dataset("ludb", data_dir)
    with pytest.raises(ValueError, match="appears twice"):
        MultiSourceDataset([ludb, ludb])
    with pytest.raises(ValueError, match="held-out source 'mitdb' is not one of"):
        MultiSourceDataset([ludb], held_out="mitdb")
    with pytest.raises(ValueError, match="at least one source"):
        MultiSourceDataset([])


def test_the_loso_tasks(data_dir):
    task = get_task("loso17-ludb")
    ds = task.open(data_dir)
    parts = task.splits(ds)
    assert len(parts["test"]) == 160  # all of LUDB: its fold 10 alone is too small to score
    pooled = get_task("multi17")
    parts = pooled.splits(pooled.open(data_dir))
    src = pooled.open(data_dir).index["source_dataset"].to_numpy()
    assert set(src[parts["train"]]) == set(src[parts["test"]]) == {"ptbxl100", "ludb"}
