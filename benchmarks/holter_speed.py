"""Holter analysis speed and memory on 1, 6 and 24 hours of real ECG, and its beats against the reference.

The long records are **assembled** from the MIT-BIH Arrhythmia records here (the 23 records of the 100 series,
30 min each, 2 leads at 360 Hz: channel 1 is MLII except in 102/104, channel 2 V1/V2/V4/V5), concatenated in
record order and repeated until the duration is reached, and written as one format-16 WFDB record; their beat
annotations are shifted and concatenated the same way.  ``ecgscope.holter.holter_analyze`` then runs in a fresh
process pinned to one core (``taskset -c 0``), 5-min chunks; wall time and the process's peak RSS are measured
from outside.  Beats are scored bxb-style (150 ms, gross over the whole record, no learning period).

    .venv/bin/python benchmarks/holter_speed.py [--data-dir DIR] [--hours 1 6 24]

Writes ``benchmarks/results/holter_speed.{md,json}``.  Goals (issue 18): 24 h <= 120 s on one core, peak memory
<= 1 GB, linear in duration.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import wfdb
from _common import write_table_and_results

from ecgscope.config import resolve_data_dir
from ecgscope.datasets.mitdb import read_beat_annotations
from ecgscope.evaluate.fiducials import score_beats

RECORDS = ["100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "111", "112", "113", "114", "115",
           "116", "117", "118", "119", "121", "122", "123", "124"]


def assemble(root: Path, hours: float, out: Path) -> tuple[Path, np.ndarray, list[str]]:
    fs, target = 360, int(hours * 3600 * 360)
    parts, refs, used, n = [], [], [], 0
    available = [r for r in RECORDS if (root / f"{r}.hea").exists()]
    while n < target:
        for rid in available:
            if n >= target:
                break
            rec = wfdb.rdrecord(str(root / rid), physical=False)
            x = (rec.d_signal.T.astype(np.int32) - np.asarray(rec.baseline)[:, None])[:, : target - n]
            beats = read_beat_annotations(str(root / rid)).beat_samples
            refs.append(beats[beats < x.shape[1]] + n)
            parts.append(x.astype(np.int16))
            used.append(rid)
            n += x.shape[1]
    signal = np.concatenate(parts, axis=1)
    wfdb.wrsamp(out.name, fs=fs, units=["mV", "mV"], sig_name=["ch1", "ch2"], d_signal=signal.T, fmt=["16", "16"],
                adc_gain=[200.0, 200.0], baseline=[0, 0], write_dir=str(out.parent))
    return out.with_suffix(".hea"), np.concatenate(refs), used


_CHILD = """
import json, sys, numpy as np
from ecgscope.holter import holter_analyze
res = holter_analyze(sys.argv[1])
np.save(sys.argv[2], res.peaks)
d = res.to_dict()
# this process's own high-water mark (VmHWM belongs to the image exec started: getrusage's ru_maxrss would also
# count the parent's pages at fork time)
hwm = next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith("VmHWM:"))
print(json.dumps({"beats": d["beats"]["total"], "timing_ms": d["timing_ms"], "warnings": d["warnings"],
                  "classes": d["beats"]["classes"]["counts"], "af_windows": d["atrial_fibrillation"]["windows_called"],
                  "peak_rss_mb": round(hwm / 1024, 1)}))
"""


def run_one(hea: Path, peaks_out: Path) -> dict:
    cmd = [sys.executable, "-c", _CHILD, str(hea), str(peaks_out)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    wall = time.perf_counter() - t0
    return {"wall_s": round(wall, 2), **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--hours", type=float, nargs="+", default=[1.0, 6.0, 24.0])
    args = ap.parse_args()
    root = resolve_data_dir(args.data_dir) / "mitdb"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for hours in sorted(args.hours):
            t = time.perf_counter()
            hea, ref, used = assemble(root, hours, Path(tmp) / f"holter{hours:g}h")
            build_s = time.perf_counter() - t
            r = run_one(hea, Path(tmp) / "peaks.npy")
            s = score_beats(ref, np.load(Path(tmp) / "peaks.npy"), 360.0, skip_s=0)
            r.update(hours=hours, records_used=len(used), assemble_s=round(build_s, 1),
                     file_mb=round(hea.with_suffix(".dat").stat().st_size / 1024**2, 1),
                     reference_beats=int(ref.size), se=round(s.tp / (s.tp + s.fn), 5),
                     ppv=round(s.tp / (s.tp + s.fp), 5), s_per_hour=round(r["wall_s"] / hours, 2))
            rows.append(r)
            print(r, flush=True)
            for f in Path(tmp).glob(f"holter{hours:g}h*"):
                f.unlink()
    day = next((r for r in rows if r["hours"] == 24), rows[-1])
    lines = ["# Holter analysis: speed, memory and beats on assembled MIT-BIH recordings", "",
             "Data: the 23 MIT-BIH Arrhythmia records of the 100 series here (30 min, 2 leads, 360 Hz each), "
             "concatenated and repeated to the duration (assembled, not a real 24-h Holter); their reference beats "
             "shifted the same way. `holter_analyze` (R peaks, AAMI beat classes, AF windows, HRV), 5-min chunks, one "
             "process pinned to one core.", "",
             "| duration | records joined | file | wall (s) | s per hour | of which R peaks / beat classes / AF (s) | "
             "peak RSS | beats found | reference beats | Se | PPV |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r["timing_ms"]
        stages = f"{t['detect'] / 1000:.1f} / {t['classify'] / 1000:.1f} / {t['af'] / 1000:.1f}"
        lines.append(f"| {r['hours']:g} h | {r['records_used']} | {r['file_mb']} MB | {r['wall_s']} | {r['s_per_hour']} | "
                     f"{stages} | {r['peak_rss_mb']} MB | {r['beats']} | {r['reference_beats']} | {100 * r['se']:.2f} % | "
                     f"{100 * r['ppv']:.2f} % |")
    lines += ["", f"Goals: 24 h <= 120 s on one core (measured {day['wall_s']} s), peak memory <= 1 GB (measured "
              f"{day['peak_rss_mb']} MB), linear in duration (seconds per hour above). The beats are scored with no "
              "learning period and include the repeats of the same records, so they are not an EC57 figure "
              "(`benchmarks/qrs_mitdb.py` is)."]
    write_table_and_results("holter_speed", lines, {"runs": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
