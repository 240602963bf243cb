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
from ecgscope.errors import ContractError
from ecgscope.evaluate.calibration import calibration_summary
from ecgscope.evaluate.metrics import auroc, evaluate_multilabel, f1_at
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


def _split_text(meta: dict[str, Any], report: dict[str, Any]) -> str:
    sp = meta["split"]
    if "calibration_data" in report:  # a rhythm model: cross-fitted calibration (train_rhythm_package)
        return (f"Subject-aware split: folds {sp['train']} and {sp['val']} fit the model; calibration and the threshold "
                f"use the\n{report['calibration_data']} (each fold predicted by a model fitted on the others); "
                f"{sp['test']} test (reported below, never used for any choice).")
    return (f"Subject-aware split: folds {sp['train']} train, {sp['val']} validation (calibration,\nthresholds, model "
            f"selection), {sp['test']} test (reported below, never used for any choice).")


def _head_text(report: dict[str, Any]) -> str:
    head = report.get("record_head")
    if not head:
        return ""
    return (f"- **Record head**: whole-record measurements (rhythm statistics, PR/QRS/QT/QTc, axes, quality; "
            f"`ecgscope.inference.record_head`) blended into the logits with weight {head['alpha']:g} (chosen on "
            f"validation) for {len(head['labels_with_head'])} labels: {', '.join(head['labels_with_head'])}.\n")


def _quality_threshold_text(report: dict[str, Any]) -> str:
    qt = report.get("quality_threshold")
    if not qt:
        return ""
    return (f"- **{qt['label']} threshold** {qt['threshold']:.3f}, chosen on {qt['dataset']} folds 1-9 ({qt['n']} "
            f"recordings, {qt['n_pos']} positive) instead of the validation fold's {qt['validation_threshold']:.3f}: "
            "the recordings this model is for. Above it a result is marked unreliable.\n")


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
- **Contract**: {json.dumps(meta['contract']) if meta.get('contract') else meta.get('contract_text', '')}
- **Labels**: {len(meta['labels'])} ({', '.join(meta['labels'])}).
{_head_text(report)}{_quality_threshold_text(report)}
## Data and splits

{meta.get('data', '')}
{_split_text(meta, report)}

## Test metrics ({report['test']['n']} records, bootstrap 95 % CIs over records)

Macro AUROC **{m['auroc']['value']:.3f} [{m['auroc']['lo']:.3f}, {m['auroc']['hi']:.3f}]**, macro AUPRC
{m['auprc']['value']:.3f}, macro F1 at the calibrated thresholds {m['f1']['value']:.3f}, over the
{len(test['per_label'])} labels with positives in the test fold. Not scorable: {unscored}.

| label | positives / assessed | AUROC [95 % CI] | AUPRC | F1 |
|---|---|---|---|---|
{rows}

## Calibration

