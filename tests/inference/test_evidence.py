"""The evidence combination: network, record and rhythm evidence in one probability per label, fitted across
sources (ecgscope.inference.evidence, ecgscope.train.evidence)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ecgscope.calibrate.plausibility import QUALITY_LABEL
from ecgscope.errors import RecordFormatError
from ecgscope.inference import Analyzer
from ecgscope.inference.evidence import EvidenceCombiner, mean_source_f1_threshold, source_weights
from ecgscope.inference.package import EVIDENCE_FILE, load_package
from ecgscope.inference.record_head import RECORD_FEATURES
from ecgscope.inference.schema import SCHEMA_VERSION, AnalysisResult
from ecgscope.train.evidence import SourceSpec

LABELS = ("AF", "rare", QUALITY_LABEL)


RHYTHM_STAT = RECORD_FEATURES.index("rr_cv")


def _records(y, seed):
    """Record features whose rr_cv tells AF well."""
    X = np.random.default_rng(seed).normal(size=(len(y), len(RECORD_FEATURES)))
    X[:, RHYTHM_STAT] += 3 * np.nan_to_num(y[:, 0])
    return X


def _data(n=600, seed=0):
    """Two sources; AF told by strong rhythm statistics and a weaker network, "rare" with too few positives,
    Poor data quality by the network.  Returns the evidence, labels, sources, groups, patients and the
    combination whose rhythm model made the rhythm evidence."""
    rng = np.random.default_rng(seed)
    y = np.zeros((n, 3))
    y[:, 0] = rng.random(n) < 0.25
    y[:4, 1] = 1
    y[:, 2] = rng.random(n) < 0.2
    z_net = np.stack([y[:, 0] * 1.0 + rng.normal(size=n), -3 + rng.normal(size=n), y[:, 2] + rng.normal(size=n)], 1)
    X = _records(y, seed + 1)
    sources = np.where(np.arange(n) % 3 == 0, "a", "b")
    patients = np.array([f"p{i}" for i in range(n)])
    return {"network": z_net, "rhythm": _rhythm(X, y)}, y, sources, np.arange(n) % 5, patients


def _with_rhythm_model(comb, X, y):
    return comb.fit_feature_model("rhythm", "AF", X, y[:, 0], features=("rr_cv", "p_wave_share"))


def _rhythm(X, y):
    return _with_rhythm_model(EvidenceCombiner(LABELS), X, y).evidence_logits(np.full((len(y), 3), 0.5), X)["rhythm"]


def _package_probs(Z):
    return 1 / (1 + np.exp(-Z["network"]))


def _fit(Z, y, sources, groups, patients, **kw):
    comb = EvidenceCombiner(LABELS, **kw).fit(Z, y, sources, groups, package_thresholds=np.array([0.3, 0.4, 0.5]),
                                              patients=patients)
    return _with_rhythm_model(comb, _records(y, 1), y) if np.isfinite(y[:, 0]).all() else comb


def test_the_stronger_evidence_gets_the_larger_weight_and_thin_labels_keep_the_package_path():
    Z, y, sources, groups, patients = _data()
    comb = _fit(Z, y, sources, groups, patients)
    assert comb.combined_.tolist() == [True, False, True]
    assert comb.kinds_[0] == ["network", "rhythm"] and comb.kinds_[2] == ["network"]
    assert comb.weights_[0]["rhythm"] > comb.weights_[0]["network"] > 0
    assert comb.thresholds_[1] == 0.4  # the package's own threshold for the label it does not combine
    p, ev = comb.combine(_package_probs(Z), _records(y, 1))
    np.testing.assert_allclose(p[:, 1], _package_probs(Z)[:, 1])  # ... and its own probability
    assert {e["path"] for e in (r[1] for r in ev)} == {"package"}
    # AF: the rhythm evidence carries the clear cases
    strongest = int(np.argmax(np.abs(Z["rhythm"][:, 0] - np.mean(Z["rhythm"][:, 0]))))
    assert ev[strongest][0]["carried_by"] == "rhythm" and ev[strongest][0]["log_odds"]["record"] is None


def test_a_label_a_source_does_not_define_is_unknown_never_negative():
    Z, y, sources, groups, patients = _data()
    base = _fit(Z, y, sources, groups, patients)
    # a third source with 300 rows that does not define AF: NaN, so the AF fit must not move
    extra = 300
    rng = np.random.default_rng(1)
    Z2 = {k: np.concatenate([v, rng.normal(size=(extra, 3)) if k == "network" else np.full((extra, 3), np.nan)])
          for k, v in Z.items()}
    y2 = np.concatenate([y, np.full((extra, 3), np.nan)])
    comb = _fit(Z2, y2, np.concatenate([sources, np.full(extra, "c")]), np.concatenate([groups, np.arange(extra) % 5]),
                np.concatenate([patients, [f"c{i}" for i in range(extra)]]))
    assert comb.weights_[0] == pytest.approx(base.weights_[0]) and comb.intercept_[0] == pytest.approx(base.intercept_[0])
    assert "c" not in comb.fit_report_[0]["sources"]


def test_every_source_weighs_the_same_however_many_rows_it_has():
    w = source_weights(np.array(["a"] * 10 + ["b"] * 90))
    assert w[:10].sum() == pytest.approx(w[10:].sum()) and w.mean() == pytest.approx(1.0)
    Z, y, sources, groups, patients = _data()
    base = _fit(Z, y, sources, groups, patients)
    b = sources == "b"  # duplicate source b's rows: its total weight stays the same, so the fit does too
    dup = {k: np.concatenate([v, v[b]]) for k, v in Z.items()}
    comb = _fit(dup, np.concatenate([y, y[b]]), np.concatenate([sources, sources[b]]),
                np.concatenate([groups, groups[b]]), np.concatenate([patients, patients[b]]))
    # the same up to the L2 penalty, which is relative to the number of rows (weights average 1)
    assert comb.weights_[0] == pytest.approx(base.weights_[0], rel=0.05)


def test_one_patient_per_source_is_not_enough_to_combine():
    Z, y, sources, groups, _ = _data()
    comb = _fit(Z, y, sources, groups, np.where(sources == "a", "one-patient", "other"))
    assert not comb.combined_.any()


def test_the_quality_threshold_calls_few_clean_records_of_any_source_poor():
    Z, y, sources, groups, patients = _data()
    comb = _fit(Z, y, sources, groups, patients, max_clean_flagged=0.03)
    q = LABELS.index(QUALITY_LABEL)
    rep = comb.fit_report_[q]
    assert comb.thresholds_[q] >= rep["clean_flag_floor"]
    p, _ = comb.combine(_package_probs(Z), _records(y, 1))
    for s in ("a", "b"):
        clean = (sources == s) & (y[:, q] == 0)
        assert (p[clean, q] >= comb.thresholds_[q]).mean() <= 0.06  # out-of-fold 3 %, in-sample a little more


def test_the_f1_threshold_weighs_sources_equally():
    # source a: positives above 0.6; source b (ten times larger): positives above 0.3, negatives up to 0.5
    p = np.r_[0.7, 0.8, 0.1, 0.2, np.linspace(0.35, 0.45, 20), np.linspace(0.0, 0.5, 200)]
    y = np.r_[1, 1, 0, 0, np.ones(20), np.zeros(200)]
    s = np.r_[["a"] * 4, ["b"] * 220]
    thr = mean_source_f1_threshold(p, y, s)
    assert 0.3 < thr <= 0.45


def test_the_combination_round_trips_and_refuses_what_it_cannot_read():
    Z, y, sources, groups, patients = _data()
    comb = _fit(Z, y, sources, groups, patients)
    X = _records(y, 1)
    again = EvidenceCombiner.from_dict(json.loads(json.dumps(comb.to_dict())))
    np.testing.assert_allclose(again.combine(_package_probs(Z), X)[0], comb.combine(_package_probs(Z), X)[0])
    with pytest.raises(ValueError, match="needs the records' features"):
        comb.combine(_package_probs(Z), None)
    bad = comb.to_dict()
    bad["per_label"][0]["kinds"] = ["network", "ouija"]
    with pytest.raises(ValueError, match="unknown evidence kinds"):
        EvidenceCombiner.from_dict(bad)
    with pytest.raises(ValueError, match="unknown feature evidence"):
        comb.fit_feature_model("astrology", "AF", X, y[:, 0])


def test_source_specs_name_their_folds():
    assert SourceSpec.parse("cinc2017:1-9").folds == tuple(range(1, 10))
    assert SourceSpec.parse("ptbxl100:9,10").folds == (9, 10)
    assert str(SourceSpec.parse("a:1,3-5,9")) == "a:1,3-5,9" and str(SourceSpec.parse("b:1-9")) == "b:1-9"
    for bad in ("cinc2017", "cinc2017:one"):
        with pytest.raises(ValueError, match="name:folds|numbers"):
            SourceSpec.parse(bad)


# ---------------------------------------------------------------- the shipped single-lead package

def test_the_shipped_wearable_package_says_which_evidence_carried_each_label(analyzers, data_dir):
    an = analyzers("ecgscope-17-1lead")
    assert an.evidence is not None and an.evidence.combined_[an.labels.index("Atrial fibrillation")]
    from ecgscope.datasets import open_dataset

    ds = open_dataset("cinc2017", data_dir)
    af = ds.labels["Atrial fibrillation"].to_numpy()
    rows = [int(np.flatnonzero(af == 1)[0]), int(np.flatnonzero(af == 0)[0])]
    records = [ds.load(r) for r in rows]
    results = an.analyze_many(records)
    probs = an.classify_many(records)
    # the Analyzer's combination is the estimator's on the package's own evidence inputs
    feats, package = an.evidence_inputs(records)
    np.testing.assert_allclose(an.evidence.combine(package, feats)[0], probs, atol=1e-9)
    for res, p in zip(results, probs, strict=True):
        d = res.to_dict()
        AnalysisResult.model_validate(d)
        assert d["schema_version"] == SCHEMA_VERSION
        for lab, pj, thr in zip(d["classification"]["labels"], p, an.thresholds, strict=True):
            assert lab["probability"] == pytest.approx(pj, abs=1e-4) and lab["threshold"] == pytest.approx(thr, abs=1e-4)
            assert lab["evidence"]["carried_by"] in ("network", "record", "rhythm")
    af_j = an.labels.index("Atrial fibrillation")
    ev = results[0].to_dict()["classification"]["labels"][af_j]["evidence"]
    assert ev["path"] == "combined" and ev["log_odds"]["record"] is not None and ev["log_odds"]["rhythm"] is not None
    assert probs[0, af_j] > probs[1, af_j]


def test_a_package_whose_evidence_was_fitted_for_other_labels_is_refused(tmp_path):
    src = load_package("ecgscope-17-1lead").path
    pkg = tmp_path / "pkg"
    shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("model.onnx"))
    good = json.loads((pkg / EVIDENCE_FILE).read_text())
    d = json.loads(json.dumps(good))
    d["labels"] = d["labels"][::-1]
    d["per_label"] = d["per_label"][::-1]
    (pkg / EVIDENCE_FILE).write_text(json.dumps(d))
    with pytest.raises(RecordFormatError, match="other labels"):
        Analyzer(pkg)
    d = json.loads(json.dumps(good))
    d["labels"] = d["labels"][::-1]  # entries no longer match the labels
    (pkg / EVIDENCE_FILE).write_text(json.dumps(d))
    with pytest.raises(RecordFormatError, match="unreadable evidence.json"):
        Analyzer(pkg)


def test_results_of_earlier_schema_versions_still_validate(analyzers, data_dir):
    an = analyzers("ecgscope-17-1lead")
    from ecgscope.datasets import open_dataset

    d = an.analyze(open_dataset("cinc2017", data_dir).load(0)).to_dict()
    for lab in d["classification"]["labels"]:
        del lab["evidence"]
    d["schema_version"] = "1.1"
    AnalysisResult.model_validate(d)
