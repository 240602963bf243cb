"""int8 networks against the float ones: macro AUROC on test folds (paired bootstrap) and batch classification speed.

For each 17-label package: the int8 network it ships (``model.int8.onnx``) or, where the validation check refused
to ship one (``model.int8.json``), the same candidate rebuilt here exactly as packaging built it, so its test
figures are seen too.  Test data, never used for any choice: PTB-XL fold 10 at 100 Hz and at 500 Hz, LUDB (all
records: another hospital), and for the single-lead package CinC 2017 fold 10 (handheld strips).

Speed: ``Analyzer.classify_many`` in fast mode (the package path: network, record head, calibration) on 256
PTB-XL 500 Hz records already in memory, 2 threads, float (``onnx``) and int8 interleaved, 7 repeats each.

    .venv/bin/python benchmarks/int8_accuracy.py [--data-dir DIR]

Writes ``benchmarks/results/int8_accuracy.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import write_table_and_results

from ecgscope.benchmark.report import paired_difference
from ecgscope.evaluate.metrics import macro_auroc
from ecgscope.inference import Analyzer
from ecgscope.inference.backends import INT8_FILE, OnnxBackend, quantize_int8
from ecgscope.inference.package import resolve_package
from ecgscope.train.evidence import SourceSpec
from ecgscope.train.quantize import REPORT_FILE, calibration_windows, float_and_int8

TESTS = {"ecgscope-17-12lead": ["ptbxl100:10", "ptbxl:10", "ludb:1-10"],
         "ecgscope-17-1lead": ["ptbxl100:10", "ptbxl:10", "ludb:1-10", "cinc2017:10"]}


def _int8_path(name: str, analyzer, tmp: Path, data_dir) -> tuple[Path, bool]:
    pkg = resolve_package(name)
    if (pkg / INT8_FILE).is_file():
        return pkg / INT8_FILE, True
    report = json.loads((pkg / REPORT_FILE).read_text())  # rebuild the refused candidate as packaging did
    specs = [SourceSpec.parse(s) for s in report["calibrated_on"]]
    cal = calibration_windows(analyzer, specs, report["quantization"]["calibration_windows"], data_dir)
    out = tmp / f"{name}.int8.onnx"
    quantize_int8(pkg / "model.onnx", out, cal, sensitivity_share=report["quantization"]["sensitivity_share"],
                  method=report["quantization"].get("calibration_method", "minmax"))
    return out, False


def _speed(analyzer, int8: OnnxBackend, records, repeats: int = 7) -> dict:
    float_backend = analyzer.backend
    times = {"onnx": [], "onnx-int8": []}
    for _ in range(repeats):
        for name, backend in (("onnx", float_backend), ("onnx-int8", int8)):
            analyzer.backend = backend
            analyzer.classify_many(records[:16])
            t0 = time.perf_counter()
            analyzer.classify_many(records)
            times[name].append(time.perf_counter() - t0)
    analyzer.backend = float_backend
    return {k: round(len(records) / float(np.median(v)), 1) for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    from ecgscope.datasets import open_dataset

    speed_records = [open_dataset("ptbxl", args.data_dir).load(i) for i in range(256)]
    lines = ["# int8 networks: test-fold macro AUROC and batch classification speed", "",
             "Test data never used for a choice: PTB-XL fold 10 (100 Hz: 328 records; 500 Hz: 80), LUDB (all 160 "
             "records, another hospital), CinC 2017 fold 10 (handheld strips; single-lead package). The package path "
             "(network, record head, calibration; no evidence combination). Paired bootstrap over records, "
             f"{args.bootstrap} replicates.", "",
             "| package | int8 shipped? | test source | records | macro AUROC float | int8 | difference [95 % CI] |",
             "|---|---|---|---|---|---|---|"]
    payload: dict = {"packages": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, tests in TESTS.items():
            analyzer = Analyzer.from_pretrained(name, backend="onnx", threads=2, combine_evidence=False)
            path, shipped = _int8_path(name, analyzer, Path(tmp), args.data_dir)
            int8 = OnnxBackend(path, threads=2, name="onnx-int8")
            rows = []
            for spec in tests:
                data, pf, pi = float_and_int8(analyzer, int8, SourceSpec.parse(spec), args.data_dir)
                d = paired_difference(data.labels, pi, pf, args.bootstrap, 0)
                row = {"source": spec, "records": len(data.labels), "auroc_float": macro_auroc(data.labels, pf),
                       "auroc_int8": macro_auroc(data.labels, pi), **d}
                rows.append(row)
                lines.append(f"| {name} | {'yes' if shipped else 'no (validation refused it)'} | {spec} | "
                             f"{row['records']} | {row['auroc_float']:.4f} | {row['auroc_int8']:.4f} | "
                             f"{d['difference']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}] |")
            speed = _speed(analyzer, int8, speed_records)
            payload["packages"][name] = {"shipped": shipped, "tests": rows, "records_per_s": speed}
            print(name, speed, flush=True)
    lines += ["", "Batch classification, fast mode, 256 PTB-XL 500 Hz records in memory, 2 threads (records/s, "
              "median of 7, float and int8 interleaved):", "", "| package | float (onnx) | int8 | speed-up |",
              "|---|---|---|---|"]
    for name, p in payload["packages"].items():
        s = p["records_per_s"]
        lines.append(f"| {name} | {s['onnx']} | {s['onnx-int8']} | {s['onnx-int8'] / s['onnx']:.2f}x |")
    lines.append("")
    for name, p in payload["packages"].items():
        report = json.loads((resolve_package(name) / REPORT_FILE).read_text())
        worst = min(report["validation"], key=lambda r: r["difference"])
        lines.append(f"{name}: int8 {'shipped' if p['shipped'] else 'not shipped (rebuilt here as packaging did)'}; "
                     f"its validation check (the package's `model.int8.json` and card): worst "
                     f"{worst['difference']:+.4f} macro AUROC on {worst['source']}, tolerance "
                     f"{report['tolerance']}.")
    write_table_and_results("int8_accuracy", lines, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
