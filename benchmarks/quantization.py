"""int8 dynamic quantisation of the shipped models: size, speed and accuracy cost, on the test split.

For each shipped package (``model.onnx``, fp32) the int8 graph is made with ONNX Runtime's dynamic
quantisation (weights int8, activations quantised on the fly; ``ecgscope export --quantize`` does the same),
then both graphs classify the package task's test split through the same ``Analyzer`` (calibration,
aggregation and thresholds unchanged) and are scored with bootstrap 95 % CIs.  Speed is the median time of
one window on one thread.  The phone-sized artifact is the file a device would ship.

    .venv/bin/python benchmarks/quantization.py [--data-dir DIR] [--models ecgscope-17-12lead,...]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, write_results  # benchmarks/ is on sys.path when a script runs


def window_ms(onnx_path: Path, windows: np.ndarray, repeats: int = 50) -> float:
    from ecgscope.inference.backends import OnnxBackend

    be = OnnxBackend(onnx_path, threads=1)
    one = windows[:1]
    for _ in range(5):
        be.logits(one)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        be.logits(one)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def run_model(name: str, data_dir: str | None) -> dict:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from ecgscope.evaluate.metrics import evaluate_multilabel
    from ecgscope.inference import Analyzer, load_package
    from ecgscope.inference.build import recording_probabilities
    from ecgscope.tasks import get_task

    pkg = load_package(name)
    task = get_task(pkg.meta["task"])
    ds = task.open(data_dir)
    y = task.target_matrix(ds)[:, [task.labels.index(lab) for lab in pkg.labels]]
    rows = task.splits(ds)["test"]
    out: dict = {"model": name, "task": task.name, "test_records": int(len(rows))}
    with tempfile.TemporaryDirectory(prefix="ecgscope-q-") as tmp:
        q_pkg = Path(tmp) / name
        shutil.copytree(pkg.path, q_pkg)
        quantize_dynamic(str(pkg.path / "model.onnx"), str(q_pkg / "model.onnx"), weight_type=QuantType.QInt8)
        variants = {"fp32": Analyzer(pkg, backend="onnx", threads=2), "int8": Analyzer(q_pkg, backend="onnx", threads=2)}
        probs = {}
        sample = variants["fp32"].preprocessor(ds.load(int(rows[0]))).windows
        for kind, an in variants.items():
            p = recording_probabilities(an, ds, rows)
            probs[kind] = p
            ev = evaluate_multilabel(y[rows], p, labels=tuple(pkg.labels), thresholds=pkg.thresholds, n_bootstrap=1000)
            onnx_file = (pkg.path if kind == "fp32" else q_pkg) / "model.onnx"
            out[kind] = {
                "bytes": onnx_file.stat().st_size,
                "macro_auroc": ev.macro["auroc"]["value"], "macro_auroc_ci": [ev.macro["auroc"]["lo"], ev.macro["auroc"]["hi"]],
                "macro_auprc": ev.macro["auprc"]["value"], "macro_f1": ev.macro["f1"]["value"],
                "window_ms_1_thread": round(window_ms(onnx_file, sample), 3),
            }
        out["max_abs_prob_diff"] = float(np.abs(probs["int8"] - probs["fp32"]).max())
        out["auroc_cost"] = out["fp32"]["macro_auroc"] - out["int8"]["macro_auroc"]
    return out


def main() -> int:
    from ecgscope.inference import list_pretrained

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--models", default=",".join(m["name"] for m in list_pretrained()))
    ap.add_argument("--out", default=str(RESULTS / "quantization.json"))
    args = ap.parse_args()
    results = [run_model(n, args.data_dir) for n in args.models.split(",")]
    print(f"{'model':<22}{'fp32 MB':>9}{'int8 MB':>9}{'fp32 AUROC':>12}{'int8 AUROC':>12}{'cost':>8}"
          f"{'max |dp|':>10}{'fp32 ms':>9}{'int8 ms':>9}")
    print("-" * 100)
    for r in results:
        f, q = r["fp32"], r["int8"]
        print(f"{r['model']:<22}{f['bytes'] / 1e6:>9.2f}{q['bytes'] / 1e6:>9.2f}{f['macro_auroc']:>12.4f}"
              f"{q['macro_auroc']:>12.4f}{r['auroc_cost']:>8.4f}{r['max_abs_prob_diff']:>10.4f}"
              f"{f['window_ms_1_thread']:>9.2f}{q['window_ms_1_thread']:>9.2f}")
    write_results("quantization", {"results": results}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
