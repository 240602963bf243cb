"""The record head: whole-record measurements blended into a network's logits."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ecgscope.inference.package import RECORD_HEAD_FILE, load_package
from ecgscope.inference.record_head import RECORD_FEATURES, RecordHead, record_features
from ecgscope.io import load_record
from ecgscope.signal import ecg_delineate, ecg_quality

LABELS = ("informative", "rare", "noise")


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(RECORD_FEATURES)))
    y = np.zeros((n, 3))
    y[:, 0] = X[:, 0] + 0.5 * rng.normal(size=n) > 0.8
    y[:3, 1] = 1  # three positives: too few for a label model
    y[:, 2] = rng.random(n) < 0.3
    y[5:9, 2] = np.nan  # not assessed
    net = np.clip(0.5 + 0.1 * rng.normal(size=(n, 3)), 0.01, 0.99)  # an uninformative network
    return X, y, net


def test_labels_without_enough_positives_keep_the_network_and_alpha_zero_is_the_network():
    X, y, net = _data()
    head = RecordHead(LABELS).fit(X, y)
    assert head.models_[0] is not None and head.models_[1] is None and head.models_[2] is not None
    np.testing.assert_allclose(head.blend(net, X, 0.0), net, atol=1e-12)
    np.testing.assert_allclose(head.blend(net, X, 0.4)[:, 1], net[:, 1], atol=1e-12)


def test_alpha_is_chosen_by_validation_auroc_and_the_head_round_trips():
    X, y, net = _data()
    head = RecordHead(LABELS).fit(X, y)
    Xv, yv, nv = _data(seed=1)
    scores = head.choose_alpha(nv, Xv, yv)
    assert head.alpha_ == 0.5 and scores["0.5"] > scores["0.0"] + 0.1  # the features carry label 0, the net nothing
    back = RecordHead.from_dict(json.loads(json.dumps(head.to_dict())))
    np.testing.assert_array_equal(back.blend(nv, Xv), head.blend(nv, Xv))
    with pytest.raises(ValueError, match="other record features"):
        RecordHead.from_dict({**head.to_dict(), "features": ["x"]})


def test_packaging_fits_on_train_chooses_alpha_on_val_and_blends_both_splits():
    """calibrate --record-head's step: the head from the training rows, its weight from the validation rows."""
    from ecgscope.inference.build import _fit_record_head

    splits = [_data(seed=s) for s in (0, 1, 2)]
    parts = {k: np.arange(400) + 400 * i for i, k in enumerate(("train", "val", "test"))}
    y = np.concatenate([d[1] for d in splits])
    features = {k: d[0] for k, d in zip(parts, splits, strict=True)}
    head, report, p_val, p_test = _fit_record_head(features, parts, y, LABELS, splits[1][2], splits[2][2])
    expected = RecordHead(LABELS).fit(features["train"], y[parts["train"]])
    expected.choose_alpha(splits[1][2], features["val"], y[parts["val"]])
    assert report["alpha"] == head.alpha_ == expected.alpha_ == 0.5
    assert report["labels_with_head"] == ["informative", "noise"]
    np.testing.assert_array_equal(p_val, expected.blend(splits[1][2], features["val"]))
    np.testing.assert_array_equal(p_test, expected.blend(splits[2][2], features["test"]))


def test_record_features_of_a_real_record(data_dir):
    rec = load_record(data_dir / "ptbxl/records500/00000/00002_hr")  # sinus bradycardia, ~47 bpm
    q = ecg_quality(rec, windows=False)
    f = record_features(rec, ecg_delineate(rec, quality=q), q)
    assert tuple(f) == RECORD_FEATURES
    assert 40 < f["heart_rate_bpm"] < 55 and 100 < f["pr_ms"] < 260 and f["p_wave_share"] > 0.8
    assert 0 < f["quality_min"] <= f["quality_mean"] <= 1 and f["quality_usable"] == 1.0


@pytest.mark.parametrize("name", ["ecgscope-17-12lead", "ecgscope-17-1lead"])
def test_a_package_with_a_head_blends_it_everywhere_and_its_hash_covers_it(data_dir, tmp_path, name):
    """The shipped network with a head fitted on ~150 PTB-XL training records (in place of its own head, if it
    ships one): analyze, analyze_many and classify_many agree, the head moves the probabilities, and
    record_head.json is part of the package hash."""
    from ecgscope.inference import Analyzer
    from ecgscope.inference.rhythm_model import feature_matrix
    from ecgscope.tasks import get_task

    task = get_task("ptbxl17")
    ds = task.open(data_dir)
    y = task.target_matrix(ds)
    rows = task.splits(ds)["train"][::16]  # ~150 records: enough positives for a few label models
    pkg = load_package(name)
    copy = tmp_path / "pkg"
    shutil.copytree(pkg.path, copy, ignore=shutil.ignore_patterns("model.onnx", RECORD_HEAD_FILE))
    plain = Analyzer(copy)
    x = feature_matrix([plain.head_features(ds.load(int(r))) for r in rows], RECORD_FEATURES)
    head = RecordHead(task.labels).fit(x, y[rows])
    head.alpha_ = 0.3
    (copy / RECORD_HEAD_FILE).write_text(json.dumps(head.to_dict()))
    assert load_package(copy).sha256 != load_package(pkg.path).sha256
    an = Analyzer(copy)
    assert an.head is not None and plain.head is None
    recs = [load_record(data_dir / p) for p in ("ptbxl/records500/00000/00002_hr", "ptbxl/records100/00000/00009_lr")]
    batch = an.classify_many(recs)
    single = np.array([[lab["probability"] for lab in an.analyze(r).to_dict()["classification"]["labels"]]
                       for r in recs])
    np.testing.assert_allclose(batch, single, atol=1e-4)
    many = an.analyze_many(recs)
    np.testing.assert_allclose([[lab["probability"] for lab in m.to_dict()["classification"]["labels"]] for m in many],
                               single, atol=1e-4)
    assert np.abs(batch - plain.classify_many(recs)).max() > 1e-3  # the head is used
