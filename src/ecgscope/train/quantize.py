"""The int8 network of a model package: quantise on training windows, ship only if validation says it is as good.

    python -m ecgscope.train.quantize --package DIR --calibrate ptbxl100:1-8 --validate ptbxl100:9 ptbxl:9

1. calibration windows: the package's own preprocessing of records from the ``--calibrate`` sources (training
   folds), as many as ``--windows``, drawn at random;
2. :func:`ecgscope.inference.backends.quantize_int8` (static QDQ int8, convolutions only, the sensitive ones left
   float by measurement), once per ``--method`` (activation ranges: minmax, percentile, entropy); where several
   are given, the candidate whose logits move least on held-out calibration windows (training data) goes on;
3. the check, on validation folds only: macro AUROC of the package's recording-level probabilities with the
   int8 network against the float one, per ``--validate`` source.  ``model.int8.onnx`` is written into the
   package only when no source loses more than ``--tolerance`` (0.002); otherwise it is removed and the card
   says why.  Test folds are never looked at here (``benchmarks/int8_accuracy.py`` reports them).

The report goes to ``model.int8.json`` and a "## int8 network" section of the card.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgscope.train.evidence import SourceSpec, reading_record, source_options

CARD_SECTION = "## int8 network"
REPORT_FILE = "model.int8.json"


@dataclass
class SourceWindows:
    """A source's folds through a package's preprocessing: windows, the record each belongs to, labels, and the
    records' whole-record features when the package's record head needs them."""

    windows: np.ndarray
    owner: np.ndarray
    labels: np.ndarray
    head_x: np.ndarray | None


def source_windows(analyzer, spec: SourceSpec, data_dir=None, limit: int | None = None, seed: int = 0,
                   features: bool = False) -> SourceWindows:
    from ecgscope.datasets import open_dataset
    from ecgscope.inference.record_head import RECORD_FEATURES
    from ecgscope.inference.rhythm_model import feature_matrix

    ds = open_dataset(spec.name, data_dir, **source_options(analyzer, spec.name))
    idx = np.flatnonzero(ds.index["fold"].isin(spec.folds).to_numpy())
    if limit is not None and len(idx) > limit:
        idx = np.sort(np.random.default_rng(seed).choice(idx, limit, replace=False))
    windows, owner, feats = [], [], []
    for k, i in enumerate(idx):
        rec = reading_record(analyzer, ds.load(int(i)))
        w = analyzer.preprocessor(rec).windows
        windows.append(w)
        owner.append(np.full(len(w), k))
        if features:
            feats.append(analyzer.head_features(rec))
    return SourceWindows(np.concatenate(windows).astype(np.float32), np.concatenate(owner),
                         ds.labels.iloc[idx].to_numpy(np.float64),
                         feature_matrix(feats, RECORD_FEATURES) if features else None)


def package_probs(analyzer, logits: np.ndarray, data: SourceWindows) -> np.ndarray:
    """The package's recording-level probabilities (aggregation, record head, calibration) from window logits."""
    n = len(data.labels)
    return np.stack([p for _, p, _ in analyzer._probabilities(logits, data.owner, n, data.head_x, explain=False)])


