"""From a trained bundle to a shipped model package: calibrate, threshold, export, document.

``calibrate_and_package`` is what ``ecgscope calibrate`` and ``make models`` run:

1. recording-level probabilities of the task's validation and test records (the Analyzer's own path:
   preprocessing from the contract, windowed inference, max/mean aggregation);
2. calibration fitted on validation (``fit_calibration``), thresholds on calibrated validation
   probabilities, plausibility rules from the training labels;
3. ECE and Brier score before/after calibration on validation and test, AUROC/AUPRC/F1 on test with
   bootstrap CIs;
4. ONNX export, checked against PyTorch on test windows (max |difference| of logits);
5. the package directory with ``meta.json`` and a generated model card.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.datasets import ECGDataset
from ecgscope.evaluate.calibration import calibration_summary
from ecgscope.evaluate.metrics import evaluate_multilabel
from ecgscope.inference.package import ModelPackage, build_package, fit_calibration


def _uncalibrated_package(bundle: Path, tmp: Path, labels: tuple[str, ...], input_kind: str,
                          contract: dict[str, Any]) -> ModelPackage:
    shutil.copyfile(bundle, tmp / "model.pt")
    meta = {"name": "uncalibrated", "version": "0", "input": input_kind, "labels": list(labels), "contract": contract}
    return ModelPackage(tmp, meta, None, np.full(len(labels), 0.5), None, "0" * 64, "")


def recording_probabilities(analyzer, dataset: ECGDataset, rows: np.ndarray, chunk: int = 64) -> np.ndarray:
    """(len(rows), n_labels) recording-level probabilities through ``analyzer.classify_many``."""
    out = []
    for i in range(0, len(rows), chunk):
        out.append(analyzer.classify_many([dataset.load(int(r)) for r in rows[i : i + chunk]]))
    return np.concatenate(out)


def _onnx_agreement(analyzer_torch, onnx_path: Path, dataset: ECGDataset, rows: np.ndarray) -> float:
    from ecgscope.inference.backends import OnnxBackend

    onnx = OnnxBackend(onnx_path)
    wins = np.concatenate([analyzer_torch.preprocessor(dataset.load(int(r))).windows for r in rows])
    return float(np.abs(onnx.logits(wins) - analyzer_torch.backend.logits(wins)).max())


# where a task's records come from, for the model card's limits
_SOURCES = {"ptbxl": "PTB-XL, one German hospital system, 1989-1996 devices",
            "cinc2017": "PhysioNet/CinC Challenge 2017, AliveCor single-lead handheld recordings"}


def render_card(meta: dict[str, Any], report: dict[str, Any]) -> str:
    """The model card (markdown) from the package metadata and the calibration/evaluation report."""
    test = report["test"]["evaluation"]
    rows = "\n".join(
        f"| {r['label']} | {r['n_pos']} / {r['n']} | {r['auroc']:.3f} [{r.get('auroc_lo', float('nan')):.3f}, "
        f"{r.get('auroc_hi', float('nan')):.3f}] | {r['auprc']:.3f} | {r.get('f1', float('nan')):.3f} |"
        for r in test["per_label"])
    unscored = "; ".join(f"{u['label']} ({u['reason']})" for u in test["unscorable"]) or "none"
    m = test["macro"]
    quality_note = ('- "Poor data quality" is learned from weak annotator notes; the signal-quality gate is reported '
                    'alongside it.\n' if "Poor data quality" in meta["labels"] else "")
    cal_v, cal_t = report["val"]["calibration"], report["test"]["calibration"]
    return f"""# {meta['name']} {meta['version']}

{meta.get('description', '')}

- **Input**: {meta['input']} ({meta.get('input_detail', '')}); model `{meta['architecture']}`, trained with the
  `{meta.get('strategy', '?')}` strategy on task `{meta['task']}`.
- **Contract**: {json.dumps(meta['contract'])}
- **Labels**: {len(meta['labels'])} ({', '.join(meta['labels'])}).

## Data and splits

{meta.get('data', '')}
Subject-aware split: folds {meta['split']['train']} train, {meta['split']['val']} validation (calibration,
thresholds, model selection), {meta['split']['test']} test (reported below, never used for any choice).

## Test metrics ({report['test']['n']} records, bootstrap 95 % CIs over records)

Macro AUROC **{m['auroc']['value']:.3f} [{m['auroc']['lo']:.3f}, {m['auroc']['hi']:.3f}]**, macro AUPRC
{m['auprc']['value']:.3f}, macro F1 at the calibrated thresholds {m['f1']['value']:.3f}, over the
{len(test['per_label'])} labels with positives in the test fold. Not scorable: {unscored}.

| label | positives / assessed | AUROC [95 % CI] | AUPRC | F1 |
|---|---|---|---|---|
{rows}

## Calibration

Method `{report['calibration']['selection']['method']}` (chosen by cross-fitted ECE on validation), thresholds
`{report['calibration']['thresholds']['strategy']}`.
Pooled ECE validation {cal_v['before']['ece']:.3f} -> {cal_v['after']['ece']:.3f}; test
{cal_t['before']['ece']:.3f} -> {cal_t['after']['ece']:.3f}. Brier test {cal_t['before']['brier']:.4f} ->
{cal_t['after']['brier']:.4f}.

