"""The int8 networks: shipped only where validation keeps the float network's macro AUROC (within 0.002), the
same answers as the float network on real records, and a clear refusal where a package ships none."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgscope.errors import MissingInputError
from ecgscope.inference import BACKENDS, Analyzer
from ecgscope.inference.backends import INT8_FILE
from ecgscope.inference.package import resolve_package
from ecgscope.train.evidence import SourceSpec
from ecgscope.train.quantize import REPORT_FILE, check_int8


def _report(name: str) -> dict:
    return json.loads((resolve_package(name) / REPORT_FILE).read_text())


@pytest.mark.parametrize("name", ["ecgscope-17-12lead", "ecgscope-17-1lead"])
def test_a_package_ships_its_int8_network_exactly_when_validation_allowed_it(name):
    report = _report(name)
    passed = all(r["difference"] >= -report["tolerance"] for r in report["validation"])
    assert report["shipped"] == passed == (resolve_package(name) / INT8_FILE).is_file()
    assert report["tolerance"] == 0.002 and report["validation"]
    assert all(":10" not in r["source"] for r in report["validation"])  # test folds are never looked at
    assert report["quantization"]["excluded"]  # the measured sensitive convolution(s) stay float
    card = (resolve_package(name) / "card.md").read_text()
    assert "## int8 network" in card


def test_a_package_without_an_int8_network_says_why(tmp_path):
    import shutil

    pkg = tmp_path / "no-int8"
    shutil.copytree(resolve_package("ecgscope-17-12lead"), pkg)
    (pkg / INT8_FILE).unlink()
    assert "onnx-int8" in BACKENDS
    with pytest.raises(MissingInputError, match="ships no int8 network"):
        Analyzer(pkg, backend="onnx-int8")


def test_an_unknown_calibration_method_is_refused_with_the_valid_ones(tmp_path):
    from ecgscope.inference.backends import quantize_int8

    with pytest.raises(ValueError, match="unknown int8 calibration method 'kl'.*minmax, percentile, entropy"):
        quantize_int8(resolve_package("ecgscope-17-12lead") / "model.onnx", tmp_path / "out.onnx",
                      np.zeros((40, 12, 1000), np.float32), method="kl")


def _real_records(name: str, data_dir) -> list:
    from ecgscope.datasets import open_dataset

    if name == "ecgscope-17-1lead":
        ds = open_dataset("cinc2017", data_dir)
        return [ds.load(i) for i in range(0, 400, 20)]
    ds = open_dataset("ptbxl", data_dir)  # 500 Hz 12-lead records, resampled by the package to its 100 Hz
    return [ds.load(i) for i in range(0, 800, 20)]


@pytest.mark.parametrize("name", ["ecgscope-17-12lead", "ecgscope-17-1lead"])
def test_the_shipped_int8_network_answers_as_the_float_one_on_real_records(name, data_dir):
    records = _real_records(name, data_dir)
    float_ = Analyzer.from_pretrained(name, backend="onnx", combine_evidence=False)
    int8 = Analyzer.from_pretrained(name, backend="onnx-int8", combine_evidence=False)
    assert int8.backend.name == "onnx-int8" and int8.info()["backend"] == "onnx-int8"
    a, b = float_.classify_many(records), int8.classify_many(records)
    diff = np.abs(a - b)
    assert np.median(diff) < 0.005 and diff.max() < 0.1  # int8 moves probabilities a little, never far
    positives_agree = ((a >= float_.thresholds) == (b >= int8.thresholds)).mean()
    assert positives_agree > 0.97


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ecgscope-17-12lead", "ecgscope-17-1lead"])
def test_the_validation_check_reproduces_the_packaged_figure(name, data_dir):
    """The ship decision is reproducible: the check on one validation source gives the figure the package
    recorded."""
    analyzer = Analyzer.from_pretrained(name, backend="onnx", threads=2, combine_evidence=False)
    row, = check_int8(analyzer, resolve_package(name) / INT8_FILE, [SourceSpec.parse("ptbxl:9")], data_dir)
    recorded = next(r for r in _report(name)["validation"] if r["source"] == "ptbxl:9")
    assert row["difference"] == pytest.approx(recorded["difference"], abs=1e-4)
    assert row["difference"] >= -0.002


def test_analyze_many_holds_one_block_of_windows_at_a_time(data_dir, monkeypatch):
    paths = (data_dir / "cinc2017" / f"{n}.hea" for n in ("A00006", "A00007", "A00013", "A00014", "A00018"))
    an = Analyzer.from_pretrained("ecgscope-17-1lead", backend="onnx", combine_evidence=False)
    seen: list[int] = []
    real = an.backend.logits
    monkeypatch.setattr(an.backend, "logits", lambda w: (seen.append(len(w)), real(w))[1])
    results = an.analyze_many(paths, block=2)  # a generator: never listed whole
    assert len(results) == 5 and len(seen) == 3  # blocks of 2, 2, 1 records
    one = [an.analyze(data_dir / "cinc2017" / "A00006.hea").to_dict()]
    assert results[0].to_dict()["classification"]["labels"] == one[0]["classification"]["labels"]