def calibration_windows(analyzer, specs: Sequence[SourceSpec], n_windows: int, data_dir=None) -> np.ndarray:
    """``n_windows`` calibration windows split evenly over ``specs`` (records drawn at random, seeded), shuffled:
    what packaging quantises on, so a benchmark can rebuild the same candidate."""
    per_source = -(-n_windows // len(specs))
    x = np.concatenate([source_windows(analyzer, s, data_dir, limit=per_source).windows for s in specs])
    return x[np.random.default_rng(0).permutation(len(x))]


def float_and_int8(analyzer, int8, spec: SourceSpec, data_dir=None) -> tuple[SourceWindows, np.ndarray, np.ndarray]:
    """A source's records and the package's probabilities of them with the float (the analyzer's backend) and with
    the ``int8`` backend's network."""
    data = source_windows(analyzer, spec, data_dir, features=analyzer.needs_record_features)
    return (data, package_probs(analyzer, analyzer.backend.logits(data.windows), data),
            package_probs(analyzer, int8.logits(data.windows), data))


def check_int8(analyzer, int8_path: Path, specs: Sequence[SourceSpec], data_dir=None) -> list[dict]:
    """Macro AUROC of the package's probabilities with the float and with the int8 network, per source."""
    from ecgscope.evaluate.metrics import macro_auroc
    from ecgscope.inference.backends import OnnxBackend

    int8 = OnnxBackend(int8_path, threads=analyzer.threads, name="onnx-int8")
    rows = []
    for spec in specs:
        data, p_float, p_int8 = float_and_int8(analyzer, int8, spec, data_dir)
        a, b = macro_auroc(data.labels, p_float), macro_auroc(data.labels, p_int8)
        rows.append({"source": str(spec), "records": len(data.labels), "auroc_float": round(a, 4),
                     "auroc_int8": round(b, 4), "difference": round(b - a, 4)})
    return rows


def card_section(report: dict) -> str:
    q = report["quantization"]
    lines = [CARD_SECTION, ""]
    if report["shipped"]:
        lines.append(f"`model.int8.onnx` (backend `onnx-int8`): {q['method']}; {q['convolutions'] - len(q['excluded'])} "
                     f"of {q['convolutions']} convolutions in int8, calibrated on {q['calibration_windows']} windows "
                     f"of {', '.join(report['calibrated_on'])}"
                     + (f" (ranges from {q['range_windows']} of them, the logit change measured on the others)."
                        if "range_windows" in q else "."))
    else:
        lines.append(f"No int8 network ships: on validation it lost more than {report['tolerance']} macro AUROC.")
    lines.append(f"Kept float by measured sensitivity (the fewest convolutions holding {q['sensitivity_share']:.0%} of "
                 f"the summed logit MSE of quantising each alone; these hold {q['excluded_share']:.1%}): "
                 f"{', '.join(q['excluded']) or 'none'}.")
    lines += ["", "| validation source | records | macro AUROC float | int8 | difference |", "|---|---|---|---|---|"]
    for r in report["validation"]:
        lines.append(f"| {r['source']} | {r['records']} | {r['auroc_float']:.4f} | {r['auroc_int8']:.4f} | "
                     f"{r['difference']:+.4f} |")
    lines += ["", "Calibration, thresholds and the evidence combination are the float network's. Test-fold figures "
              "and speed: `benchmarks/results/int8_accuracy.md`.", "", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from ecgscope.inference import Analyzer
    from ecgscope.inference.backends import INT8_CALIBRATION_METHODS, INT8_FILE, quantize_int8
    from ecgscope.inference.package import replace_card_section

    ap = argparse.ArgumentParser(prog="python -m ecgscope.train.quantize", description=__doc__.split("\n")[0])
    ap.add_argument("--package", required=True)
    ap.add_argument("--calibrate", nargs="+", required=True, help="training sources as name:folds")
    ap.add_argument("--validate", nargs="+", required=True, help="validation sources as name:folds")
    ap.add_argument("--windows", type=int, default=400, help="calibration windows")
    ap.add_argument("--method", nargs="+", default=["minmax"], choices=INT8_CALIBRATION_METHODS,
                    help="activation range calibration; several: the one with the least held-out logit MSE")
    ap.add_argument("--tolerance", type=float, default=0.002, help="largest macro AUROC loss allowed")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    pkg = Path(args.package)
    analyzer = Analyzer(pkg, backend="onnx", threads=2, combine_evidence=False)
    cal_specs = [SourceSpec.parse(s) for s in args.calibrate]
    val_specs = [SourceSpec.parse(s) for s in args.validate]
    calibration = calibration_windows(analyzer, cal_specs, args.windows, args.data_dir)
    target = pkg / INT8_FILE
    with tempfile.TemporaryDirectory() as tmp:
        candidates = {}
        for method in dict.fromkeys(args.method):
            path = Path(tmp) / f"{method}.{INT8_FILE}"
            candidates[method] = (path, quantize_int8(pkg / "model.onnx", path, calibration, method=method))
            print(f"{method}: held-out logit MSE {candidates[method][1]['held_out_logit_mse']:.5f}", flush=True)
        best = min(candidates, key=lambda m: candidates[m][1]["held_out_logit_mse"])
        candidate, quant = candidates[best]
        quant["candidates"] = {m: q["held_out_logit_mse"] for m, (_, q) in candidates.items()}
        validation = check_int8(analyzer, candidate, val_specs, args.data_dir)
        shipped = all(r["difference"] >= -args.tolerance for r in validation)
        if shipped:
            candidate.replace(target)
        elif target.exists():
            target.unlink()
    report = {"shipped": shipped, "tolerance": args.tolerance, "calibrated_on": [str(s) for s in cal_specs],
              "validation": validation, "quantization": quant,
              "bytes": target.stat().st_size if shipped else None}
    (pkg / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    card = replace_card_section((pkg / "card.md").read_text(), CARD_SECTION, card_section(report))
    (pkg / "card.md").write_text(card)
    for r in validation:
        print(f"{r['source']}: macro AUROC float {r['auroc_float']:.4f}, int8 {r['auroc_int8']:.4f} "
              f"({r['difference']:+.4f})")
    print(f"{'wrote ' + str(target) if shipped else 'no int8 network shipped'}; kept float: {quant['excluded']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
