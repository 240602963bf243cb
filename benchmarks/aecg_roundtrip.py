"""HL7 aECG: write-then-read of every PTB-XL 500 Hz record here (exact?), and the reader's speed.

For each record: ``save_record(rec, "x.xml")`` then ``load_record``; the round trip is exact when leads, rate
and every float32 sample are identical.  Reader speed: records/s reading the written files and the public
sample (``tests/fixtures/aecg``), single-threaded, after a warm-up read.

    .venv/bin/python benchmarks/aecg_roundtrip.py [--data-dir DIR] [--records N]

Writes ``benchmarks/results/aecg_roundtrip.{md,json}``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import write_table_and_results

from ecgscope.datasets import open_dataset
from ecgscope.io import load_record, save_record

SAMPLE = Path(__file__).parents[1] / "tests" / "fixtures" / "aecg" / "fda_subject1_0.xml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--records", type=int, default=None)
    args = ap.parse_args()
    ds = open_dataset("ptbxl", args.data_dir)
    n = len(ds) if args.records is None else min(args.records, len(ds))
    exact, worst, t_write, t_read, size = 0, 0.0, 0.0, 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            rec = ds.load(i)
            t0 = time.perf_counter()
            path = save_record(rec, Path(tmp) / f"{i}.xml")
            t1 = time.perf_counter()
            back = load_record(path)
            t2 = time.perf_counter()
            t_write += t1 - t0
            t_read += t2 - t1
            size += path.stat().st_size
            same = back.leads == rec.leads and back.fs == rec.fs and back.signal.shape == rec.signal.shape
            diff = float(np.abs(back.signal - rec.signal).max()) if same else float("inf")
            worst = max(worst, diff)
            exact += bool(same and diff == 0.0)
            path.unlink()
    load_record(SAMPLE)
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        load_record(SAMPLE)
    sample_rps = reps / (time.perf_counter() - t0)
    payload = {"records": n, "exact": exact, "max_abs_diff_mV": worst, "write_records_per_s": n / t_write,
               "read_records_per_s": n / t_read, "mean_file_kB": size / n / 1024,
               "sample_read_records_per_s": sample_rps}
    lines = ["# HL7 aECG write-then-read on PTB-XL 500 Hz (10-s 12-lead records here) and reader speed", "",
             "| records | exact round trips | max abs difference (mV) | write rec/s | read rec/s | mean file | "
             "public sample read rec/s |", "|---|---|---|---|---|---|---|",
             f"| {n} | {exact} / {n} | {worst:g} | {n / t_write:.1f} | {n / t_read:.1f} | {size / n / 1024:.0f} kB | "
             f"{sample_rps:.1f} |", "",
             "One thread; the public sample is `tests/fixtures/aecg/fda_subject1_0.xml` (10 s, 12 leads, 500 Hz)."]
    write_table_and_results("aecg_roundtrip", lines, payload)


if __name__ == "__main__":
    main()
