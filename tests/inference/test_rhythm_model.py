"""The record-level AF model: its estimator, its package, and the Analyzer path on real CinC 2017 strips."""

from __future__ import annotations

import json
import shutil

import jsonschema
import numpy as np
import pytest

from ecgscope.errors import ContractError, RecordFormatError
from ecgscope.inference import load_json_schema
from ecgscope.inference.package import load_package
from ecgscope.inference.rhythm_model import RhythmBackend, RhythmLogistic
from ecgscope.record import Record

AF = "ecgscope-af-1lead"


def _toy(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1, 10, 0.1, 3] + [0, 5, 1, -2]
    y = (X[:, 0] - 0.1 * X[:, 1] + 0.3 * rng.normal(size=n) > -0.5).astype(float)
    return X, y


def test_logistic_matches_scikit_learn_on_standardised_features():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _toy()
    mine = RhythmLogistic(C=0.5, features=tuple("abcd")).fit(X, y)
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, class_weight="balanced", max_iter=5000)).fit(X, y)
    np.testing.assert_allclose(mine.predict_proba(X), ref.predict_proba(X)[:, 1], atol=1e-6)


def test_round_trip_and_missing_statistics_take_the_training_median():
    X, y = _toy()
    m = RhythmLogistic(features=tuple("abcd")).fit(X, y)
    back = RhythmLogistic.from_dict(json.loads(json.dumps(m.to_dict())))
    np.testing.assert_array_equal(back.decision_function(X), m.decision_function(X))
    row = X[:1].copy()
    row[0, 2] = np.nan
    filled = row.copy()
    filled[0, 2] = np.median(X[:, 2])
    assert m.decision_function(row)[0] == pytest.approx(m.decision_function(filled)[0])


def test_bad_inputs_are_named(tmp_path):
    X, y = _toy()
    with pytest.raises(ValueError, match=r"\(n_records, 4\)"):
        RhythmLogistic(features=tuple("abcd")).fit(X[:, :3], y)
    with pytest.raises(ValueError, match="both classes"):
        RhythmLogistic(features=tuple("abcd")).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="one 0/1 label"):
        RhythmLogistic(features=tuple("abcd")).fit(X, np.full(len(X), np.nan))
    d = RhythmLogistic(features=tuple("abcd")).fit(X, y).to_dict()
    (tmp_path / "model.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="does not compute"):
        RhythmBackend(tmp_path / "model.json")  # "a".."d" are not ecgscope's rhythm statistics
    with pytest.raises(ValueError, match="not a rhythm logistic model"):
        RhythmLogistic.from_dict({**d, "kind": "network"})


def test_the_shipped_package_is_a_rhythm_model_whose_hash_covers_model_json(tmp_path):
    pkg = load_package(AF)
    assert pkg.model_kind == "rhythm-features" and pkg.labels == ("Atrial fibrillation",)
    assert isinstance(RhythmBackend(pkg.path / "model.json").model, RhythmLogistic)
    copy = tmp_path / "pkg"
    shutil.copytree(pkg.path, copy)
    model = json.loads((copy / "model.json").read_text())
    model["intercept"] += 0.5
    (copy / "model.json").write_text(json.dumps(model))
    assert load_package(copy).sha256 != pkg.sha256
    (copy / "model.json").unlink()
    with pytest.raises(RecordFormatError, match="lacks model.json"):
        load_package(copy)
    meta = json.loads((copy / "meta.json").read_text())
    (copy / "meta.json").write_text(json.dumps({**meta, "model_kind": "forest"}))
    with pytest.raises(RecordFormatError, match="unknown model_kind 'forest'"):
        load_package(copy)


@pytest.fixture(scope="module")
def cinc(data_dir):
    from ecgscope.datasets import open_dataset

    ds = open_dataset("cinc2017", data_dir)
    cls = ds.index["cinc_class"].to_numpy(str)
    return ds, {c: np.flatnonzero(cls == c)[:8] for c in ("N", "A")}


def test_af_strips_score_above_normal_strips_and_results_are_valid(analyzers, cinc):
    ds, rows = cinc
    an = analyzers(AF)
    validator = jsonschema.Draft202012Validator(load_json_schema())
    probs = {}
    for c, idx in rows.items():
        out = []
        for i in idx:
            d = an.analyze(ds.load(int(i))).to_dict()
            assert not list(validator.iter_errors(d))
            assert d["classification"]["windows"] == [] and d["input"]["single_lead"]
            assert d["delineation"]["beats"] and d["rhythm"]["rr_ms"]
            out.append(d["classification"]["labels"][0]["probability"])
        probs[c] = np.array(out)
    assert np.median(probs["A"]) > 0.5 > np.median(probs["N"])
    assert (probs["A"][:, None] > probs["N"][None, :]).mean() > 0.9  # AUROC on these 16 strips
    records = [ds.load(int(i)) for i in rows["A"][:3]]
    batch = an.classify_many(records)[:, 0]
    single = [an.analyze(r).to_dict()["classification"]["labels"][0]["probability"] for r in records]
    np.testing.assert_allclose(batch, single, atol=1e-4)


def test_refusals_name_the_problem(analyzers, cinc):
    ds, rows = cinc
    an = analyzers(AF)
    rec = ds.load(int(rows["N"][0]))
    with pytest.raises(ContractError, match="no saliency map"):
        an.analyze(rec, explain=True)
    short = rec.replace(signal=rec.signal[:, : int(2.5 * rec.fs)])
    with pytest.raises(ContractError, match="at least 5 beats") as err:
        an.analyze(short)
    assert err.value.code == "too_few_beats"
    low = Record.from_array(np.sin(np.arange(500) / 7.0), fs=50, leads=["I"])
    with pytest.raises(ContractError, match="needs at least 100 Hz"):
        an.analyze(low)
    eight = rec.replace(signal=rec.signal[:, : int(8 * rec.fs)])
    d = an.analyze(eight).to_dict()
    assert any("only" in w and "beats" in w for w in d["warnings"])


def test_a_12_lead_record_is_read_through_lead_i(analyzers, data_dir):
    from ecgscope.io import load_record

    rec = load_record(data_dir / "ptbxl/records500/00000/00002_hr")
    d = analyzers(AF).analyze(rec).to_dict()
    assert d["input"]["leads"] == list(rec.leads) and len(d["delineation"]["per_lead"]) == 12
    assert d["classification"]["labels"][0]["probability"] < 0.5  # sinus bradycardia
    with pytest.raises(ContractError, match="substitute_lead=True"):
        analyzers(AF).analyze(rec.select_leads(["II", "V1"]))
