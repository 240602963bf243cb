"""The evidence combination (network + whole-record measurements + rhythm statistics, fitted across sources)
against each package's own path, per source and label, in source and leave-one-source-out.

For a package and its fitting sources (each lending the folds no part of the package was trained on):

* **shipped fit**: the combination fitted on every fitting source (what ``evidence.json`` holds), scored on
  each source's test rows (folds no choice touched: PTB-XL, CinC 2017 and MIT-BIH fold 10, LUDB fold 10,
  CPSC 2021 fold 6);
* **leave-one-source-out**: fitted without source S (PTB-XL: both of its rates), scored on S's test rows (all of LUDB and CPSC 2021,
  which are too small to spare a fold): what the combination does for a hospital or device it never saw.

Per label with at least 5 positives in the test rows: AUROC with bootstrap 95 % CI and F1 at the threshold,
for the package's own calibrated probability ("package") and the combination's ("combined"); for
Poor data quality, the share of clean records called poor (false "unreliable") and of noisy ones caught.
For Atrial fibrillation on CinC 2017 fold 10, ``ecgscope-af-1lead`` on the same strips.

Evidence inputs are cached under ``runs/evidence`` (per package and source); the first run reads every
record once (~3 min on 2 cores).

    .venv/bin/python benchmarks/evidence_combination.py [--data-dir DIR] [--package ecgscope-17-1lead]

Writes ``benchmarks/results/evidence_combination.{md,json}``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import rate_cell, write_table_and_results

from ecgscope.datasets import open_dataset
from ecgscope.evaluate.metrics import evaluate_multilabel, f1_at
from ecgscope.inference import Analyzer
from ecgscope.inference.package import EVIDENCE_FILE, load_package
from ecgscope.train.evidence import SourceSpec, combined_probabilities, fit_combiner, load_evidence

POOR = "Poor data quality"
AF = "Atrial fibrillation"
FIT = {"ecgscope-17-1lead": ("ptbxl100:9", "ptbxl:9", "cinc2017:1-9", "mitdb:1-9", "ludb:1-9", "cpsc2021:1-5"),
       "ecgscope-17-12lead": ("ptbxl100:9", "ptbxl:9", "ludb:1-9")}
TEST = {"ptbxl100": "ptbxl100:10", "ptbxl": "ptbxl:10", "cinc2017": "cinc2017:10", "mitdb": "mitdb:10", "ludb": "ludb:10",
        "cpsc2021": "cpsc2021:6"}
NAMES = {"ptbxl100": "PTB-XL 100 Hz", "ptbxl": "PTB-XL 500 Hz", "cinc2017": "CinC 2017 (handheld)", "mitdb": "MIT-BIH 10-s windows",
         "ludb": "LUDB", "cpsc2021": "CPSC 2021"}
# a source too small to spare a test fold is tested on all of its records when it is left out
LOSO_TEST = {**TEST, "ludb": "ludb:1-10", "cpsc2021": "cpsc2021:1-6"}
MIN_POS = 5


def _analyzer_without_evidence(name: str, tmp: Path) -> Analyzer:
    """The package as it is without its combination (the evidence inputs are those of that package)."""
    import shutil

    src = load_package(name).path
    dst = tmp / name
    if not dst.exists():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(EVIDENCE_FILE, "model.onnx"))
    return Analyzer(dst)


def _score(an, comb, data, n_boot: int) -> list[dict]:
    pc = combined_probabilities(an, comb, data)
    rows = []
    for j, label in enumerate(an.labels):
        y = data.y[:, j]
        k = np.isfinite(y)
        n_pos = int(y[k].sum())
        if n_pos < MIN_POS or n_pos == k.sum():
            continue
        row = {"label": label, "n": int(k.sum()), "n_pos": n_pos, "combined_label": bool(comb.combined_[j])}
        for kind, p, thr in (("package", data.package, an.package.thresholds), ("combined", pc, comb.thresholds_)):
            ev = evaluate_multilabel(y[k, None], p[k, j, None], labels=(label,), n_bootstrap=n_boot).per_label.iloc[0]
            row[kind] = {"auroc": float(ev["auroc"]), "auroc_ci": [float(ev["auroc_lo"]), float(ev["auroc_hi"])],
                         "f1": f1_at(y[k], p[k, j], thr[j]), "threshold": float(thr[j])}
            if label == POOR:
                clean, noisy = k & (y == 0), k & (y == 1)
                row[kind]["clean_flagged"] = [int((p[clean, j] >= thr[j]).sum()), int(clean.sum())]
                row[kind]["noisy_caught"] = [int((p[noisy, j] >= thr[j]).sum()), int(noisy.sum())]
        rows.append(row)
    return rows


def _macro(rows: list[dict], kind: str) -> float:
    return float(np.mean([r[kind]["auroc"] for r in rows])) if rows else float("nan")


def main() -> None:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--package", nargs="+", default=list(FIT))
    ap.add_argument("--cache", default="runs/evidence")
    ap.add_argument("--bootstrap", type=int, default=500)
    args = ap.parse_args()
    t0 = time.time()
    quiet = lambda m: None  # noqa: E731
    payload: dict = {"packages": {}}
    lines = ["# Evidence combination vs each package's own path (per source; shipped fit and leave-one-source-out)", ""]
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.package:
            an = _analyzer_without_evidence(name, Path(tmp))
            fit_specs = [SourceSpec.parse(s) for s in FIT[name]]
            sources = [s.name for s in fit_specs]

            def ld(specs, an=an):
                return load_evidence(an, specs, args.data_dir, Path(args.cache), progress=quiet)

            dev = ld(fit_specs)
            shipped = fit_combiner(an, dev)
            variants = {"shipped fit (all fitting sources)": (shipped, sources, TEST)}
            for s in sources:
                if s == "ptbxl":  # the same patients as ptbxl100: leaving one rate out is not another source
                    continue
                held = ("ptbxl100", "ptbxl") if s == "ptbxl100" else (s,)
                variants[f"without {'PTB-XL (both rates)' if s == 'ptbxl100' else s} (left out)"] = (
                    fit_combiner(an, dev.take(~np.isin(dev.source, held))), list(held), LOSO_TEST)
            out = {}
            lines += [f"## {name} {load_package(name).version}: fitted on {', '.join(FIT[name])}", "",
                      "| fit | test rows | label | positives / n | package AUROC [95 % CI] | combined AUROC [95 % CI] "
                      "| package F1 | combined F1 | combined? |", "|---|---|---|---|---|---|---|---|---|"]
            quality_lines = []
            for vname, (comb, tested, test_rows) in variants.items():
                out[vname] = {}
                for s in tested:
                    spec = SourceSpec.parse(test_rows[s])
                    data = ld([spec])
                    rows = _score(an, comb, data, args.bootstrap)
                    out[vname][str(spec)] = {"rows": rows, "macro_auroc_package": _macro(rows, "package"),
                                             "macro_auroc_combined": _macro(rows, "combined")}
                    for r in rows:
                        pk, cb = r["package"], r["combined"]
                        lines.append(
                            f"| {vname} | {NAMES[s]} {spec} | {r['label']} | {r['n_pos']} / {r['n']} | "
                            f"{pk['auroc']:.3f} [{pk['auroc_ci'][0]:.3f}, {pk['auroc_ci'][1]:.3f}] | "
                            f"{cb['auroc']:.3f} [{cb['auroc_ci'][0]:.3f}, {cb['auroc_ci'][1]:.3f}] | "
                            f"{pk['f1']:.3f} | {cb['f1']:.3f} | {'yes' if r['combined_label'] else 'no'} |")
                        if r["label"] == POOR:
                            quality_lines.append(
                                f"| {vname} | {NAMES[s]} {spec} | {rate_cell(*pk['clean_flagged'])} | "
                                f"{rate_cell(*cb['clean_flagged'])} | {rate_cell(*pk['noisy_caught'])} | "
                                f"{rate_cell(*cb['noisy_caught'])} |")
                    if rows:
                        lines.append(f"| {vname} | {NAMES[s]} {spec} | **macro** ({len(rows)} labels) | | "
                                     f"**{_macro(rows, 'package'):.3f}** | **{_macro(rows, 'combined'):.3f}** | | | |")
            if quality_lines:
                lines += ["", f"Poor data quality of {name} (its positive call marks a result unreliable):", "",
                          "| fit | test rows | clean called poor, package | combined | noisy caught, package | "
                          "combined |", "|---|---|---|---|---|---|", *quality_lines]
            payload["packages"][name] = {"fit": list(FIT[name]), "variants": out,
                                         "fit_report": shipped.fit_report_}
            lines.append("")
        # AF on the handheld test fold: the default single-lead analysis against the AF detector on the same strips
        if "ecgscope-17-1lead" in args.package:
            ds = open_dataset("cinc2017", args.data_dir)
            rows = np.flatnonzero(ds.index["fold"].to_numpy() == 10)
            y = ds.labels[AF].to_numpy()[rows]
            k = np.isfinite(y)
            af = Analyzer.from_pretrained("ecgscope-af-1lead")
            default = Analyzer.from_pretrained("ecgscope-17-1lead")
            records = [ds.load(int(r)) for r in rows]
            p_af = af.classify_many(records)[:, 0]
            p_def = default.classify_many(records)[:, default.labels.index(AF)]
            t_def = default.thresholds[default.labels.index(AF)]
            f1_af = f1_at(y[k], p_af[k], af.package.thresholds[0])
            f1_def = f1_at(y[k], p_def[k], t_def)
            payload["af_cinc2017_fold10"] = {"n": int(k.sum()), "n_pos": int(y[k].sum()),
                                             "ecgscope-af-1lead_f1": f1_af, "default_f1": f1_def}
            lines += [f"AF on CinC 2017 fold 10 ({int(y[k].sum())} AF of {int(k.sum())} strips, noisy strips not "
                      f"assessed), F1 at the shipped thresholds: default `ecgscope-17-1lead` (with its "
                      f"evidence.json) **{f1_def:.3f}**, `ecgscope-af-1lead` **{f1_af:.3f}**.", ""]
    lines.append(f"Evidence inputs: each package read through its own Analyzer (ecgscope.train.evidence); run in "
                 f"{time.time() - t0:.0f} s.")
    write_table_and_results("evidence_combination", lines, payload)


if __name__ == "__main__":
    main()
