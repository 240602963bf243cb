"""The limb-electrode reversal detector on records it was never trained or tuned on.

The detector (``ecgscope.signal.lead_reversal``, trained on PTB-XL folds 1-8, threshold from fold 9) reads:

* PTB-XL fold 10 at 100 Hz (328 records; same hospital, never seen),
* PTB-XL fold 10 at 500 Hz (80 records; the same path as an upload at the cart's own rate),
* LUDB, all 160 records (another hospital and cart: out of source).

Each record is read as recorded (its flag rate is the false-positive rate, assuming the source has no
reversed records; any it has would count here as false positives) and with each of the five limb swaps
applied to the whole signal (end to end: resampling, R peaks and median beat on the swapped record).
Sensitivity is per swap; 95 % Wilson intervals; AUROC of the probability, swapped (detectable swaps) vs as
recorded.

    .venv/bin/python benchmarks/lead_reversal.py [--data-dir DIR]

Writes ``benchmarks/results/lead_reversal.json`` and ``lead_reversal.md``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import rate_cell, wilson, write_table_and_results

from ecgscope.datasets import open_dataset
from ecgscope.evaluate.metrics import auroc
from ecgscope.leads import STANDARD_LEADS
from ecgscope.signal.lead_reversal import DETECTABLE_SWAPS, LIMB_SWAPS, apply_limb_swap, ecg_lead_reversal

SETS = (("PTB-XL fold 10, 100 Hz", "ptbxl100", (10,)), ("PTB-XL fold 10, 500 Hz", "ptbxl", (10,)),
        ("LUDB, all records (out of source)", "ludb", None))


def score_set(name: str, folds, data_dir) -> dict:
    ds = open_dataset(name, data_dir)
    rows = np.arange(len(ds)) if folds is None else np.flatnonzero(ds.index["fold"].isin(folds).to_numpy())
    probs: dict[str, list[float]] = {"none": [], **{s: [] for s in LIMB_SWAPS}}
    flags: dict[str, list[bool]] = {k: [] for k in probs}
    not_assessed = 0
    for i in rows:
        rec = ds.load(int(i)).select_leads(list(STANDARD_LEADS))
        versions = {"none": rec, **{s: rec.replace(signal=apply_limb_swap(rec.signal, s)) for s in LIMB_SWAPS}}
        results = {k: ecg_lead_reversal(v) for k, v in versions.items()}
        if results["none"].probability is None:
            not_assessed += 1
            continue
        for k, r in results.items():
            probs[k].append(r.probability if r.probability is not None else 0.0)
            flags[k].append(r.detected)
    n = len(flags["none"])
    out = {"records": int(len(rows)), "assessed": n, "not_assessed": not_assessed, "rates": {}}
    for k, f in flags.items():
        hits = int(np.sum(f))
        lo, hi = wilson(hits, n)
        out["rates"][k] = {"flagged": hits, "n": n, "rate": hits / n if n else float("nan"), "ci95": [lo, hi]}
    swapped = np.concatenate([probs[s] for s in DETECTABLE_SWAPS])
    y = np.r_[np.zeros(n), np.ones(len(swapped))]
    out["auroc_detectable_vs_none"] = auroc(y, np.r_[probs["none"], swapped])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    results = {label: score_set(name, folds, args.data_dir) for label, name, folds in SETS}
    head = "| data | records | false positives (as recorded) | " + " | ".join(f"{s} Se" for s in LIMB_SWAPS) \
        + " | AUROC |"
    lines = ["Limb-electrode reversal detector (trained on PTB-XL folds 1-8, threshold from fold 9; none of these "
             "records seen). Rates with 95 % Wilson CIs; LA/LL is not modelled as detectable.", "", head,
             "|" + "---|" * (4 + len(LIMB_SWAPS))]

    def cell(r: dict) -> str:
        return rate_cell(r["flagged"], r["n"])

    for label, res in results.items():
        rates = res["rates"]
        lines.append(f"| {label} | {res['assessed']} of {res['records']} | {cell(rates['none'])} | "
                     + " | ".join(cell(rates[s]) for s in LIMB_SWAPS) + f" | {res['auroc_detectable_vs_none']:.3f} |")
    lines.append("")
    lines.append(f"Run time {time.perf_counter() - t0:.0f} s on this machine.")
    write_table_and_results("lead_reversal", lines, {"sets": results})


if __name__ == "__main__":
    main()
