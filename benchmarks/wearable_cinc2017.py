"""The wearable 17-label model on real wearable strips it never saw: all of CinC 2017 (AliveCor, zero-shot).

``ecgscope-17-1lead`` is trained and tested on lead I of PTB-XL (clinical 12-lead recordings).  CinC 2017's
2001 handheld strips (9-60 s, 300 Hz) carry one of four classes, which assess three of its labels:

* Atrial fibrillation: ``A`` positive, ``N`` and ``O`` negative (``~`` not assessed);
* Sinus rhythm: ``N`` (normal sinus rhythm) positive, ``A`` negative (``O``, "other rhythm", mixes sinus
  rhythm with ectopy and other rhythms, and ``~`` are not assessed);
* Poor data quality: ``~`` (too noisy to classify) positive, the rest negative.

Per model: AUROC with percentile-bootstrap 95 % CIs over strips, and the share of each class called positive
at the model's shipped thresholds (what a wearable user sees), over all strips and over fold 10 alone: a
package may take its Poor data quality threshold from CinC 2017 folds 1-9 (``ecgscope calibrate
--quality-threshold-data cinc2017``), so only fold 10 is untouched by every choice.  Pass other packages (a
directory, e.g. an earlier version) with ``--models`` to compare them on the same strips.

    .venv/bin/python benchmarks/wearable_cinc2017.py [--models ecgscope-17-1lead,DIR] [--data-dir DIR]

Writes ``benchmarks/results/wearable_cinc2017.json`` and ``wearable_cinc2017.md``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _common import write_table_and_results

LABELS = ("Atrial fibrillation", "Sinus rhythm", "Poor data quality")
POSITIVE = {"Atrial fibrillation": {"A"}, "Sinus rhythm": {"N"}, "Poor data quality": {"~"}}
NEGATIVE = {"Atrial fibrillation": {"N", "O"}, "Sinus rhythm": {"A"}, "Poor data quality": {"N", "A", "O"}}
CLASSES = ("N", "A", "O", "~")


def targets(cinc_class: np.ndarray) -> np.ndarray:
    """(n, len(LABELS)) 0/1/NaN from the CinC classes (see the module docstring)."""
    y = np.full((len(cinc_class), len(LABELS)), np.nan)
    for j, lab in enumerate(LABELS):
        y[np.isin(cinc_class, list(POSITIVE[lab])), j] = 1
        y[np.isin(cinc_class, list(NEGATIVE[lab])), j] = 0
    return y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="ecgscope-17-1lead", help="Comma-separated package names or directories.")
    ap.add_argument("--data-dir", default=os.environ.get("ECGSCOPE_DATA_DIR"))
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    from ecgscope.datasets import open_dataset
    from ecgscope.evaluate.metrics import evaluate_multilabel
    from ecgscope.inference import Analyzer

    t0 = time.time()
    ds = open_dataset("cinc2017", args.data_dir)
    cinc_class = ds.index["cinc_class"].to_numpy(str)
    test = ds.index["fold"].to_numpy() == 10
    y = targets(cinc_class)
    records = [ds.load(i) for i in range(len(ds))]
    rows = []
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        an = Analyzer.from_pretrained(model, backend="onnx", threads=2)
        cols = [list(an.labels).index(lab) for lab in LABELS]
        probs = np.concatenate([an.classify_many(records[i : i + 64]) for i in range(0, len(records), 64)])[:, cols]
        thr = an.package.thresholds[cols]
        ev = evaluate_multilabel(y, probs, labels=LABELS, thresholds=thr, n_bootstrap=args.bootstrap).to_dict()
        positive = probs >= thr
        called = {lab: {c: float(positive[cinc_class == c, j].mean()) for c in CLASSES} for j, lab in enumerate(LABELS)}
        called_test = {lab: {c: float(positive[test & (cinc_class == c), j].mean()) for c in CLASSES}
                       for j, lab in enumerate(LABELS)}
        rows.append({"model": an.package.name, "version": an.package.version, "sha256": an.package.sha256,
                     "thresholds": dict(zip(LABELS, thr.tolist(), strict=True)), "per_label": ev["per_label"],
                     "called_positive_share": called, "called_positive_share_fold10": called_test})
        print(f"{an.package.name} {an.package.version}: " + ", ".join(
            f"{r['label']} AUROC {r['auroc']:.3f}" for r in ev["per_label"]), flush=True)

    counts = {c: int((cinc_class == c).sum()) for c in CLASSES}
    counts_test = {c: int((test & (cinc_class == c)).sum()) for c in CLASSES}
    lines = [f"# ecgscope-17-1lead on CinC 2017 (AliveCor handheld strips, zero-shot; {len(ds)} strips: "
             + ", ".join(f"{c} {n}" for c, n in counts.items()) + "; fold 10: "
             + ", ".join(f"{c} {n}" for c, n in counts_test.items()) + ")", "",
             "| model | label (positive vs negative classes) | AUROC [95 % CI], all strips | threshold | "
             "called positive, all strips: N / A / O / ~ | the same, fold 10 |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        for pl in r["per_label"]:
            lab = pl["label"]
            share, share_test = r["called_positive_share"][lab], r["called_positive_share_fold10"][lab]
            lines.append(f"| {r['model']} {r['version']} | {lab} ({'/'.join(sorted(POSITIVE[lab]))} vs "
                         f"{'/'.join(sorted(NEGATIVE[lab]))}) | {pl['auroc']:.3f} [{pl['auroc_lo']:.3f}, "
                         f"{pl['auroc_hi']:.3f}] | {r['thresholds'][lab]:.3f} | "
                         + " / ".join(f"{share[c]:.3f}" for c in CLASSES) + " | "
                         + " / ".join(f"{share_test[c]:.3f}" for c in CLASSES) + " |")
    lines += ["", "Called positive: the share of each class's strips at or above the model's shipped threshold. "
              "The networks never saw CinC 2017; a Poor data quality threshold taken from CinC 2017 folds 1-9 "
              "(the package's card says so) leaves fold 10 as the only strips no choice touched."]
    write_table_and_results("wearable_cinc2017", lines,
                            {"seconds": round(time.time() - t0, 1), "class_counts": counts, "rows": rows})


if __name__ == "__main__":
    main()
