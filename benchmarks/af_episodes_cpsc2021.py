"""AF episodes on the CPSC 2021 sample here, scored with that challenge's own rule, and per-record AF burden error.

Methods, in the same run, on lead I of every record (18 records: 6 non-AF, 6 persistent, 6 paroxysmal AF):

* ``ecgscope`` — ``ecgscope.holter.af``: ``ecgscope-af-1lead`` (trained on CinC 2017 only) on 30-s windows at its
  own threshold, edges placed on beats by the running RR irregularity, on ecgscope's R peaks;
* ``rr-rule (ecgscope peaks)`` — a plain RR-irregularity rule: a 30-s window is AF when its normalised RMSSD
  (RMSSD / mean RR) is >= 0.1 (the first criterion of Dash et al. 2009), same episode logic;
* ``rr-rule (NeuroKit2 peaks)`` — the same rule on NeuroKit2's R peaks (``ecg_clean`` + ``ecg_peaks``): the
  baseline.

Nothing was tuned on these records.  Score: mean over records of Ur + Ue (``ecgscope.evaluate.cpsc2021``; the
best possible is 1 for a non-AF and 1 + 2 x episodes for an AF record).

    .venv/bin/python benchmarks/af_episodes_cpsc2021.py [--data-dir DIR]

Writes ``benchmarks/results/af_episodes_cpsc2021.{md,json}``.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import write_table_and_results

from ecgscope.config import resolve_data_dir
from ecgscope.evaluate.cpsc2021 import Cpsc2021Reference, record_score
from ecgscope.holter.af import episodes, window_probabilities
from ecgscope.inference import Analyzer
from ecgscope.io import load_record
from ecgscope.signal.peaks import ecg_peaks

WINDOW_S = 30.0


def _nrmssd_windows(peaks: np.ndarray, n_windows: int, window: int) -> np.ndarray:
    out = np.full(n_windows, np.nan)
    for k in range(n_windows):
        p = peaks[(peaks >= k * window) & (peaks < (k + 1) * window)]
        rr = np.diff(p).astype(np.float64)
        if rr.size >= 5:
            out[k] = np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean()
    return out


def _neurokit_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    clean = nk.ecg_clean(x, sampling_rate=int(fs))
    _, info = nk.ecg_peaks(clean, sampling_rate=int(fs))
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    root = resolve_data_dir(args.data_dir) / "cpsc2021_sample"
    records = [r.strip() for r in (root / "RECORDS").read_text().split() if r.strip()]
    detector = Analyzer.from_pretrained("ecgscope-af-1lead")
    threshold = float(detector.thresholds[0])
    methods = ("ecgscope", "rr-rule (ecgscope peaks)", "rr-rule (NeuroKit2 peaks)")
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    for rid in records:
        ref = Cpsc2021Reference.read(str(root / rid))
        rec = load_record(root / f"{rid}.hea")
        fs, n = rec.fs, rec.n_samples
        x = rec.signal[rec.leads.index("I")].astype(np.float64)
        window = int(WINDOW_S * fs)
        ours = ecg_peaks(rec.select_leads(["I"]))
        nk_peaks = _neurokit_peaks(x, fs)
        probs = window_probabilities(detector, x, fs, window)
        found = {
            "ecgscope": episodes(ours, probs, threshold, window, n, fs),
            "rr-rule (ecgscope peaks)": episodes(ours, _nrmssd_windows(ours, n // window, window), 0.1, window, n,
                                                  fs),
            "rr-rule (NeuroKit2 peaks)": episodes(nk_peaks, _nrmssd_windows(nk_peaks, n // window, window), 0.1,
                                                   window, n, fs),
        }
        for m in methods:
            rows[m].append({"record": rid, **record_score(ref, found[m]), "episodes": found[m]})
        print(rid, {m: round(rows[m][-1]["score"], 2) for m in methods}, flush=True)
    best = float(np.mean([1 + 2 * len(Cpsc2021Reference.read(str(root / r)).episodes()) for r in records]))
    lines = ["# AF episodes on the CPSC 2021 sample (18 dynamic ECGs, 200 Hz, lead I), the challenge's own score", "",
             "Data: `cpsc2021_sample/` (6 non-AF, 6 persistent, 6 paroxysmal AF records; 1.25 h in all). Nothing "
             "was tuned on it: the AF detector and its threshold come from CinC 2017. Score = mean over records of "
             f"Ur + Ue (challenge rule); the truth itself scores {best:.2f}.", "",
             "| method | score | Ur (class) | Ue (endpoints) | records with the right class | AF burden error, mean "
             "(pp) | median (pp) |", "|---|---|---|---|---|---|---|"]
    payload = {"threshold": threshold, "window_s": WINDOW_S, "best_possible": best, "methods": {}}
    for m in methods:
        r = rows[m]
        errs = 100 * np.array([x["burden_error"] for x in r])
        right = sum(x["true_class"] == x["predicted_class"] for x in r)
        lines.append(f"| {m} | **{np.mean([x['score'] for x in r]):.3f}** | {np.mean([x['ur'] for x in r]):.3f} | "
                     f"{np.mean([x['ue'] for x in r]):.3f} | {right} / {len(r)} | {errs.mean():.1f} | "
                     f"{np.median(errs):.1f} |")
        payload["methods"][m] = {"score": float(np.mean([x["score"] for x in r])), "records": r}
    lines += ["", "| record | true class | true burden | " + " | ".join(f"{m}: class, burden" for m in methods) + " |",
              "|---|---|---|" + "---|" * len(methods)]
    for i, rid in enumerate(records):
        cells = [f"{rows[m][i]['predicted_class']}, {100 * rows[m][i]['predicted_burden']:.0f} %" for m in methods]
        lines.append(f"| {rid} | {rows[methods[0]][i]['true_class']} | {100 * rows[methods[0]][i]['true_burden']:.0f} % | "
                     + " | ".join(cells) + " |")
    write_table_and_results("af_episodes_cpsc2021", lines, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
