"""How much the hybrid models' in-network signal statistics know on their own (ptbxl17, 10-s 12-lead windows).

One logistic regression per label (class-balanced, L2, C=0.05) on the standardised
:class:`~ecgscope.models.backbones.hybrid.SignalStatistics` of PTB-XL folds 1-8, scored on fold 10
with bootstrap 95 % CIs.  No network is trained: this is the evidence for adding the statistics
(e.g. "Poor data quality", which the networks alone barely learn).

    .venv/bin/python benchmarks/signal_statistics_probe.py [--data-dir DIR]

Writes ``benchmarks/results/signal_statistics_probe.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("ECGSCOPE_DATA_DIR"))
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    import torch
    from sklearn.linear_model import LogisticRegression

    from ecgscope.evaluate.metrics import evaluate_multilabel
    from ecgscope.models import create_model
    from ecgscope.tasks import get_task
    from ecgscope.train.data import TaskDataModule

    torch.set_num_threads(1)
    t0 = time.time()
    task = dataclasses.replace(get_task("ptbxl17"), input="12-lead 10 s")
    stats = create_model("resnet1d_small_hybrid").stats
    contract = task.contract_for(create_model("resnet1d_small").pretrained_cfg.input_contract)
    dm = TaskDataModule(task, contract, args.data_dir)
    dm.setup()
    feats, targets = {}, {}
    for part in ("train", "test"):
        windows, owner = dm.parts[part].prepared.all_windows()
        if len(np.unique(owner)) != len(owner):
            raise SystemExit("expected one 10-s window per record")
        feats[part] = np.concatenate([stats.raw(torch.as_tensor(windows[i : i + 256])).numpy()
                                      for i in range(0, len(windows), 256)])
        targets[part] = dm.parts[part].targets
    mean, std = feats["train"].mean(axis=0), feats["train"].std(axis=0) + 1e-3
    probs = np.full(targets["test"].shape, 0.5)
    for j in range(targets["train"].shape[1]):
        y = targets["train"][:, j]
        known = ~np.isnan(y)
        if y[known].sum() < 2:
            continue  # nothing to learn; the label is unscorable on test anyway
        clf = LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced")
        clf.fit((feats["train"][known] - mean) / std, y[known])
        probs[:, j] = clf.predict_proba((feats["test"] - mean) / std)[:, 1]
    report = evaluate_multilabel(targets["test"], probs, labels=task.labels, n_bootstrap=args.bootstrap)
    d = report.to_dict()
    print(f"{'label':<40} AUROC [95 % CI]")
    for row in d["per_label"]:
        print(f"{row['label']:<40} {row['auroc']:.3f} [{row['auroc_lo']:.3f}, {row['auroc_hi']:.3f}]")
    print(report.summary_line())
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "signal_statistics_probe.json"
    out.write_text(json.dumps({"task": "ptbxl17", "input": "12-lead 10 s", "features": stats.num_features,
                               "train_records": int(len(targets["train"])), "test_records": int(len(targets["test"])),
                               "seconds": round(time.time() - t0, 1), "evaluation": d}, indent=2, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
