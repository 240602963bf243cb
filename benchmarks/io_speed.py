"""Loading + preprocessing PTB-XL 500 Hz records into model-ready windows: ecgscope vs plain wfdb + scipy; and the
speed of every cart-format reader on its public samples.

Both pipelines do the same work per record: read the FLAC WFDB record, resample to the contract's rate
(polyphase), z-score each lead over the record, cut non-overlapping windows.  ecgscope additionally
validates the record (finite values, units, amplitude, lead names) on the way.  The two run interleaved
record by record after a warm-up pass (so both see a warm file cache), single-threaded.

Cart readers (HL7 aECG, DICOM, GE MUSE, Philips XML, SCP-ECG): ``load_record`` on each public sample in
``tests/fixtures`` (licenses in its README), after one warm-up read, ``--reader-repeats`` times, single-threaded.

    .venv/bin/python benchmarks/io_speed.py [--data-dir DIR] [--records 800] [--repeats 3] [--reader-repeats 20]
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


FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures"
CART_SAMPLES = {"HL7 aECG": ["aecg/fda_subject1_0.xml"], "DICOM ECG": ["dicom/waveform_ecg.dcm"],
                "GE MUSE XML": ["muse/musephi_ecg1.xml", "muse/musephi_ecg2.xml"],
                "Philips XML (XLI)": ["philips/sierra_1-03_129DYPRG.xml", "philips/philips_1-04-01_2020-5-18.xml"],
                "SCP-ECG (Huffman)": ["scp/ecgtoolkit_example.scp", "scp/welchallyn_mdw14_anon4.scp"]}


def reader_speed(repeats: int) -> list[dict]:
    """records/s of ``load_record`` on every public cart sample."""
    rows = []
    for fmt, names in CART_SAMPLES.items():
        for name in names:
            path = FIXTURES / name
            rec = load_record(path)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                load_record(path)
                times.append(time.perf_counter() - t0)
            rows.append({"format": fmt, "sample": name, "leads": rec.n_leads, "fs": rec.fs,
                         "duration_s": round(rec.duration_s, 2), "kB": round(path.stat().st_size / 1024, 1),
                         "records_per_s": round(repeats / sum(times), 1),
                         "median_ms": round(1000 * float(np.median(times)), 2)})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--records", type=int, default=800)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reader-repeats", type=int, default=20)
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
    readers = reader_speed(args.reader_repeats)
    print()
    header = f"{'cart reader':<20}{'public sample':<42}{'leads':>6}{'Hz':>6}{'s':>6}{'kB':>7}{'rec/s':>8}{'median ms':>11}"
    print(header)
    print("-" * len(header))
    for r in readers:
        print(f"{r['format']:<20}{r['sample']:<42}{r['leads']:>6}{r['fs']:>6g}{r['duration_s']:>6g}{r['kB']:>7}"
              f"{r['records_per_s']:>8}{r['median_ms']:>11}")
    out = {"benchmark": "io_speed", "dataset": "ptbxl 500 Hz (FLAC WFDB)", "threads": 1,
           "python": sys.version.split()[0], "machine": platform.machine(), "results": rows,
           "cart_readers": {"data": "the public samples in tests/fixtures (licenses in tests/fixtures/README.md)",
                            "repeats": args.reader_repeats, "results": readers}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    slower = [r["contract"] for r in rows if r["speedup"] < 1.0]
    if slower:
        print(f"ecgscope is slower than the plain pipeline for: {', '.join(slower)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
