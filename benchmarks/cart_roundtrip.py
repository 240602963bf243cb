"""Hospital-cart formats (HL7 aECG, DICOM ECG, GE MUSE and Philips XML, SCP-ECG): write-then-read of every PTB-XL 500 Hz record here (exact?), and
each reader's speed.

For each record and format: ``save_record(rec, "x.xml" | "x.dcm")`` then ``load_record``; the round trip is exact
when leads, rate and every float32 sample are identical.  Reader speed: records/s reading the written files and
the format's public sample (``tests/fixtures``), single-threaded, after a warm-up read.

    .venv/bin/python benchmarks/cart_roundtrip.py [--data-dir DIR] [--records N]

Writes ``benchmarks/results/cart_roundtrip.{md,json}``.
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

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures"
FORMATS = {"HL7 aECG": (".xml", FIXTURES / "aecg" / "fda_subject1_0.xml"),
           "DICOM 12-lead ECG": (".dcm", FIXTURES / "dicom" / "waveform_ecg.dcm"),
           "GE MUSE XML (read only)": (None, FIXTURES / "muse" / "musephi_ecg1.xml"),
           "Philips XML, XLI (read only)": (None, FIXTURES / "philips" / "philips_1-04-01_2020-5-18.xml"),
           "SCP-ECG, Huffman (read only)": (None, FIXTURES / "scp" / "ecgtoolkit_example.scp")}


def _roundtrip(ds, n: int, ext: str, tmp: Path) -> dict:
    exact, worst, t_write, t_read, size = 0, 0.0, 0.0, 0.0, 0
    for i in range(n):
        rec = ds.load(i)
        t0 = time.perf_counter()
        path = save_record(rec, tmp / f"{i}{ext}")
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
    return {"records": n, "exact": exact, "max_abs_diff_mV": worst, "write_records_per_s": n / t_write,
            "read_records_per_s": n / t_read, "mean_file_kB": size / n / 1024}


def _sample_speed(path: Path, reps: int = 20) -> float:
    load_record(path)
    t0 = time.perf_counter()
    for _ in range(reps):
        load_record(path)
    return reps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--records", type=int, default=None)
    args = ap.parse_args()
    ds = open_dataset("ptbxl", args.data_dir)
    n = len(ds) if args.records is None else min(args.records, len(ds))
    payload: dict = {"formats": {}}
    lines = ["# Cart formats: write-then-read on PTB-XL 500 Hz (10-s 12-lead records here) and reader speed", "",
             "| format | records | exact round trips | max abs difference (mV) | write rec/s | read rec/s | mean file | "
             "public sample read rec/s |", "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (ext, sample) in FORMATS.items():
            speed = _sample_speed(sample)
            if ext is None:  # a reader without a writer: its sample's read speed only
                payload["formats"][name] = {"sample_read_records_per_s": speed}
                lines.append(f"| {name} | – | – | – | – | – | – | {speed:.1f} |")
                continue
            r = _roundtrip(ds, n, ext, Path(tmp))
            r["sample_read_records_per_s"] = speed
            payload["formats"][name] = r
            lines.append(f"| {name} | {n} | {r['exact']} / {n} | {r['max_abs_diff_mV']:g} | "
                         f"{r['write_records_per_s']:.1f} | {r['read_records_per_s']:.1f} | "
                         f"{r['mean_file_kB']:.0f} kB | {r['sample_read_records_per_s']:.1f} |")
    lines += ["", "One thread. Public samples: `tests/fixtures/aecg/fda_subject1_0.xml` (10 s, 12 leads, 500 Hz) and "
              "`tests/fixtures/dicom/waveform_ecg.dcm` (10 s, 12 leads, 1000 Hz) and `tests/fixtures/muse/musephi_ecg1.xml` "
              "(10 s, 8 stored + 4 derived leads, 500 Hz) and `tests/fixtures/philips/philips_1-04-01_2020-5-18.xml` (11 s, "
              "XLI, 500 Hz) and `tests/fixtures/scp/ecgtoolkit_example.scp` (10 s, 12 leads, 500 Hz, default Huffman table); licenses in "
              "tests/fixtures/README.md."]
    write_table_and_results("cart_roundtrip", lines, payload)


if __name__ == "__main__":
    main()
