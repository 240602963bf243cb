"""Would averaging the shipped recipe's seeds lift the 12-lead model toward the 0.95 goal?

The three seeds of a shipped recipe (``runs/shipped/<variant>/seed{0,1,2}/best.pt``, trained by
``benchmarks/shipped_models.py``) are each scored on PTB-XL fold 10 alone, averaged in logit space (one
model of three networks), and both again with the record head (fitted on folds 1-8, its blend weight chosen
on fold 9, as ``ecgscope calibrate --record-head`` does).  AUROC does not depend on calibration, so the
figures are those of the uncalibrated probabilities; CIs are percentile bootstraps over the 328 test records.

    nice -n 10 .venv/bin/python benchmarks/seed_ensemble.py [--variant ecgscope-17-12lead] [--runs runs/shipped]

Writes ``benchmarks/results/seed_ensemble.{json,md}``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _common import write_table_and_results

from ecgscope.calibrate._base import logit, sigmoid
from ecgscope.evaluate.metrics import evaluate_multilabel
from ecgscope.inference.analyzer import Analyzer
from ecgscope.inference.build import (
    _fit_record_head,
    _head_features,
    _uncalibrated_package,
    recording_probabilities,
)
from ecgscope.models import read_checkpoint
from ecgscope.tasks import get_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="ecgscope-17-12lead")
    ap.add_argument("--runs", default="runs/shipped")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()

    task = get_task("ptbxl17")
    ds = task.open(args.data_dir)
    y = task.target_matrix(ds)
    parts = task.splits(ds)
    seeds = [int(s) for s in args.seeds.split(",")]
    probs: dict[int, dict[str, np.ndarray]] = {}
    features = None
    for seed in seeds:
        bundle = Path(args.runs) / args.variant / f"seed{seed}" / "best.pt"
        contract = dict(read_checkpoint(bundle)["pretrained_cfg"]["input_contract"])
        kind = "single-lead" if contract.get("single_lead") else "12-lead"
        with tempfile.TemporaryDirectory(prefix="ecgscope-ens-") as tmp:
            analyzer = Analyzer(_uncalibrated_package(bundle, Path(tmp), task.labels, kind, contract))
            probs[seed] = {k: recording_probabilities(analyzer, ds, parts[k]) for k in ("val", "test")}
            if features is None:  # the same records, the same features for every seed
                print("record features of the training, validation and test folds")
                features = {k: _head_features(analyzer, ds, parts[k]) for k in ("train", "val", "test")}
        print(f"seed {seed} scored")

    def with_head(p: dict[str, np.ndarray]) -> tuple[np.ndarray, float]:
        """What ``ecgscope calibrate --record-head`` does: fit on folds 1-8, blend weight chosen on fold 9."""
        _, report, _, p_test = _fit_record_head(features, parts, y, task.labels, p["val"], p["test"])
        return p_test, report["alpha"]

    y_test = y[parts["test"]]
    rows = []

    def score(name: str, p_test: np.ndarray, alpha: float | None = None, seed: int | None = None) -> None:
        ev = evaluate_multilabel(y_test, p_test, labels=task.labels, n_bootstrap=args.bootstrap)
        a = ev.macro["auroc"]
        rows.append({"variant": name, "seed": seed, "record_head": alpha is not None, "macro_auroc": a["value"],
                     "ci": [a["lo"], a["hi"]], "macro_auprc": ev.macro["auprc"]["value"], "alpha": alpha})

    for seed in seeds:
        score(f"seed {seed}", probs[seed]["test"], seed=seed)
        score(f"seed {seed} + record head", *with_head(probs[seed]), seed=seed)
    mean = {k: sigmoid(np.mean([logit(probs[s][k]) for s in seeds], axis=0)) for k in ("val", "test")}
    score(f"ensemble of seeds {args.seeds} (mean logit)", mean["test"])
    score("ensemble + record head", *with_head(mean))

    lines = [f"# Seed ensemble: {args.variant} on PTB-XL fold 10 ({len(y_test)} records)", "",
             "| variant | test macro AUROC [95 % CI] | macro AUPRC | head blend weight |", "|---|---|---|---|"]
    for r in rows:
        alpha = "" if r["alpha"] is None else f"{r['alpha']:.2f}"
        lines.append(f"| {r['variant']} | {r['macro_auroc']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] "
                     f"| {r['macro_auprc']:.3f} | {alpha} |")
    singles = [r["macro_auroc"] for r in rows if r["seed"] is not None and not r["record_head"]]
    heads = [r["macro_auroc"] for r in rows if r["seed"] is not None and r["record_head"]]
    lines += ["", f"Mean of the seeds: {np.mean(singles):.3f} alone, {np.mean(heads):.3f} with the record head."]
    write_table_and_results("seed_ensemble", lines, {"variant": args.variant, "seeds": seeds, "rows": rows})


if __name__ == "__main__":
    main()
