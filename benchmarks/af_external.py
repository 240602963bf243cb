"""The shipped AF detectors on data they were not trained on: PTB-XL lead I and CPSC 2021 (zero-shot).

``ecgscope-af-1lead`` (whole-strip rhythm model, trained on CinC 2017 AliveCor strips of 9-60 s) and the
"Atrial fibrillation" output of ``ecgscope-17-1lead`` (trained on lead I of PTB-XL folds 1-8) are scored with
their shipped calibration and thresholds, unchanged, on the test records of two transfer tasks:

* ``cinc2017-to-ptbxl-af``: lead I of PTB-XL fold 10 (328 10-s records).  Zero-shot for the AF detector; the
  wearable model's own test fold (in distribution, for reference).
* ``ptbxl-to-cpsc2021-af``: every 10-s window of the 18 CPSC 2021 records (lead I, 200 Hz, Holter-type
  recordings).  Zero-shot for both.  Windows of one patient are correlated, so the CIs here resample
  patients (cluster bootstrap), not windows.

A 10-s record holds ~8-15 beats, fewer than the 20 the AF detector's results warn below: these figures are
its floor on short strips, not its figure on the 30-s+ strips it is meant for.  AUROC, AUPRC and F1 at the
shipped threshold, 95 % percentile-bootstrap CIs.

    .venv/bin/python benchmarks/af_external.py [--data-dir DIR] [--bootstrap 1000]

Writes ``benchmarks/results/af_external.json`` and ``af_external.md``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _common import write_table_and_results

TARGETS = {  # transfer task -> the groups its CIs resample (None: records)
    "cinc2017-to-ptbxl-af": None,
    "ptbxl-to-cpsc2021-af": "patient_id",
}
MODELS = ("ecgscope-af-1lead", "ecgscope-17-1lead")
AF = "Atrial fibrillation"


def _scores(model: str, records: list) -> tuple[np.ndarray, float, str]:
    """Calibrated AF probability of each record and the model's shipped AF threshold."""
    from ecgscope.inference import Analyzer

    an = Analyzer.from_pretrained(model, backend="onnx", threads=2)  # a rhythm model ignores the backend
    j = list(an.labels).index(AF)
    probs = np.concatenate([an.classify_many(records[i : i + 64]) for i in range(0, len(records), 64)])
    return probs[:, j], float(an.package.thresholds[j]), an.package.version


def _metrics(y: np.ndarray, p: np.ndarray, thr: float) -> dict[str, float]:
    from ecgscope.evaluate.metrics import auroc, average_precision, f1_at

    return {"auroc": auroc(y, p), "auprc": average_precision(y, p), "f1": f1_at(y, p, thr),
            "sensitivity": float(np.mean(p[y == 1] >= thr)), "specificity": float(np.mean(p[y == 0] < thr))}


def _bootstrap(y: np.ndarray, p: np.ndarray, thr: float, groups: np.ndarray, n: int, seed: int = 0) -> dict:
    """Percentile CIs, resampling ``groups`` (one per record, or patients) with replacement."""
    rng = np.random.default_rng(seed)
    ids = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in ids]
    reps = []
    while len(reps) < n:
        idx = np.concatenate([members[k] for k in rng.integers(0, len(ids), len(ids))])
        if 0 < y[idx].sum() < len(idx):
            reps.append(_metrics(y[idx], p[idx], thr))
    return {k: [float(np.percentile([r[k] for r in reps], 2.5)), float(np.percentile([r[k] for r in reps], 97.5))]
            for k in reps[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("ECGSCOPE_DATA_DIR"))
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    from ecgscope.tasks import get_task

    t0 = time.time()
    rows = []
    for task_name, group_col in TARGETS.items():
        task = get_task(task_name)
        ds = task.open(args.data_dir)
        test = task.splits(ds)["test"]
        y_all = task.target_matrix(ds)[test, 0]
        known = ~np.isnan(y_all)
        test, y = test[known], y_all[known].astype(int)
        records = [ds.load(int(i)) for i in test]
        groups = ds.index[group_col].to_numpy()[test] if group_col else np.arange(len(test))
        for model in MODELS:
            p, thr, version = _scores(model, records)
            row = {"target": task_name, "model": model, "version": version, "n": int(len(y)), "n_af": int(y.sum()),
                   "n_groups": int(len(np.unique(groups))), "ci_over": group_col or "records", "threshold": thr,
                   **_metrics(y, p, thr), "ci": _bootstrap(y, p, thr, groups, args.bootstrap)}
            rows.append(row)
            print(f"{task_name:24s} {model:20s} AUROC {row['auroc']:.3f} F1 {row['f1']:.3f}", flush=True)

    lines = ["# AF detectors on data they were not trained on (shipped calibration and thresholds, unchanged)", "",
             "| test records | model | AF / records | AUROC [95 % CI] | AUPRC | F1 at the shipped threshold [95 % CI] "
             "| sensitivity | specificity | CI resamples |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ci = r["ci"]
        lines.append(f"| {r['target']} | {r['model']} {r['version']} | {r['n_af']} / {r['n']} | {r['auroc']:.3f} "
                     f"[{ci['auroc'][0]:.3f}, {ci['auroc'][1]:.3f}] | {r['auprc']:.3f} | {r['f1']:.3f} "
                     f"[{ci['f1'][0]:.3f}, {ci['f1'][1]:.3f}] | {r['sensitivity']:.3f} | {r['specificity']:.3f} | "
                     f"{r['n_groups']} {r['ci_over']} |")
    lines += ["", "PTB-XL fold 10 is `ecgscope-17-1lead`'s own test fold (it was trained on folds 1-8): in "
              "distribution for it, zero-shot for `ecgscope-af-1lead` (CinC 2017 only). CPSC 2021 is zero-shot for "
              "both. 10-s records hold ~8-15 beats, below the 20 the AF detector is meant for."]
    write_table_and_results("af_external", lines, {"seconds": round(time.time() - t0, 1), "rows": rows})


if __name__ == "__main__":
    main()
