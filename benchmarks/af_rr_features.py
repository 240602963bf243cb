"""AF vs rest on CinC 2017 from record-level RR-interval irregularity alone (no network).

For each record: R peaks with :func:`ecgscope.signal.ecg_peaks` over the whole strip, then six
rhythm features (log mean RR, RR coefficient of variation, median / mean / 90th-percentile
successive RR difference relative to the RR, share of successive differences above 50 ms).  A
class-balanced logistic regression is fitted on folds 1-8, its F1 threshold chosen on fold 9, and
fold 10 (the cinc2017-af test split) is scored with bootstrap 95 % CIs.  This is the evidence for
a record-level rhythm path next to the windowed network (see docs/models.md): the shipped AF model
sees 5-s windows, which hold only a handful of beats each.

    .venv/bin/python benchmarks/af_rr_features.py [--data-dir DIR]

Writes ``benchmarks/results/af_rr_features.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
FEATURES = ("log_mean_rr", "rr_cv", "median_drr_rel", "share_drr_gt_50ms", "mean_drr_rel", "p90_drr_rel")


def rr_features(peaks: np.ndarray, fs: float) -> np.ndarray:
    rr = np.diff(peaks) / fs
    if len(rr) < 4:  # too few beats to say anything about the rhythm
        return np.full(len(FEATURES), np.nan)
    d = np.abs(np.diff(rr))
    return np.array([np.log(rr.mean()), rr.std() / rr.mean(), np.median(d) / np.median(rr), np.mean(d > 0.05),
                     d.mean() / rr.mean(), np.percentile(d, 90) / np.median(rr)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("ECGSCOPE_DATA_DIR"))
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from ecgscope.evaluate.metrics import evaluate_multilabel
    from ecgscope.signal import ecg_peaks
    from ecgscope.tasks import get_task

    t0 = time.time()
    task = get_task("cinc2017-af")
    ds = task.open(args.data_dir)
    y = task.target_matrix(ds)[:, 0]
    parts = task.splits(ds)
    feats = {}
    for name, rows in parts.items():
        out = []
        for r in rows:
            rec = ds.load(int(r))
            out.append(rr_features(ecg_peaks(rec), rec.fs))
        feats[name] = np.stack(out)
    fill = np.nanmedian(feats["train"], axis=0)
    feats = {k: np.where(np.isnan(v), fill, v) for k, v in feats.items()}
    known = {k: ~np.isnan(y[parts[k]]) for k in parts}
    mean, std = feats["train"].mean(axis=0), feats["train"].std(axis=0) + 1e-6
    clf = LogisticRegression(class_weight="balanced", max_iter=1000)
    clf.fit((feats["train"][known["train"]] - mean) / std, y[parts["train"]][known["train"]])
    prob = {k: clf.predict_proba((feats[k] - mean) / std)[:, 1] for k in ("val", "test")}
    grid = np.linspace(0.05, 0.95, 91)
    yv = y[parts["val"]][known["val"]]
    threshold = float(grid[np.argmax([f1_score(yv, prob["val"][known["val"]] >= t) for t in grid])])
    report = evaluate_multilabel(y[parts["test"]][:, None], prob["test"][:, None], labels=task.labels,
                                 thresholds=np.array([threshold]), n_bootstrap=args.bootstrap)
    row = report.to_dict()["per_label"][0]
    print(f"AF vs rest from RR features, CinC 2017 fold 10 ({row['n_pos']} AF of {row['n']} assessed): "
          f"AUROC {row['auroc']:.3f} [{row['auroc_lo']:.3f}, {row['auroc_hi']:.3f}], "
          f"F1 at the validation threshold {threshold:.2f}: {row['f1']:.3f} [{row['f1_lo']:.3f}, {row['f1_hi']:.3f}]")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "af_rr_features.json"
    out.write_text(json.dumps({"task": task.name, "features": FEATURES, "threshold_from_val": threshold,
                               "seconds": round(time.time() - t0, 1), "evaluation": report.to_dict()},
                              indent=2, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
