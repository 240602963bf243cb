"""The shipped AF detector (record-level rhythm model) against the 5-s-window networks, CinC 2017 test fold.

Trains the rhythm model exactly as ``make models-af-1lead`` does (:func:`ecgscope.inference.build.train_rhythm_package`:
rhythm statistics of every record, out-of-fold calibration and F1 threshold over folds 1-9, the model fitted on
folds 1-9), into a temporary package, and scores fold 10 once with bootstrap 95 % CIs.  The network rows
come from ``benchmarks/results/shipped_models.json`` (5-s windows, record probability = mean over windows,
calibrated and thresholded on fold 9): same test records, same metric code.

    .venv/bin/python benchmarks/af_rhythm_model.py [--data-dir DIR] [--C 1.0]

Writes ``benchmarks/results/af_rhythm_model.json`` and ``af_rhythm_model.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from _common import RESULTS, write_table_and_results


def _network_rows() -> list[dict]:
    path = RESULTS / "shipped_models.json"
    if not path.is_file():
        return []
    rows = []
    for v in json.loads(path.read_text())["variants"]:
        if v["task"] != "cinc2017-af":
            continue
        lo, hi = v["macro_auroc_ci_mean"]
        rows.append({"model": f"{v['model']} ({v['strategy']}, 5-s windows)", "seeds": len(v["seeds"]),
                     "auroc": v["macro_auroc_mean"], "auroc_ci": [lo, hi], "auprc": v["macro_auprc_mean"],
                     "f1": v["macro_f1_mean"], "f1_ci": None})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("ECGSCOPE_DATA_DIR"))
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    from ecgscope.inference.build import train_rhythm_package

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="ecgscope-af-") as tmp:
        report = train_rhythm_package("cinc2017-af", Path(tmp) / "pkg", name="af-rhythm-benchmark", version="0",
                                      data_dir=args.data_dir, C=args.C, n_bootstrap=args.bootstrap,
                                      progress=lambda m: print(m, flush=True))
    row = report["test"]["evaluation"]["per_label"][0]
    rhythm = {"model": "rhythm-logistic (whole strip; shipped ecgscope-af-1lead)", "seeds": 1, "auroc": row["auroc"],
              "auroc_ci": [row["auroc_lo"], row["auroc_hi"]], "auprc": row["auprc"], "f1": row["f1"],
              "f1_ci": [row["f1_lo"], row["f1_hi"]]}
    rows = [rhythm, *_network_rows()]
    lines = ["# AF vs rest, CinC 2017 test fold 10 "
             f"({row['n_pos']} AF of {row['n']} assessed records; noisy records not assessed)", "",
             "| model | seeds | AUROC [95 % CI] | AUPRC | F1 at the calibrated threshold [95 % CI] |", "|---|---|---|---|---|"]
    for r in rows:
        f1_ci = f" [{r['f1_ci'][0]:.3f}, {r['f1_ci'][1]:.3f}]" if r["f1_ci"] else " (CI: see shipped_models.json)"
        lines.append(f"| {r['model']} | {r['seeds']} | {r['auroc']:.3f} [{r['auroc_ci'][0]:.3f}, {r['auroc_ci'][1]:.3f}] "
                     f"| {r['auprc']:.3f} | {r['f1']:.3f}{f1_ci} |")
    lines += ["", f"Rhythm model: out-of-fold over folds 1-9 AUROC {report['out_of_fold_auroc']:.3f}, "
              f"F1 {report['out_of_fold_f1']:.3f}; threshold "
              f"{report['calibration']['thresholds']['thresholds'][0]:.3f} (F1-optimal on the out-of-fold probabilities). "
              "Network rows: mean over seeds of the test metrics (CI columns are the means of the seeds' CI bounds).",
              "", "Largest standardised coefficients (log-odds per SD):", "",
              "| statistic | coefficient |", "|---|---|"]
    coefs = sorted(report["coefficients"].items(), key=lambda kv: -abs(kv[1]))
    lines += [f"| {k} | {v:+.3f} |" for k, v in coefs[:10]]
    write_table_and_results("af_rhythm_model", lines,
                            {"seconds": round(time.time() - t0, 1), "rows": rows, "report": report})


if __name__ == "__main__":
    main()
