"""Analyzer on real records of every dataset, its failure modes, batch/ONNX/explain paths."""

from __future__ import annotations

import jsonschema
import numpy as np
import pytest

from ecgscope.errors import ContractError, ECGScopeError, RecordValidationError
from ecgscope.inference import load_json_schema
from ecgscope.inference.package import list_package_names, load_package
from ecgscope.io import load_record
from ecgscope.labels import LABELS
from ecgscope.record import Record

SHIPPED = list_package_names()
NETWORKS = [n for n in SHIPPED if load_package(n).model_kind == "network"]
MAIN = "ecgscope-17-12lead"
WEARABLE = "ecgscope-17-1lead"
REAL = {
    "ptbxl": "ptbxl/records500/00000/00002_hr",
    "ptbxl100": "ptbxl/records100/00000/00009_lr",
    "ludb": "ludb/data/12",
    "mitdb": "mitdb/105",
    "cinc2017": "cinc2017/A00006",
    "cpsc2021": "cpsc2021_sample/data_101_6",
}
VALIDATOR = jsonschema.Draft202012Validator(load_json_schema())


def _validate(d: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(d), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_the_three_shipped_models_exist():
    assert {MAIN, WEARABLE, "ecgscope-af-1lead"} <= set(SHIPPED)


def _excerpt(data_dir, dataset):
    rec = load_record(data_dir / REAL[dataset])
    if rec.duration_s > 60:  # a minute of the long records (MIT-BIH 30 min, CPSC 2021)
        rec = rec.replace(signal=rec.signal[:, : int(60 * rec.fs)])
    return rec


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("dataset", sorted(REAL))
def test_real_record_of_every_dataset_gives_valid_json_or_a_clear_refusal(analyzers, data_dir, name, dataset):
    rec = _excerpt(data_dir, dataset)
    an = analyzers(name, allow_single_lead=True, substitute_lead=True)
    if an.package.input_kind == "12-lead" and 1 < rec.n_leads < 12:
        with pytest.raises(ContractError, match="record lacks leads"):
            an.analyze(rec)
        return
    d = an.analyze(rec).to_dict()
    _validate(d)
    assert d["model"]["name"] == name and len(d["model"]["sha256"]) == 64
    assert [lab["name"] for lab in d["classification"]["labels"]] == d["model"]["labels"]
    assert d["input"]["single_lead"] == (rec.n_leads == 1 or an.package.input_kind == "single-lead")
    assert d["timing_ms"]["total"] > 0
    if an.package.input_kind == "single-lead" and "I" not in rec.leads and rec.n_leads > 1:
        assert any("used in its place" in w for w in d["warnings"])


@pytest.mark.parametrize("dataset", sorted(REAL))
def test_cli_analyze_auto_gives_valid_json_for_every_dataset(data_dir, tmp_path, dataset, capsys):
    import json

    from ecgscope.cli import main
    from ecgscope.io import save_record

    path = save_record(_excerpt(data_dir, dataset), tmp_path / f"{dataset}.hea")
    assert main(["analyze", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    _validate(d)
    assert d["input"]["source"] == f"{dataset}.hea"


def test_cli_analyze_fast_is_the_package_path_without_the_evidence_combination(data_dir, capsys, analyzers):
    import json

    from ecgscope.cli import main
    from ecgscope.io import load_record

    path = data_dir / "ptbxl" / "records500" / "00000" / "00002_hr.hea"
    for option, with_evidence in (([], True), (["--fast"], False)):
        assert main(["analyze", str(path), "--json", *option]) == 0
        d = json.loads(capsys.readouterr().out)
        assert all(("evidence" in lab) == with_evidence for lab in d["classification"]["labels"])
    fast = analyzers("ecgscope-17-12lead", combine_evidence=False)
    assert fast.evidence is None and not fast.needs_record_features
    np.testing.assert_allclose(fast.classify_many([load_record(path)])[0],
                               [lab["probability"] for lab in d["classification"]["labels"]], atol=1e-4)


@pytest.mark.parametrize("option", [["--backend", "tensorrt"], ["--model", "ecgscope-42"]])
def test_cli_analyze_unknown_backend_or_model_is_a_clear_error(data_dir, capsys, option):
    from ecgscope.cli import main

    assert main(["analyze", str(data_dir / "cinc2017" / "A00006.hea"), *option]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert ("valid: torch, onnx" in err) if option[0] == "--backend" else ("shipped models: " in err)


def test_single_lead_model_refuses_missing_lead_i_without_substitution(analyzers, data_dir):
    rec = _excerpt(data_dir, "mitdb")
    with pytest.raises(ContractError, match="substitute_lead=True"):
        analyzers(WEARABLE).analyze(rec)


def test_known_findings_on_real_records(analyzers, data_dir):
    an = analyzers(MAIN)
    brady = an.analyze(data_dir / "ptbxl/records500/00000/00002_hr").to_dict()  # SBRAD, HR 47
    assert 40 < brady["rhythm"]["heart_rate_bpm"] < 55
    assert "Sinus rhythm" in [lab["name"] for lab in brady["classification"]["labels"] if lab["positive"]]
    beats = brady["delineation"]["beats"]
    assert len(beats) >= 6 and all(b["r_peak"] is not None for b in beats)


def test_batch_equals_single(analyzers, data_dir):
    an = analyzers(MAIN)
    paths = [data_dir / "ptbxl/records500/00000/00002_hr", data_dir / "ludb/data/12", data_dir / "ludb/data/40"]
    batch = an.analyze_many(paths)
    for p, b in zip(paths, batch, strict=True):
        one = an.analyze(p).to_dict()
        np.testing.assert_allclose([lab["probability"] for lab in one["classification"]["labels"]],
                                   [lab["probability"] for lab in b.to_dict()["classification"]["labels"]], atol=1e-4)


def test_wearable_model_reads_overlapping_windows_and_its_record_head(analyzers, data_dir):
    """ecgscope-17-1lead reads 5-s windows every 2.5 s and blends its head, in batch and alone alike."""
    an = analyzers(WEARABLE)
    assert an.contract.window_stride == 250 and an.head is not None
    paths = [data_dir / "ptbxl/records500/00000/00002_hr", data_dir / "cinc2017/A00006"]
    one = an.analyze(paths[0]).to_dict()
    assert [w["start_s"] for w in one["classification"]["windows"]] == [0.0, 2.5, 5.0]
    recs = [load_record(p) for p in paths]
    batch = an.classify_many(recs)
    single = [[lab["probability"] for lab in an.analyze(r).to_dict()["classification"]["labels"]] for r in recs]
    np.testing.assert_allclose(batch, single, atol=1e-4)


def test_wearable_models_quality_threshold_comes_from_handheld_strips(analyzers, data_dir):
    """The Poor data quality threshold (which marks a result unreliable) was chosen on CinC 2017 folds 1-9; a
    clean handheld strip of the test fold (normal rhythm) is reliable, a noisy one is called poor."""
    import json

    from ecgscope.datasets import open_dataset

    an = analyzers(WEARABLE)
    cal = json.loads((an.package.path / "calibration.json").read_text())
    (chosen,) = cal["thresholds"]["chosen_elsewhere"]
    q = an.labels.index("Poor data quality")
    assert chosen["dataset"] == "cinc2017" and chosen["folds"] == list(range(1, 10))
    assert an.package.thresholds[q] == chosen["threshold"] > chosen["validation_threshold"]
    ds = open_dataset("cinc2017", data_dir)
    normal = np.flatnonzero((ds.index["fold"] == 10).to_numpy() & (ds.index["cinc_class"] == "N").to_numpy())
    assert an.analyze(ds.load(int(normal[0]))).to_dict()["classification"]["reliable"]


def test_package_window_stride_is_checked_against_the_window(data_dir, capsys):
    from ecgscope.cli import main
    from ecgscope.inference.build import calibrate_and_package

    bundle = load_package(WEARABLE).path / "model.pt"  # a package's network is its training bundle
    with pytest.raises(ContractError, match=r"at most the model's window \(5 s\)"):
        calibrate_and_package(bundle, "ptbxl17", "unused", name="x", version="0", data_dir=data_dir,
                              window_stride_s=6.0, onnx=False)
    assert main(["calibrate", str(bundle), "--window-stride", "7", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "window stride 7 s must be above 0" in err and "Traceback" not in err


@pytest.mark.parametrize("name", NETWORKS)
def test_onnx_agrees_with_pytorch(analyzers, data_dir, name):
    torch_an, onnx_an = analyzers(name), analyzers(name, backend="onnx")
    rec = load_record(data_dir / "ptbxl/records500/00000/00002_hr")
    wins = torch_an.preprocessor(rec).windows
    assert np.abs(onnx_an.backend.logits(wins) - torch_an.backend.logits(wins)).max() <= 1e-4


@pytest.mark.parametrize("method", ["gradcam", "integrated_gradients"])
def test_saliency_is_aligned_with_the_signal(analyzers, data_dir, method):
    an = analyzers(MAIN)
    rec = load_record(data_dir / "ptbxl/records500/00000/00002_hr")
    d = an.analyze(rec, explain=True, explain_labels=["Sinus rhythm", "Bradycardia"], explain_method=method).to_dict()
    _validate(d)
    sal = d["saliency"]
    assert sal["method"] == method and set(sal["labels"]) == {"Sinus rhythm", "Bradycardia"}
    for values in sal["labels"].values():
        v = np.asarray(values)
        assert len(v) == int(round(rec.duration_s * sal["fs"])) and v.min() >= 0 and v.max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown labels"):
        an.analyze(rec, explain=True, explain_labels=["Sinus tachy"])


# ------------------------------------------------------------------ failure modes (issue 5, item 6)
def _record(data_dir, rel="ptbxl/records500/00000/00002_hr"):
    return load_record(data_dir / rel)


def test_shorter_than_one_window(analyzers, data_dir):
    rec = _record(data_dir)
    short = rec.replace(signal=rec.signal[:, : int(3 * rec.fs)])
    with pytest.raises(ContractError, match="shorter than one model window") as exc:
        analyzers(MAIN).analyze(short)
    assert exc.value.code == "too_short_for_window"
    d = analyzers(MAIN, pad_short=True).analyze(short).to_dict()
    _validate(d)


def test_nan_and_flat_leads(analyzers, data_dir):
    rec = _record(data_dir)
    sig = rec.signal.copy()
    sig[3, 100:400] = np.nan
    with pytest.raises(RecordValidationError, match="lead aVR has 300 non-finite"):
        Record(sig, fs=rec.fs, leads=rec.leads)
    sig = rec.signal.copy()
    sig[[6, 7]] = 0.0  # V1 and V2 off
    d = analyzers(MAIN).analyze(rec.replace(signal=sig)).to_dict()
    _validate(d)
    assert d["quality"]["per_lead"]["V1"] < 0.5 and any("V1" in i for i in d["quality"]["issues"])
    sig[:] = 0.0
    with pytest.raises(RecordValidationError, match="every lead is flat"):
        rec.replace(signal=sig)


def test_unknown_lead_names(analyzers, data_dir):
    rec = _record(data_dir)
    odd = rec.replace(leads=("I", "II", "III", "aVR", "aVL", "aVF", "C1", "C2", "C3", "C4", "C5", "C6"))
    with pytest.raises(ContractError, match=r"lacks leads \['V1', 'V2', 'V3', 'V4', 'V5', 'V6'\]"):
        analyzers(MAIN).analyze(odd)
    d = analyzers(WEARABLE).analyze(odd).to_dict()  # lead I is there: the wearable model works, and warns
    assert any("unknown lead names" in w for w in d["warnings"])


def test_microvolts_passed_as_millivolts(data_dir):
    rec = _record(data_dir)
    with pytest.raises(RecordValidationError, match="microvolts passed as mV"):
        rec.replace(signal=rec.signal * 1000)


def test_sampling_rate_below_the_models_band(analyzers, data_dir):
    from ecgscope.signal.resample import resample

    rec = resample(_record(data_dir), 50)
    with pytest.raises(ContractError, match="sampled at 50 Hz") as exc:
        analyzers(MAIN).analyze(rec)
    assert exc.value.code == "fs_below_model_band"


def test_twelve_lead_model_given_one_lead(analyzers, data_dir):
    rec = load_record(data_dir / "cinc2017/A00006")
    with pytest.raises(ContractError, match="12-lead model and the record has one lead") as exc:
        analyzers(MAIN).analyze(rec)
    assert exc.value.code == "single_lead_to_12_lead_model"
    d = analyzers(MAIN, allow_single_lead=True).analyze(rec).to_dict()
    assert d["input"]["single_lead"] and any("duplicated" in w for w in d["warnings"])
    d = analyzers(WEARABLE).analyze(rec).to_dict()  # the right model for it: no warning
    assert d["input"]["single_lead"] and not d["warnings"]


def test_too_noisy_input_is_marked_unreliable(analyzers, data_dir):
    rec = _record(data_dir)
    rng = np.random.default_rng(0)
    noisy = rec.replace(signal=rec.signal + rng.normal(0, 1.5, rec.signal.shape).astype(np.float32))
    d = analyzers(MAIN).analyze(noisy).to_dict()
    _validate(d)
    assert not d["classification"]["reliable"] and d["classification"]["unreliable_reasons"]
    assert not d["quality"]["usable"]
    clean = analyzers(MAIN).analyze(rec).to_dict()
    prob = {lab["name"]: lab["probability"] for lab in d["classification"]["labels"]}
    prob_clean = {lab["name"]: lab["probability"] for lab in clean["classification"]["labels"]}
    assert prob["Poor data quality"] > prob_clean["Poor data quality"]


def test_unknown_model_and_backend(analyzers):
    from ecgscope.inference import Analyzer

    with pytest.raises(ECGScopeError, match="shipped models: "):
        Analyzer.from_pretrained("ecgscope-42")
    with pytest.raises(ValueError, match="valid backends: torch, onnx"):
        Analyzer.from_pretrained(MAIN, backend="tensorrt")
    assert set(LABELS) == set(analyzers(MAIN).labels)


def test_onnx_backend_splits_large_batches_across_threads_identically():
    from ecgscope.inference import load_package
    from ecgscope.inference.backends import OnnxBackend

    pkg = load_package(MAIN)
    x = np.random.default_rng(3).normal(size=(40, 12, pkg.meta["contract"]["window_samples"])).astype(np.float32)
    one, two = OnnxBackend(pkg.path / "model.onnx", threads=1), OnnxBackend(pkg.path / "model.onnx", threads=2)
    np.testing.assert_array_equal(two.logits(x), one.logits(x))  # 2 chunks of 20 windows, same rows, same order
    assert two.logits(x[:3]).shape == (3, len(pkg.labels))  # small batches stay on the calling thread
