"""The shipped default models against the plain 1-D ResNet baseline: 3 seeds each, same data, one table.

For every variant (a shipped model's recipe, or its baseline) and seed this trains with
``ecgscope train`` (skipped when the run finished, i.e. its ``metrics.json`` exists, so an interrupted grid resumes),
then scores the bundle the way a shipped package is scored: ``calibrate_and_package`` fits the
calibration and thresholds on the validation fold and reports the test fold (PTB-XL fold 10 /
CinC 2017 fold 10) with bootstrap 95 % CIs over records.  Nothing on the test fold chooses
anything: the seed to ship is the one with the best *validation* macro AUROC.

Per variant: the mean of the seeds' test macro AUROC (and the means of their CI bounds), the
seed-to-seed standard deviation, macro AUPRC, macro F1 at the calibrated thresholds, ECE after
calibration, per-label AUROC averaged over seeds, and the wall time of each training run.

    nice -n 10 .venv/bin/python benchmarks/shipped_models.py [--variants ...] [--seeds 0,1,2]
        [--runs runs/shipped] [--data-dir DIR] [--threads 1]

Writes ``benchmarks/results/shipped_models.json`` and ``shipped_models.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

# One entry per trained variant: the shipped recipe and the baseline it is compared with (same task, input,
# epochs and data).  The shipped recipes are also what `make models` runs.
EPOCHS = 8
VARIANTS: dict[str, dict] = {
    "ecgscope-17-12lead": {"task": "ptbxl17", "model": "resnet1d_small_hybrid", "strategy": "finetune",
                           "input": "12-lead 10 s", "epochs": EPOCHS, "baseline_of": None},
    # the same runs packaged with a record head (ecgscope calibrate --record-head; not the 12-lead default: it
    # costs a 12-lead delineation per record, which batch classification otherwise skips)
    "record-head-17-12lead": {"task": "ptbxl17", "model": "resnet1d_small_hybrid", "strategy": "finetune",
                              "input": "12-lead 10 s", "epochs": EPOCHS, "baseline_of": None,
                              "runs_as": "ecgscope-17-12lead", "record_head": True},
    "baseline-17-12lead": {"task": "ptbxl17", "model": "resnet1d_small", "strategy": "finetune",
                           "input": "12-lead 10 s", "epochs": EPOCHS, "baseline_of": "ecgscope-17-12lead"},
    # the wearable model as shipped (0.3.0): 5-s windows every 2.5 s, the record head over lead I, and the Poor
    # data quality threshold from handheld strips (CinC 2017 folds 1-9; thresholds move F1, not AUROC)
    "ecgscope-17-1lead": {"task": "ptbxl17", "model": "resnet1d_small_hybrid", "strategy": "finetune",
                          "input": "single-lead 5 s", "epochs": EPOCHS, "baseline_of": None,
                          "record_head": True, "window_stride_s": 2.5, "quality_threshold_data": "cinc2017"},
    # its ablations on the same runs: the network alone on tiled windows (the shipped 0.2.0), and with the head
    "network-17-1lead": {"task": "ptbxl17", "model": "resnet1d_small_hybrid", "strategy": "finetune",
                         "input": "single-lead 5 s", "epochs": EPOCHS, "baseline_of": None,
                         "runs_as": "ecgscope-17-1lead"},
    "record-head-17-1lead": {"task": "ptbxl17", "model": "resnet1d_small_hybrid", "strategy": "finetune",
                             "input": "single-lead 5 s", "epochs": EPOCHS, "baseline_of": None,
                             "runs_as": "ecgscope-17-1lead", "record_head": True},
    "baseline-17-1lead": {"task": "ptbxl17", "model": "resnet1d_small", "strategy": "finetune",
                          "input": "single-lead 5 s", "epochs": EPOCHS, "baseline_of": "ecgscope-17-1lead"},
    # the shipped AF detector is a whole-strip rhythm model (benchmarks/af_rhythm_model.py); these are the 5-s-window
    # networks trained for the same task, for comparison
    "network-af-1lead": {"task": "cinc2017-af", "model": "resnet1d_small_hybrid", "strategy": "finetune",
                         "input": "single-lead 5 s", "epochs": EPOCHS, "baseline_of": None,
                         "runs_as": "ecgscope-af-1lead"},
    "baseline-af-1lead": {"task": "cinc2017-af", "model": "resnet1d_small", "strategy": "finetune",
                          "input": "single-lead 5 s", "epochs": EPOCHS, "baseline_of": "network-af-1lead"},
}


def train_command(variant: dict, seed: int, out: Path, data_dir: str | None, threads: int) -> list[str]:
    cmd = [str(ROOT / ".venv" / "bin" / "ecgscope"), "train", "--model", variant["model"], "--strategy",
           variant["strategy"], "--task", variant["task"], "--input", variant["input"], "--epochs",
           str(variant["epochs"]), "--seed", str(seed), "--threads", str(threads), "--no-progress", "--out", str(out)]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    return cmd


def finished(run: Path) -> bool:
    return (run / "metrics.json").exists() and (run / "best.pt").exists()


def run_one(name: str, variant: dict, seed: int, runs: Path, data_dir: str | None, threads: int) -> dict:
    """Train (unless done) and score one seed; the score is cached in the run folder as ``eval.json``
    (``eval.record-head.json`` with a record head, ``eval[.record-head].stride2.5s.json`` with overlapping
    windows).  ``runs_as``: a variant that scores another variant's runs differently (the network alone, without
    the record head)."""
    out = runs / variant.get("runs_as", name) / f"seed{seed}"
    bundle = out / "best.pt"
    if not finished(out):  # best.pt appears during training; metrics.json only at its end
        cmd = train_command(variant, seed, out, data_dir, threads)
        print(f"[{name} seed {seed}] training: {' '.join(cmd)}", flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    stride = variant.get("window_stride_s")
    quality_data = variant.get("quality_threshold_data")
    cached = out / ("eval" + (".record-head" if variant.get("record_head") else "")
                    + (f".stride{stride:g}s" if stride else "") + (f".quality-{quality_data}" if quality_data else "")
                    + ".json")
    if cached.exists():
        return json.loads(cached.read_text())
    from ecgscope.inference.build import calibrate_and_package

    print(f"[{name} seed {seed}] calibrating and scoring", flush=True)
    with tempfile.TemporaryDirectory(prefix="ecgscope-shipped-") as tmp:
        report = calibrate_and_package(bundle, variant["task"], Path(tmp) / "pkg", name=name, version="0",
                                       data_dir=data_dir, onnx=False, record_head=bool(variant.get("record_head")),
                                       window_stride_s=stride, quality_threshold_data=quality_data,
                                       progress=lambda m: None)
    train_metrics = json.loads((out / "metrics.json").read_text())
    ev = report["test"]["evaluation"]
    result = {
        "variant": name, "seed": seed, "bundle": str(bundle), "record_head": report.get("record_head"),
        "val_macro_auroc": train_metrics["val"]["macro"]["auroc"]["value"],
        "train_seconds": train_metrics["seconds"],
        "best_epoch": train_metrics["best"].get("epoch"),
        "test": {"macro": ev["macro"], "per_label": ev["per_label"], "unscorable": ev["unscorable"],
                 "n": report["test"]["n"]},
        "ece_after": report["test"]["calibration"]["after"]["ece"],
        "ece_before": report["test"]["calibration"]["before"]["ece"],
        "calibration_method": report["calibration"]["selection"]["method"],
    }
    cached.write_text(json.dumps(result, indent=2))
    return result


def summarize(name: str, variant: dict, seeds: list[dict]) -> dict:
    def stat(key: str, part: str = "value") -> float:
        return float(np.mean([s["test"]["macro"][key][part] for s in seeds]))

    aurocs = [s["test"]["macro"]["auroc"]["value"] for s in seeds]
    labels = [r["label"] for r in seeds[0]["test"]["per_label"]]
    per_label = {lab: float(np.mean([next(r["auroc"] for r in s["test"]["per_label"] if r["label"] == lab)
                                     for s in seeds])) for lab in labels}
    f1_label = {lab: float(np.mean([next(r.get("f1", float("nan")) for r in s["test"]["per_label"]
                                         if r["label"] == lab) for s in seeds])) for lab in labels}
    ship = max(seeds, key=lambda s: s["val_macro_auroc"])
    return {
        "variant": name, **{k: variant[k] for k in ("task", "model", "strategy", "input", "epochs")},
        "baseline_of": variant["baseline_of"], "seeds": [s["seed"] for s in seeds],
        "record_head": bool(variant.get("record_head")), "window_stride_s": variant.get("window_stride_s"),
        "quality_threshold_data": variant.get("quality_threshold_data"),
        "record_head_alpha": [(s.get("record_head") or {}).get("alpha") for s in seeds],
        "test_records": seeds[0]["test"]["n"],
        "macro_auroc_mean": float(np.mean(aurocs)), "macro_auroc_sd": float(np.std(aurocs, ddof=1)) if len(aurocs) > 1 else 0.0,
        "macro_auroc_ci_mean": [stat("auroc", "lo"), stat("auroc", "hi")],
        "macro_auprc_mean": stat("auprc"), "macro_f1_mean": stat("f1"),
        "ece_after_mean": float(np.mean([s["ece_after"] for s in seeds])),
        "per_label_auroc_mean": per_label, "per_label_f1_mean": f1_label,
        "unscorable": seeds[0]["test"]["unscorable"],
        "train_seconds_mean": float(np.mean([s["train_seconds"] for s in seeds])),
        "shipped_seed_by_val": ship["seed"],
        "per_seed": [{"seed": s["seed"], "val_macro_auroc": s["val_macro_auroc"],
                      "test_macro_auroc": s["test"]["macro"]["auroc"], "test_macro_f1": s["test"]["macro"]["f1"]["value"],
                      "ece_after": s["ece_after"], "train_seconds": s["train_seconds"], "best_epoch": s["best_epoch"]}
                     for s in seeds],
    }


def markdown(rows: list[dict], missing: dict[str, list[int]] | None = None) -> str:
    out = ["# Shipped models vs the 1-D ResNet baseline (test fold 10, mean of seeds)", "",
           "| variant | model | input | seeds | test macro AUROC mean (sd) [mean 95 % CI] | macro AUPRC | "
           "macro F1 (calibrated thr.) | ECE after cal. | train s/seed |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["macro_auroc_ci_mean"]
        how = (r["strategy"] + (" + record head" if r.get("record_head") else "")
               + (f", windows every {r['window_stride_s']:g} s" if r.get("window_stride_s") else "")
               + (f", quality threshold from {r['quality_threshold_data']}" if r.get("quality_threshold_data") else ""))
        out.append(f"| {r['variant']} | {r['model']} ({how}) | {r['input']} | {len(r['seeds'])} | "
                   f"{r['macro_auroc_mean']:.3f} ({r['macro_auroc_sd']:.3f}) [{lo:.3f}, {hi:.3f}] | "
                   f"{r['macro_auprc_mean']:.3f} | {r['macro_f1_mean']:.3f} | {r['ece_after_mean']:.3f} | "
                   f"{r['train_seconds_mean']:.0f} |")
    if missing:
        out += ["", "Seeds not trained (left out of the means): "
                + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in missing.items()) + "."]
    tasks = sorted({r["task"] for r in rows})
    for task in tasks:
        group = [r for r in rows if r["task"] == task]
        labels = list(group[0]["per_label_auroc_mean"])
        out += ["", f"## Per-label test AUROC, {task} (mean of seeds)", "",
                "| label | " + " | ".join(r["variant"] for r in group) + " |",
                "|---|" + "---|" * len(group)]
        for lab in labels:
            out.append(f"| {lab} | " + " | ".join(f"{r['per_label_auroc_mean'][lab]:.3f}" for r in group) + " |")
        if len(labels) == 1:
            out.append("| F1 at the calibrated threshold | "
                       + " | ".join(f"{r['per_label_f1_mean'][labels[0]]:.3f}" for r in group) + " |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(VARIANTS), help="Comma-separated variant names.")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "shipped"), help="Folder of the training runs.")
    ap.add_argument("--data-dir", default=os.environ.get("ECGSCOPE_DATA_DIR"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS / "shipped_models"), help="Results path without extension.")
    ap.add_argument("--no-train", action="store_true",
                    help="Only score runs that exist; a variant's missing seeds are listed, not trained.")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        sys.exit(f"error: unknown variants {unknown}; valid: {', '.join(VARIANTS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = Path(args.runs)
    t0 = time.time()
    rows = []
    missing: dict[str, list[int]] = {}
    for name in names:
        todo = seeds
        if args.no_train:
            todo = [s for s in seeds if finished(runs / VARIANTS[name].get("runs_as", name) / f"seed{s}")]
            if len(todo) < len(seeds):
                missing[name] = sorted(set(seeds) - set(todo))
            if not todo:
                continue
        per_seed = [run_one(name, VARIANTS[name], s, runs, args.data_dir, args.threads) for s in todo]
        rows.append(summarize(name, VARIANTS[name], per_seed))
    if missing:
        print(f"not trained (left out): {missing}")
    md = markdown(rows, missing)
    print(md)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "seconds": round(time.time() - t0, 1),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads},
        "variants": rows, "not_trained": missing}, indent=2))
    out.with_suffix(".md").write_text(md)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
