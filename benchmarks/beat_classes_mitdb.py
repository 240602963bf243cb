"""AAMI beat classes, inter-patient: leave one patient out over the beat-labelled records here, EC57 statistics.

Each patient's records are classified by a classifier trained (``ecgscope.train.beat_classifier``, the shipped
recipe) on every other patient's records, so no beat of a patient is on both sides.  Beats are ecgscope's own
detections; scoring is EC57 / bxb class statistics (``ecgscope.evaluate.beat_classes``): 150 ms matching, the
first 5 min of each MIT-BIH record not scored, missed beats count against Se, extra detections against +P,
gross over records, 95 % CIs from 1000 bootstrap resamples of records.

Data: the 20 MIT-BIH 100-series records without paced beats (102, 104 and 107 are left out, as EC57 does) and
the 18 CPSC 2021 sample records (whole records).  The usual inter-patient test set (de Chazal et al. 2004:
train on half of MIT-BIH, test on the other half, 200-series included) cannot be run here: the 200-series is
not in ``../shared/data``.

    .venv/bin/python benchmarks/beat_classes_mitdb.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from ecgscope.evaluate.beat_classes import (  # noqa: E402
    PREDICTED_COLUMNS,
    REFERENCE_ROWS,
    bootstrap_ci,
    class_statistics,
)
from ecgscope.train.beat_classifier import collect, leave_one_patient_out  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _common import write_table_and_results  # noqa: E402

GOALS = {"V": ("se", 90.0, "ppv", 90.0), "S": ("se", 70.0, None, None)}
# de Chazal, O'Dwyer & Reilly 2004 (IEEE TBME 51:1196), inter-patient DS1 -> DS2, the reference the issue names
DE_CHAZAL = {"N": (86.9, 99.2), "S": (75.9, 38.5), "V": (77.7, 81.9)}


def _cell(stat: dict, ci: dict, key: str) -> str:
    v = stat[key]
    lo, hi = ci[key]
    return "n/a" if not np.isfinite(v) else f"{v:.1f} [{lo:.1f}, {hi:.1f}]"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("ECGSCOPE_DATA_DIR", "../shared/data"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    records = collect(args.data_dir)
    confs = leave_one_patient_out(records)
    lines = ["# AAMI beat classes, leave one patient out (EC57 class statistics)", "",
             "Data: MIT-BIH 100-series without the paced records 102/104/107 (20 records, 30 min, first 5 min not "
             "scored) and the CPSC 2021 sample (18 records of 11 patients, 200 Hz, whole records). Each patient is "
             "classified by a model trained on all other patients. Beats: ecgscope's own detections. Gross Se / +P "
             "(%) with 95 % bootstrap CIs over records. The MIT-BIH 200-series, where published inter-patient "
             "figures are measured, is not here.", "",
             "| data | class | reference beats | Se | +P | de Chazal 2004 (DS2) Se / +P | goal |",
             "|---|---|---|---|---|---|---|"]
    payload: dict = {"protocol": "leave one patient out; EC57 class statistics; 150 ms; MIT-BIH first 300 s "
                                 "not scored; gross; bootstrap over records", "sets": {}}
    sets = {"MIT-BIH 100-series (20 records)": [r for r in records if r.source == "mitdb"],
            "CPSC 2021 sample (18 records)": [r for r in records if r.source == "cpsc2021"]}
    for name, recs in sets.items():
        per = [confs[r.record_id] for r in recs]
        total = np.sum(per, axis=0)
        stats, ci = class_statistics(total), bootstrap_ci(per)
        payload["sets"][name] = {"records": [r.record_id for r in recs], "statistics": stats, "ci95": ci,
                                 "confusion": {"rows": REFERENCE_ROWS, "columns": PREDICTED_COLUMNS,
                                               "counts": total.tolist()},
                                 "per_record": {r.record_id: confs[r.record_id].tolist() for r in recs}}
        for c in ("N", "S", "V"):
            goal = ""
            if c in GOALS and name.startswith("MIT"):
                k1, g1, k2, g2 = GOALS[c]
                ok = stats[c][k1] >= g1 and (k2 is None or stats[c][k2] >= g2)
                goal = f"Se ≥ {g1:.0f}" + (f", +P ≥ {g2:.0f}" if k2 else "") + (": met" if ok else ": **not met**")
            ref = f"{DE_CHAZAL[c][0]} / {DE_CHAZAL[c][1]}" if name.startswith("MIT") else ""
            lines.append(f"| {name} | {c} | {stats[c]['reference']} | {_cell(stats[c], ci[c], 'se')} | "
                         f"{_cell(stats[c], ci[c], 'ppv')} | {ref} | {goal} |")
        print(name, {c: (round(stats[c]["se"], 1), round(stats[c]["ppv"], 1)) for c in ("N", "S", "V")}, flush=True)
    mit = np.sum([confs[r.record_id] for r in sets["MIT-BIH 100-series (20 records)"]], axis=0)
    lines += ["", "Confusion, MIT-BIH (rows: reference AAMI class, X = detection with no reference beat; "
                  "columns: given class, O = not detected):", "",
              "| | " + " | ".join(PREDICTED_COLUMNS) + " |", "|---|" + "---|" * len(PREDICTED_COLUMNS)]
    lines += [f"| {r} | " + " | ".join(str(int(v)) for v in mit[i]) + " |" for i, r in enumerate(REFERENCE_ROWS)]
    lines += ["", "Per MIT-BIH record with ≥ 10 reference V or S beats: V found / V, S found / S, N given V or S:", "",
              "| record | V | S | N → V | N → S |", "|---|---|---|---|---|"]
    for r in sets["MIT-BIH 100-series (20 records)"]:
        c = confs[r.record_id]
        if c[2].sum() >= 10 or c[1].sum() >= 10:
            lines.append(f"| {r.record_id} | {c[2, 2]} / {c[2].sum()} | {c[1, 1]} / {c[1].sum()} | {c[0, 2]} | "
                         f"{c[0, 1]} |")
    lines += ["", f"Wall time {time.perf_counter() - t0:.0f} s (2 cores)."]
    write_table_and_results("beat_classes_mitdb", lines, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
