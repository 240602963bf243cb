"""QRS detection on the MIT-BIH Arrhythmia records: ecgscope's detector vs NeuroKit2's default, bxb-style.

Scoring follows bxb / ANSI-AAMI EC57 (``ecgscope.evaluate.fiducials``): every beat annotation of the
reference ``.atr`` file is a reference beat; detections are matched one-to-one inside 150 ms; the first
5 minutes of each record are a learning period and are not scored; Se and PPV are **gross** (TP, FN, FP
summed over all records before dividing).  Methods, in the same run:

* ``ecgscope`` — ``ecg_peaks(record)``: both leads, fused;
* ``ecgscope-lead0`` — the same detector on the first lead only (usually MLII), for reference;
* ``neurokit`` — NeuroKit2's ``ecg_clean`` + ``ecg_peaks`` (method "neurokit") on lead II (MLII) or,
  where a record has no MLII (102, 104), its first lead.

Goal (issue 3): gross Se and PPV >= 99.7 % for ``ecgscope`` (Pan-Tompkins reports ≈ 99.3 %).
Secondary references, same detectors: the CPSC 2019 sample (50 noisy 10-s single-lead records, CPSC's
own 75 ms tolerance, whole records) and the CPSC 2021 sample (18 two-lead 200 Hz dynamic ECGs with
AF, 150 ms, whole records).

    .venv/bin/python benchmarks/qrs_mitdb.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ecgscope.datasets import open_dataset  # noqa: E402
from ecgscope.evaluate.fiducials import DetectionScore, gross, score_beats  # noqa: E402
from ecgscope.io import load_record  # noqa: E402
from ecgscope.signal.peaks import ecg_peaks  # noqa: E402

GOAL_PCT = 99.7
METHODS = {
    "ecgscope": lambda rec: ecg_peaks(rec),
    "ecgscope-lead0": lambda rec: ecg_peaks(rec.signal[0], rec.fs),
    "neurokit": lambda rec: ecg_peaks(rec, method="neurokit"),
}


def _clean(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_clean(v) for v in o]
    return o


def score_dataset(items, skip_s: float, tolerance_s: float) -> tuple[dict[str, list[DetectionScore]], dict, list]:
    """items: iterable of (record_id, Record, reference beat samples)."""
    per = {m: [] for m in METHODS}
    secs = {m: 0.0 for m in METHODS}
    ids = []
    for rid, rec, ref in items:
        ids.append(rid)
        for m, fn in METHODS.items():
            t0 = time.perf_counter()
            det = fn(rec)
            secs[m] += time.perf_counter() - t0
            per[m].append(score_beats(ref, det, rec.fs, skip_s=skip_s, tolerance_s=tolerance_s))
    return per, secs, ids


def mitdb_items(data_dir):
    ds = open_dataset("mitdb", data_dir)
    for rid in ds.record_ids():
        yield rid, load_record(str(ds.root / rid)), ds.annotations(rid).beat_samples


def cpsc2019_items(data_dir):
    ds = open_dataset("cpsc2019", data_dir)
    for i in range(len(ds)):
        yield str(ds.index.iloc[i]["record_id"]), ds.load(i), ds.r_peaks(i)


def cpsc2021_items(data_dir):
    ds = open_dataset("cpsc2021", data_dir)
    for rid in sorted(set(ds.index["record_id"])):
        yield rid, load_record(str(ds.root / rid)), ds.annotations(rid).beat_samples


def summary(per: dict[str, list[DetectionScore]]) -> dict:
    out = {}
    for m, scores in per.items():
        g = gross(scores)
        out[m] = {"tp": g.tp, "fn": g.fn, "fp": g.fp, "gross_se_pct": 100 * g.sensitivity,
                  "gross_ppv_pct": 100 * g.ppv, "gross_f1_pct": 100 * g.f1,
                  "average_se_pct": 100 * float(np.nanmean([s.sensitivity for s in scores])),
                  "average_ppv_pct": 100 * float(np.nanmean([s.ppv for s in scores]))}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "qrs_mitdb.json"))
    args = ap.parse_args()

    per, secs, ids = score_dataset(mitdb_items(args.data_dir), skip_s=300.0, tolerance_s=0.150)
    names = list(METHODS)
    print("MIT-BIH Arrhythmia (100-series), bxb-style: 150 ms, first 5 min skipped")
    print(f"{'record':6s} | " + " | ".join(f"{m:>17s}" for m in names))
    print(f"{'':6s} | " + " | ".join(f"{'TP':>5s} {'FN':>5s} {'FP':>5s}" for _ in names))
    records = {}
    for k, rid in enumerate(ids):
        cells = []
        for m in names:
            s = per[m][k]
            cells.append(f"{s.tp:5d} {s.fn:5d} {s.fp:5d}")
        records[rid] = {m: {"tp": per[m][k].tp, "fn": per[m][k].fn, "fp": per[m][k].fp} for m in names}
        print(f"{rid:6s} | " + " | ".join(cells))
    mit = summary(per)
    print()
    print(f"{'method':15s} | {'TP':>6s} | {'FN':>5s} | {'FP':>5s} | {'gross Se %':>10s} | {'gross PPV %':>11s} | "
          f"{'F1 %':>6s} | {'s/record':>8s}")
    for m in names:
        s = mit[m]
        print(f"{m:15s} | {s['tp']:6d} | {s['fn']:5d} | {s['fp']:5d} | {s['gross_se_pct']:10.3f} | "
              f"{s['gross_ppv_pct']:11.3f} | {s['gross_f1_pct']:6.3f} | {secs[m] / len(ids):8.3f}")
    goal_met = mit["ecgscope"]["gross_se_pct"] >= GOAL_PCT and mit["ecgscope"]["gross_ppv_pct"] >= GOAL_PCT
    print(f"goal gross Se and PPV >= {GOAL_PCT} % (ecgscope): {'met' if goal_met else 'NOT met'}")

    extra = {}
    for name, items, skip, tol in (("cpsc2019", cpsc2019_items, 0.0, 0.075), ("cpsc2021", cpsc2021_items, 0.0, 0.150)):
        p, _, ids2 = score_dataset(items(args.data_dir), skip_s=skip, tolerance_s=tol)
        extra[name] = {"records": len(ids2), "tolerance_ms": tol * 1000, **summary(p)}
        print(f"\n{name} ({len(ids2)} records, {tol * 1000:.0f} ms, whole records)")
        for m in names:
            s = extra[name][m]
            print(f"{m:15s} | TP {s['tp']:6d} | FN {s['fn']:5d} | FP {s['fp']:5d} | Se {s['gross_se_pct']:7.3f} % | "
                  f"PPV {s['gross_ppv_pct']:7.3f} %")

    out = {
        "benchmark": "qrs_mitdb",
        "command": "python benchmarks/qrs_mitdb.py " + " ".join(sys.argv[1:]),
        "protocol": "bxb-style: all beat annotations, one-to-one matching within 150 ms, first 300 s skipped, "
                    "gross statistics",
        "mitdb": {"records": ids, "per_record": records, "summary": mit,
                  "seconds_per_record": {m: secs[m] / len(ids) for m in names}},
        "goal_pct": GOAL_PCT,
        "goal_met": bool(goal_met),
        "secondary": extra,
        "machine": {"python": platform.python_version(), "threads": 1},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(_clean(out), indent=1))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