## Intended use

Decision support and research: a second reader for ECGs of adults, flagging findings for a clinician to
confirm. Not a diagnostic device; not validated for children, for continuous monitoring, or for alarms.

## Limits

{meta.get('limits', '')}
- Trained and tested on a few thousand records from one source ({meta.get('source') or _SOURCES['ptbxl']});
  performance on other populations and devices is unknown until measured (`ecgscope benchmark`).
- Labels with few training positives have wide confidence intervals; labels without positives were never learned.
{quality_note}"""


def calibrate_and_package(
    bundle: str | os.PathLike,
    task_name: str,
    out_dir: str | os.PathLike,
    *,
    name: str,
    version: str,
    data_dir: str | os.PathLike | None = None,
    method: str = "auto",
    threshold_strategy: str = "f1",
    target_sensitivity: float = 0.9,
    onnx: bool = True,
    n_bootstrap: int = 1000,
    description: str = "",
    limits: str = "",
    progress=print,
) -> dict[str, Any]:
    """Calibrate ``bundle`` on ``task_name``'s validation split and write the package to ``out_dir``.

    Returns the report (also stored as ``meta.json["evaluation"]``).
    """
    from ecgscope.inference.analyzer import Analyzer
    from ecgscope.inference.backends import export_onnx
    from ecgscope.models import read_checkpoint
    from ecgscope.tasks import get_task

    bundle = Path(bundle)
    task = get_task(task_name)
    ds = task.open(data_dir)
    y = task.target_matrix(ds)
    parts = task.splits(ds)
    ckpt = read_checkpoint(bundle)
    # the bundle's contract decides what the model takes (a single-lead strategy on a 12-lead task, say)
    input_kind = "single-lead" if ckpt["pretrained_cfg"]["input_contract"].get("single_lead") else "12-lead"
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="ecgscope-pkg-") as tmp:
        analyzer = Analyzer(_uncalibrated_package(bundle, Path(tmp), task.labels, input_kind,
                                                  ckpt["pretrained_cfg"]["input_contract"]))
        progress(f"probabilities on validation ({len(parts['val'])}) and test ({len(parts['test'])}) records")
        p_val = recording_probabilities(analyzer, ds, parts["val"])
        p_test = recording_probabilities(analyzer, ds, parts["test"])
        cal = fit_calibration(p_val, y[parts["val"]], y[parts["train"]], labels=task.labels, method=method,
                              threshold_strategy=threshold_strategy, target_sensitivity=target_sensitivity)
        from ecgscope.calibrate import calibrator_from_dict

        calibrator = calibrator_from_dict(cal["calibrator"])
        c_test = calibrator.predict_proba(p_test)
        thresholds = np.asarray(cal["thresholds"]["thresholds"])
        evaluation = evaluate_multilabel(y[parts["test"]], c_test, labels=task.labels, thresholds=thresholds,
                                         n_bootstrap=n_bootstrap)
        report: dict[str, Any] = {
            "task": task.name,
            "val": {"n": int(len(parts["val"])), "calibration": cal["validation"]},
            "test": {"n": int(len(parts["test"])),
                     "calibration": {"before": calibration_summary(y[parts["test"]], p_test),
                                     "after": calibration_summary(y[parts["test"]], c_test)},
                     "evaluation": evaluation.to_dict()},
            "calibration": {"selection": cal["selection"], "thresholds": cal["thresholds"]},
        }
        onnx_path = None
        if onnx:
            onnx_path = Path(tmp) / "model.onnx"
            export_onnx(bundle, onnx_path)
            diff = _onnx_agreement(analyzer, onnx_path, ds, parts["test"][:32])
            report["onnx"] = {"max_abs_logit_diff": diff, "bytes": onnx_path.stat().st_size}
        cfg = ckpt["pretrained_cfg"]
        training = ckpt.get("training", {})
        # a run may override the task's input (``ecgscope train --input '12-lead 10 s'``): describe what was trained
        input_detail = (training.get("config") or {}).get("input") or task.input
        meta = {
            "name": name, "version": version, "input": input_kind, "labels": list(task.labels), "task": task.name,
            "architecture": ckpt["model"], "strategy": ckpt.get("training", {}).get("strategy"),
            "contract": cfg["input_contract"], "input_detail": input_detail, "description": description,
            "split": {k: list(v) for k, v in task.split.items()},
            "data": task.description + (f" This model was trained on '{input_detail}' input (the task's default is "
                                        f"'{task.input}')." if input_detail != task.input else ""),
            "limits": limits,
            "source": _SOURCES.get(task.dataset.removesuffix("100"), task.dataset),
            "training": training, "metrics": {
                "test_macro_auroc": evaluation.macro["auroc"], "test_macro_auprc": evaluation.macro["auprc"],
                "test_ece_after": report["test"]["calibration"]["after"]["ece"]},
            "evaluation": report,
            "built_seconds": round(time.time() - t0, 1),
        }
        build_package(out_dir, bundle=bundle, calibration=cal, meta=meta, card=render_card(meta, report),
                      onnx=onnx_path)
    return report
