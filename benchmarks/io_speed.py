"""Loading + preprocessing PTB-XL 500 Hz records into model-ready windows: ecgscope vs plain wfdb + scipy.

Both pipelines do the same work per record: read the FLAC WFDB record, resample to the contract's rate
(polyphase), z-score each lead over the record, cut non-overlapping windows.  ecgscope additionally
validates the record (finite values, units, amplitude, lead names) on the way.  The two run interleaved
record by record after a warm-up pass (so both see a warm file cache), single-threaded.

    .venv/bin/python benchmarks/io_speed.py [--data-dir DIR] [--records 800] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402
import wfdb  # noqa: E402

from ecgscope.datasets import open_dataset  # noqa: E402
from ecgscope.io import load_record  # noqa: E402
from ecgscope.signal.contract import InputContract, Preprocessor  # noqa: E402

CONTRACTS = {
    "ecgfm-500Hz": InputContract(fs=500, window_samples=2500),
    "250Hz": InputContract(fs=250, window_samples=1250),
    "100Hz": InputContract(fs=100, window_samples=500),
}


def plain(path: str, fs_out: float, window: int) -> np.ndarray:
    """The baseline: wfdb.rdrecord + scipy resample_poly + numpy z-score + windows."""
    rec = wfdb.rdrecord(path)
    x = rec.p_signal.T  # (leads, samples) float64
    if fs_out != rec.fs:
        frac = Fraction(fs_out / rec.fs).limit_denominator(1000)
        x = scipy.signal.resample_poly(x, frac.numerator, frac.denominator, axis=1)
    sd = x.std(axis=1, keepdims=True)
    x = (x - x.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1)
    n = x.shape[1] // window
    return x[:, : n * window].reshape(x.shape[0], n, window).transpose(1, 0, 2).astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--records", type=int, default=800)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "io_speed.json"))
    args = ap.parse_args()

    ds = open_dataset("ptbxl", args.data_dir)
    paths = [p[: -len(".hea")] if p.endswith(".hea") else p for p in ds.index["path"].tolist()[: args.records]]
    for p in paths:  # warm the file cache for both contenders
        Path(p + ".hea").read_bytes()
        for f in Path(p).parent.glob(Path(p).name + "*.dat"):
            f.read_bytes()

    rows = []
    for name, contract in CONTRACTS.items():
        pre = Preprocessor(contract)
        t_plain, t_ours = [], []
        for _ in range(args.repeats):
            for p in paths:
                t0 = time.perf_counter()
                a = plain(p, contract.fs, contract.window_samples)
                t1 = time.perf_counter()
                b = pre(load_record(p)).windows
                t2 = time.perf_counter()
                t_plain.append(t1 - t0)
                t_ours.append(t2 - t1)
                assert a.shape == b.shape, (a.shape, b.shape)
        n = len(paths)
        plain_rps = n * args.repeats / sum(t_plain)
        ours_rps = n * args.repeats / sum(t_ours)
        rows.append({"contract": name, "records": n, "repeats": args.repeats,
                     "plain_records_per_s": round(plain_rps, 1), "ecgscope_records_per_s": round(ours_rps, 1),
                     "speedup": round(ours_rps / plain_rps, 3),
                     "plain_median_ms": round(1000 * float(np.median(t_plain)), 3),
                     "ecgscope_median_ms": round(1000 * float(np.median(t_ours)), 3)})

    header = f"{'contract':<14}{'records':>8}{'wfdb+scipy rec/s':>18}{'ecgscope rec/s':>16}{'speedup':>9}" \
             f"{'median ms (plain / ours)':>27}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['contract']:<14}{r['records']:>8}{r['plain_records_per_s']:>18}{r['ecgscope_records_per_s']:>16}"
              f"{r['speedup']:>9}{r['plain_median_ms']:>15} / {r['ecgscope_median_ms']}")
    out = {"benchmark": "io_speed", "dataset": "ptbxl 500 Hz (FLAC WFDB)", "threads": 1,
           "python": sys.version.split()[0], "machine": platform.machine(), "results": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    slower = [r["contract"] for r in rows if r["speedup"] < 1.0]
    if slower:
        print(f"ecgscope is slower than the plain pipeline for: {', '.join(slower)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