Method `{report['calibration']['selection']['method']}` (chosen by cross-fitted ECE on {report.get('calibration_data', 'validation')}), thresholds
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
    record_head: bool = False,
    window_stride_s: float | None = None,
    quality_threshold_data: str | None = None,
    progress=print,
) -> dict[str, Any]:
    """Calibrate ``bundle`` on ``task_name``'s validation split and write the package to ``out_dir``.

    ``window_stride_s``: read records in windows that start this many seconds apart (overlapping when shorter
    than the window) instead of the bundle's tiling; calibration, thresholds and the test figures are then
    those of the overlapping reading, and the package's contract carries the stride.

    ``quality_threshold_data``: choose the "Poor data quality" threshold (which also marks a whole result
    unreliable) on that dataset's folds 1-9 instead of the validation fold: the recordings the model is for
    (``"cinc2017"``: handheld strips for a wearable model) when they differ from the ones it was trained on.

    With ``record_head``, a :class:`~ecgscope.inference.record_head.RecordHead` is fitted on the training
    folds' record features, its blend weight chosen on the validation fold (macro AUROC), and calibration
    is fitted on the blended validation probabilities.  Returns the report (also stored as
    ``meta.json["evaluation"]``).
    """
    from ecgscope.calibrate.plausibility import QUALITY_LABEL
    from ecgscope.inference.analyzer import Analyzer
    from ecgscope.inference.backends import export_onnx
    from ecgscope.models import read_checkpoint
    from ecgscope.tasks import get_task

    bundle = Path(bundle)
    task = get_task(task_name)
    if quality_threshold_data and QUALITY_LABEL not in task.labels:
        raise ContractError(f"task {task_name!r} has no {QUALITY_LABEL!r} label to choose a threshold for",
                            code="bad_option")
    ds = task.open(data_dir)
    y = task.target_matrix(ds)
    parts = task.splits(ds)
    ckpt = read_checkpoint(bundle)
    contract = dict(ckpt["pretrained_cfg"]["input_contract"])
    if window_stride_s is not None:
        stride = int(round(window_stride_s * contract["fs"]))
        if not 0 < stride <= contract["window_samples"]:
            raise ContractError(f"window stride {window_stride_s:g} s must be above 0 and at most the model's "
                                f"window ({contract['window_samples'] / contract['fs']:g} s)", code="bad_window_stride")
        contract["window_stride"] = stride
    # the bundle's contract decides what the model takes (a single-lead strategy on a 12-lead task, say)
    input_kind = "single-lead" if contract.get("single_lead") else "12-lead"
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="ecgscope-pkg-") as tmp:
        analyzer = Analyzer(_uncalibrated_package(bundle, Path(tmp), task.labels, input_kind, contract))
        progress(f"probabilities on validation ({len(parts['val'])}) and test ({len(parts['test'])}) records")
        p_val = recording_probabilities(analyzer, ds, parts["val"])
        p_test = recording_probabilities(analyzer, ds, parts["test"])
        head_report, head = None, None
        if record_head:
            progress("record features of the training, validation and test records")
            features = {k: _head_features(analyzer, ds, parts[k]) for k in ("train", "val", "test")}
            head, head_report, p_val, p_test = _fit_record_head(features, parts, y, task.labels, p_val, p_test)
        cal = fit_calibration(p_val, y[parts["val"]], y[parts["train"]], labels=task.labels, method=method,
                              threshold_strategy=threshold_strategy, target_sensitivity=target_sensitivity)
        from ecgscope.calibrate import calibrator_from_dict

        calibrator = calibrator_from_dict(cal["calibrator"])
        quality_threshold = None
        if quality_threshold_data:
            progress(f"Poor data quality threshold on {quality_threshold_data} folds 1-9")
            quality_threshold = _quality_threshold(analyzer, head, calibrator, task.labels, quality_threshold_data,
                                                   data_dir, threshold_strategy, target_sensitivity)
            q = task.labels.index(quality_threshold["label"])
            quality_threshold["validation_threshold"] = cal["thresholds"]["thresholds"][q]
            cal["thresholds"]["thresholds"][q] = quality_threshold["threshold"]
            cal["thresholds"]["chosen_elsewhere"] = [quality_threshold]
        c_test = calibrator.predict_proba(p_test)
        thresholds = np.asarray(cal["thresholds"]["thresholds"])
        evaluation = evaluate_multilabel(y[parts["test"]], c_test, labels=task.labels, thresholds=thresholds,
                                         n_bootstrap=n_bootstrap)
        report: dict[str, Any] = {
            "task": task.name,
            **({"record_head": head_report} if head_report else {}),
            **({"quality_threshold": quality_threshold} if quality_threshold else {}),
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
        training = ckpt.get("training", {})
        # a run may override the task's input (``ecgscope train --input '12-lead 10 s'``): describe what was trained
        input_detail = (training.get("config") or {}).get("input") or task.input
        meta = {
            "name": name, "version": version, "input": input_kind, "labels": list(task.labels), "task": task.name,
            "architecture": ckpt["model"], "strategy": ckpt.get("training", {}).get("strategy"),
            "contract": contract, "input_detail": input_detail, "description": description,
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
                      onnx=onnx_path, record_head=head.to_dict() if head is not None else None)
    if head is not None or window_stride_s is not None:  # what the Analyzer adds to the bundle's own reading
        # (thresholds do not change probabilities)
        _check_package(out_dir, ds, parts["test"][:16], c_test[:16], tol=1e-6)
    return report


def _check_package(out_dir: str | os.PathLike, ds: ECGDataset, rows: np.ndarray, expected: np.ndarray,
                   tol: float) -> float:
    """The package through the Analyzer's own path must give the probabilities that were evaluated."""
    from ecgscope.inference.analyzer import Analyzer

    diff = float(np.abs(Analyzer(out_dir).classify_many([ds.load(int(r)) for r in rows]) - expected).max())
    if diff > tol:
        raise RuntimeError(f"the package's Analyzer differs from the evaluated model by {diff}")
    return diff


def _head_features(analyzer, ds: ECGDataset, rows: np.ndarray) -> np.ndarray:
    """(len(rows), len(RECORD_FEATURES)) record-head features of dataset rows."""
    from ecgscope.errors import RecordValidationError
    from ecgscope.inference.record_head import RECORD_FEATURES
    from ecgscope.inference.rhythm_model import feature_matrix

    out = []
    for r in rows:
        try:
            out.append(analyzer.head_features(ds.load(int(r))))
        except RecordValidationError:  # a lead the model reads is not an ECG (an artifact): missing
            out.append(dict.fromkeys(RECORD_FEATURES, float("nan")))
    return feature_matrix(out, RECORD_FEATURES)


def _quality_threshold(analyzer, head, calibrator, labels: tuple[str, ...], dataset: str,
                       data_dir: str | os.PathLike | None, threshold_strategy: str,
                       target_sensitivity: float) -> dict[str, Any]:
    """The "Poor data quality" threshold chosen on another dataset's development folds (1-9): the recordings a
    model is deployed on (a wearable model on handheld strips) rather than the clinical validation fold."""
    from ecgscope.calibrate import ThresholdSelector
    from ecgscope.calibrate.plausibility import QUALITY_LABEL
    from ecgscope.datasets import open_dataset

    ds = open_dataset(dataset, data_dir)
    if QUALITY_LABEL not in ds.labels or not np.nansum(ds.labels[QUALITY_LABEL]):
        raise ContractError(f"dataset {dataset!r} does not assess {QUALITY_LABEL!r}", code="bad_option")
    y = ds.labels[QUALITY_LABEL].to_numpy(np.float64)
    q = labels.index(QUALITY_LABEL)
    rows = np.flatnonzero((ds.index["fold"].to_numpy() <= 9) & ~np.isnan(y))
    p = recording_probabilities(analyzer, ds, rows)
    if head is not None:
        p = head.blend(p, _head_features(analyzer, ds, rows))
    c = calibrator.predict_proba(p)[:, [q]]
    sel = ThresholdSelector(threshold_strategy, target_sensitivity).fit(c, y[rows, None])
    return {"label": QUALITY_LABEL, "dataset": dataset, "folds": list(range(1, 10)), "n": int(len(rows)),
            "n_pos": int(np.nansum(y[rows])), "threshold": float(sel.thresholds_[0])}


def _fit_record_head(features: dict[str, np.ndarray], parts: dict[str, np.ndarray], y: np.ndarray,
                     labels: tuple[str, ...], p_val: np.ndarray, p_test: np.ndarray):
    """Fit the record head on the training folds, choose its blend on validation; blended val/test probabilities.

    ``features``: the :func:`_head_features` of the "train", "val" and "test" rows of ``parts`` (the same for
    every network read from the same records, so a caller comparing networks computes them once)."""
    from ecgscope.inference.record_head import RECORD_FEATURES, RecordHead

    x_train, x_val, x_test = (features[k] for k in ("train", "val", "test"))
    head = RecordHead(labels).fit(x_train, y[parts["train"]])
    scores = head.choose_alpha(p_val, x_val, y[parts["val"]])
    report = {"alpha": head.alpha_, "val_macro_auroc_by_alpha": scores,
              "labels_with_head": [lab for lab, m in zip(labels, head.models_, strict=True) if m is not None],
              "features": list(RECORD_FEATURES)}
    return head, report, head.blend(p_val, x_val), head.blend(p_test, x_test)


RHYTHM_CONTRACT_TEXT = ("the whole record, any length with at least 5 beats (30-60 s strips are what it was trained "
                        "on); lead I (or the only lead; `substitute_lead` takes the best lead of a record without "
                        "lead I), sampled at >= 100 Hz; no windows: the statistics of "
                        "`ecgscope.signal.rhythm_features` from the learned delineation")


def train_rhythm_package(
    task_name: str,
    out_dir: str | os.PathLike,
    *,
    name: str,
    version: str,
    data_dir: str | os.PathLike | None = None,
    C: float = 1.0,
    threshold_strategy: str = "f1",
    n_bootstrap: int = 1000,
    description: str = "",
    limits: str = "",
    progress=print,
) -> dict[str, Any]:
    """Train a record-level rhythm model (:class:`~ecgscope.inference.rhythm_model.RhythmLogistic`) on a
    one-label task and write its package.

    1. rhythm statistics of every record (:func:`~ecgscope.signal.rhythm_features.ecg_rhythm_features`);
    2. out-of-fold probabilities over the training and validation folds: each fold predicted by a model
       fitted on the others (the dataset's folds, so patients never cross); calibration and the threshold
       are fitted on these ~1800 cross-fitted probabilities rather than on the ~200 validation records
       alone, whose ~20 positives would make the F1 threshold a coin toss;
    3. the shipped model is fitted on all training and validation folds; the test fold is scored once,
       with bootstrap CIs, and re-scored through the Analyzer to check the package gives the same numbers.
    """
    from ecgscope.calibrate import calibrator_from_dict
    from ecgscope.inference.rhythm_model import (
        RHYTHM_MODEL_FILE,
        RHYTHM_MODEL_KIND,
        RhythmLogistic,
        feature_matrix,
    )
    from ecgscope.signal.rhythm_features import RHYTHM_FEATURES, ecg_rhythm_features
    from ecgscope.tasks import get_task

    task = get_task(task_name)
    if len(task.labels) != 1:
        raise ValueError(f"a rhythm model predicts one label; task {task_name!r} has {len(task.labels)}")
    ds = task.open(data_dir)
    y = task.target_matrix(ds)[:, 0]
    parts = task.splits(ds)
    folds = ds.index["fold"].to_numpy()
    t0 = time.time()
    rows = np.concatenate([parts["train"], parts["val"], parts["test"]])
    progress(f"rhythm statistics of {len(rows)} records")
    X = np.full((len(ds), len(RHYTHM_FEATURES)), np.nan)
    X[rows] = feature_matrix([ecg_rhythm_features(ds.load(int(r))) for r in rows], RHYTHM_FEATURES)
    fit_rows = np.concatenate([parts["train"], parts["val"]])
    fit_rows = fit_rows[~np.isnan(y[fit_rows])]
    oof = np.empty(len(fit_rows))
    for fold in np.unique(folds[fit_rows]):
        held = folds[fit_rows] == fold
        m = RhythmLogistic(C=C).fit(X[fit_rows[~held]], y[fit_rows[~held]])
        oof[held] = m.predict_proba(X[fit_rows[held]])
    progress(f"out-of-fold probabilities of {len(fit_rows)} records; fitting the shipped model")
    model = RhythmLogistic(C=C).fit(X[fit_rows], y[fit_rows])
    cal = fit_calibration(oof[:, None], y[fit_rows][:, None], y[parts["train"]][:, None], labels=task.labels,
                          threshold_strategy=threshold_strategy)
    calibrator = calibrator_from_dict(cal["calibrator"])
    test = parts["test"]
    p_test = model.predict_proba(X[test])[:, None]
    c_test = calibrator.predict_proba(p_test)
    thresholds = np.asarray(cal["thresholds"]["thresholds"])
    evaluation = evaluate_multilabel(y[test][:, None], c_test, labels=task.labels, thresholds=thresholds,
                                     n_bootstrap=n_bootstrap)
    report: dict[str, Any] = {
        "task": task.name,
        "calibration_data": "out-of-fold probabilities of the training and validation folds",
        "val": {"n": int(len(fit_rows)), "calibration": cal["validation"]},
        "test": {"n": int(len(test)),
                 "calibration": {"before": calibration_summary(y[test][:, None], p_test),
                                 "after": calibration_summary(y[test][:, None], c_test)},
                 "evaluation": evaluation.to_dict()},
        "calibration": {"selection": cal["selection"], "thresholds": cal["thresholds"]},
        "out_of_fold_auroc": auroc(y[fit_rows], oof),
        "out_of_fold_f1": f1_at(y[fit_rows], calibrator.predict_proba(oof[:, None])[:, 0], thresholds[0]),
        "coefficients": dict(zip(RHYTHM_FEATURES, np.round(model.coef_, 4).tolist(), strict=True)),
    }
    meta = {
        "name": name, "version": version, "input": "single-lead", "labels": list(task.labels), "task": task.name,
        "model_kind": RHYTHM_MODEL_KIND, "architecture": "rhythm-logistic", "strategy": "record-level statistics",
        "lead": "I", "contract": None, "contract_text": RHYTHM_CONTRACT_TEXT,
        "input_detail": "whole single-lead strip", "description": description,
        "split": {k: list(v) for k, v in task.split.items()},
        "data": task.description.rstrip(".") + ". The model reads whole records, not 5-s windows.",
        "limits": limits, "source": _SOURCES.get(task.dataset.removesuffix("100"), task.dataset),
        "training": {"estimator": "RhythmLogistic", "C": C, "class_weight": "balanced",
                     "features": list(RHYTHM_FEATURES), "fit_records": int(len(fit_rows))},
        "metrics": {"test_macro_auroc": evaluation.macro["auroc"], "test_macro_auprc": evaluation.macro["auprc"],
                    "test_ece_after": report["test"]["calibration"]["after"]["ece"]},
        "evaluation": report,
    }
    with tempfile.TemporaryDirectory(prefix="ecgscope-pkg-") as tmp:
        model_json = Path(tmp) / RHYTHM_MODEL_FILE
        model_json.write_text(json.dumps(model.to_dict(), indent=1) + "\n")
        build_package(out_dir, bundle=model_json, calibration=cal, meta=meta, card=render_card(meta, report))
    report["analyzer_max_abs_diff"] = _check_package(out_dir, ds, test[:32], c_test[:32], tol=1e-9)
    # meta.json once more: its evaluation records the check, which needs the built package
    meta["built_seconds"] = round(time.time() - t0, 1)
    (Path(out_dir) / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return report

