"""Global PR, QRS and QT on LUDB: per-beat medians vs the median beat, against the cardiologists' fiducials.

Reference: LUDB's per-lead expert annotations made global per beat (earliest onset, latest offset over
the 12 leads, the IEC 60601-2-25 definition) and summarised as the median over beats
(``ecgscope.evaluate.fiducials.reference_global_intervals``).  ecgscope: the learned delineation of the
record measured two ways (``ecg_measurements(method="beats")``: the median of per-beat intervals;
``method="median_beat"``: measured once on the dominant-class median beat).  Error = ecgscope minus
reference, per record; records where either side has no value (no P wave in AF, say) are left out of
that interval and counted.

Data: LUDB fold 10 (never used to train or select the delineator) is the test set; fold 9 (which
chose the delineator's configuration) and folds 1-8 (its training records) are shown apart, so a
figure on seen records is never mixed with the test one.  Tolerances printed beside the errors are the
IEC 60601-2-25 limits for global measurements on the CSE database (mean difference / SD: PR ±10 / 10 ms,
QRS ±6 / 10 ms, QT ±12 / 30 ms), applied here to LUDB for orientation only: LUDB is not the CSE set and
its annotation is per lead.  95 % CIs of the MAE by bootstrap over records (1000 replicates).

    .venv/bin/python benchmarks/measurements_ludb.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import write_table_and_results  # noqa: E402

from ecgscope.datasets import open_dataset  # noqa: E402
from ecgscope.evaluate.fiducials import GLOBAL_INTERVALS, reference_global_intervals  # noqa: E402
from ecgscope.signal import ecg_delineate, ecg_measurements  # noqa: E402

METHODS = ("beats", "median_beat")
IEC_LIMITS_MS = {"pr_ms": (10.0, 10.0), "qrs_ms": (6.0, 10.0), "qt_ms": (12.0, 30.0)}  # |mean|, SD
SPLITS = {"test (fold 10)": (10,), "validation (fold 9)": (9,), "delineator training (folds 1-8)": tuple(range(1, 9))}


def measure(data_dir: str | None) -> list[dict]:
    ds = open_dataset("ludb", data_dir)
    rows = []
    for i in range(len(ds)):
        rec = ds.load(i)
        ref = reference_global_intervals(ds.annotations(i), rec.fs)
        d = ecg_delineate(rec)
        row = {"record_id": str(ds.index.iloc[i]["record_id"]), "fold": int(ds.index.iloc[i]["fold"]),
               "reference": ref, "seconds": {}}
        for m in METHODS:
            t0 = time.perf_counter()
            meas = ecg_measurements(rec, d, method=m)
            row["seconds"][m] = time.perf_counter() - t0
            row[m] = {k: meas[k] for k in GLOBAL_INTERVALS}
            row[m]["method_used"] = meas["method"]
        rows.append(row)
    return rows


def summarise(rows: list[dict], folds: tuple[int, ...], seed: int = 0) -> dict:
    sel = [r for r in rows if r["fold"] in folds]
    out: dict = {"records": len(sel)}
    rng = np.random.default_rng(seed)
    for iv in GLOBAL_INTERVALS:
        for m in METHODS:
            pairs = [(r[m][iv], r["reference"][iv]) for r in sel if r[m][iv] is not None and r["reference"][iv] is not None]
            err = np.array([a - b for a, b in pairs], dtype=np.float64)
            if err.size == 0:
                out[f"{iv}/{m}"] = {"n": 0}
                continue
            boot = np.abs(err[rng.integers(0, err.size, (1000, err.size))]).mean(axis=1)
            mean_lim, sd_lim = IEC_LIMITS_MS[iv]
            out[f"{iv}/{m}"] = {"n": int(err.size), "missing": len(sel) - int(err.size), "mean_ms": float(err.mean()),
                                "sd_ms": float(err.std(ddof=1)) if err.size > 1 else 0.0,
                                "mae_ms": float(np.abs(err).mean()),
                                "mae_ci_ms": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
                                "within_iec_limits": bool(abs(err.mean()) <= mean_lim
                                                          and (err.std(ddof=1) if err.size > 1 else 0) <= sd_lim)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = measure(args.data_dir)
    summaries = {name: summarise(rows, folds) for name, folds in SPLITS.items()}
    lines = ["# Global intervals on LUDB: per-beat medians vs the median beat",
             "",
             "Data: LUDB (12-lead, 10 s, 500 Hz), expert per-lead fiducials made global per beat (earliest onset, "
             "latest offset). Error = ecgscope - reference, per record. Fold 10 is the test set; folds 1-9 trained "
             "or selected the delineator and are shown apart. IEC 60601-2-25 limits (CSE database: |mean| / SD, ms) "
             "are for orientation only.",
             "",
             "| records | interval | method | n | mean ± SD ms | MAE ms [95 % CI] | IEC limits | within |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for name, s in summaries.items():
        for iv in GLOBAL_INTERVALS:
            for m in METHODS:
                c = s[f"{iv}/{m}"]
                if c["n"] == 0:
                    lines.append(f"| {name} ({s['records']}) | {iv[:-3].upper()} | {m} | 0 | – | – | – | – |")
                    continue
                lim = IEC_LIMITS_MS[iv]
                lines.append(f"| {name} ({s['records']}) | {iv[:-3].upper()} | {m} | {c['n']} | "
                             f"{c['mean_ms']:+.1f} ± {c['sd_ms']:.1f} | {c['mae_ms']:.1f} "
                             f"[{c['mae_ci_ms'][0]:.1f}, {c['mae_ci_ms'][1]:.1f}] | ±{lim[0]:g} / {lim[1]:g} | "
                             f"{'yes' if c['within_iec_limits'] else 'no'} |")
    ms = {m: 1000 * float(np.mean([r["seconds"][m] for r in rows])) for m in METHODS}
    fallback = sum(r["median_beat"]["method_used"] != "median_beat" for r in rows)
    lines += ["", "Time per record (measurement only, after the delineation; one core): "
              + ", ".join(f"{m} {v:.1f} ms" for m, v in ms.items())
              + f". Records where the median beat could not be built (fell back to beats): {fallback}."]
    write_table_and_results("measurements_ludb", lines, {"splits": {k: list(v) for k, v in SPLITS.items()},
                                                         "summary": summaries, "ms_per_record": ms,
                                                         "median_beat_fallbacks": fallback, "records": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
