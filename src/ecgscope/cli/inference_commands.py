"""``ecgscope analyze``, ``ecgscope export`` and ``ecgscope calibrate``: the inference API on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgscope.cli import app
from ecgscope.cli._output import check_name, console, print_json, table
from ecgscope.errors import ECGScopeError

ModelOption = Annotated[str, typer.Option("--model", "-m", help="Shipped model name or a model package directory.")]


def _summary(path: str, d: dict) -> None:
    cls, meas, q = d["classification"], d["measurements"], d["quality"]
    verdict = "reliable" if cls["reliable"] else "UNRELIABLE: " + "; ".join(cls["unreliable_reasons"])
    console.print(f"[bold]{path}[/bold]  {d['input']['duration_s']:.1f} s, {len(d['input']['leads'])} lead(s) at "
                  f"{d['input']['fs']:g} Hz  ->  {d['model']['name']} {d['model']['version']}  ({verdict})")
    labels = sorted(cls["labels"], key=lambda lab: -lab["probability"])
    shown = [lab for lab in labels if lab["positive"]] or labels[:3]
    rows = [[lab["name"], f"{lab['probability']:.2f}", f"{lab['threshold']:.2f}", "yes" if lab["positive"] else "no"]
            for lab in shown]
    rows += [[s["name"], "", "", "suppressed: " + s["reason"]] for s in cls["suppressed"]]
    console.print(table("Findings", ["label", "probability", "threshold", "positive"], rows))

    def fmt(v, unit=""):
        return "-" if v is None else f"{v:g}{unit}"

    rhythm = d["rhythm"]
    console.print(
        f"HR {fmt(rhythm['heart_rate_bpm'], ' bpm')}  PR {fmt(meas['pr_ms'], ' ms')}  QRS {fmt(meas['qrs_ms'], ' ms')}  "
        f"QT {fmt(meas['qt_ms'], ' ms')}  QTc {fmt(meas['qtc_ms'], ' ms')} ({meas['qtc_formula']})  "
        f"axes P/QRS/T {fmt(meas['p_axis_deg'])}/{fmt(meas['qrs_axis_deg'])}/{fmt(meas['t_axis_deg'])} deg  "
        f"RMSSD {fmt(rhythm['hrv']['rmssd_ms'], ' ms')}  SDNN {fmt(rhythm['hrv']['sdnn_ms'], ' ms')}")
    console.print(f"quality: {'usable' if q['usable'] else 'NOT usable'}"
                  + (f" ({'; '.join(q['issues'])})" if q["issues"] else ""))
    for w in d["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"time: {d['timing_ms']['total']:.1f} ms\n")


@app.command()
def analyze(
    files: Annotated[list[str], typer.Argument(help="ECG files (any format ecgscope reads).")],
    model: Annotated[str, typer.Option("--model", "-m", help="'auto' (12-lead model for 12-lead records, else the "
                                       "single-lead model), a shipped model name, or a package directory.")] = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="Print the DESIGN §4 JSON result(s).")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Add per-label saliency over time.")] = False,
    backend: Annotated[str, typer.Option("--backend", help="torch or onnx.")] = "torch",
    allow_single_lead: Annotated[bool, typer.Option("--allow-single-lead",
                                                    help="Let a 12-lead model take one lead, duplicated.")] = False,
    fs: Annotated[float | None, typer.Option("--fs", help="Sampling rate for files that do not state it.")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Batch mode: the network alone, without the evidence "
                                       "combination (whole-record measurements and rhythm statistics fitted across "
                                       "sources; docs/inference.md), ~5x the throughput of the 12-lead model.")] = False,
) -> None:
    """Classify and analyse ECG records: findings with calibrated probabilities, intervals, HRV, quality."""
    from ecgscope.inference import BACKENDS, Analyzer, choose_model
    from ecgscope.io import load_record

    check_name(backend, BACKENDS, "backend")
    analyzers: dict[str, Analyzer] = {}

    def analyzer_for(rec) -> Analyzer:
        name = choose_model(rec) if model == "auto" else model
        if name not in analyzers:
            # auto mode may hand a record without lead I to the single-lead model: the result says which lead
            analyzers[name] = Analyzer.from_pretrained(name, backend=backend, allow_single_lead=allow_single_lead,
                                                       substitute_lead=model == "auto", combine_evidence=not fast)
        return analyzers[name]

    results, failures = [], []
    for f in files:
        try:
            rec = load_record(f, fs=fs)
            d = analyzer_for(rec).analyze(rec, explain=explain).to_dict()
            d["input"]["source"] = Path(f).name
        except ECGScopeError as err:
            if len(files) == 1:
                raise
            failures.append({"file": f, "error": err.to_dict()})
            typer.echo(f"error: {err}", err=True)
            continue
        results.append(d)
        if not json_out:
            _summary(f, d)
    if json_out:
        print_json(results[0] if len(files) == 1 else {"results": results, "errors": failures})
    if failures:
        raise typer.Exit(2)


@app.command()
def export(
    model: ModelOption = "ecgscope-17-12lead",
    fmt: Annotated[str, typer.Option("--format", help="Export format (onnx).")] = "onnx",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (default: <model>.onnx).")] = None,
    quantize: Annotated[bool, typer.Option("--quantize", help="int8 dynamic quantisation.")] = False,
) -> None:
    """Export a model's network to ONNX (optionally int8-quantised) and report its size."""
    from ecgscope.errors import UnsupportedFormatError
    from ecgscope.inference import export_onnx, load_package

    if fmt.lower() != "onnx":
        raise UnsupportedFormatError(f"cannot export to {fmt!r}; supported: onnx")
    pkg = load_package(model)
    if pkg.model_kind != "network":
        raise UnsupportedFormatError(f"{pkg.name} is a {pkg.model_kind} model (model.json, NumPy only): it has no "
                                     "network to export")
    target = out or Path(f"{pkg.name}{'-int8' if quantize else ''}.onnx")
    export_onnx(pkg.path / "model.pt", target, quantize=quantize)
    typer.echo(f"{target} ({target.stat().st_size / 1024:.0f} KiB)")


@app.command()
def calibrate(
    bundle: Annotated[Path, typer.Argument(help="Trained model bundle (best.pt from ecgscope train).")],
    task: Annotated[str, typer.Option("--task", help="Task whose validation split calibrates.")] = "ptbxl17",
    out: Annotated[Path, typer.Option("--out", "-o", help="Model package directory to write.")] = Path("model-package"),
    name: Annotated[str, typer.Option("--name", help="Model name.")] = "custom",
    version: Annotated[str, typer.Option("--version", help="Model version.")] = "0.1.0",
    method: Annotated[str, typer.Option("--method", help="auto, temperature, temperature-per-label, platt, isotonic.")] = "auto",
    thresholds: Annotated[str, typer.Option("--thresholds", help="f1 or sensitivity.")] = "f1",
    target_sensitivity: Annotated[float, typer.Option("--target-sensitivity")] = 0.9,
    data_dir: Annotated[str | None, typer.Option("--data-dir")] = None,
    no_onnx: Annotated[bool, typer.Option("--no-onnx", help="Do not export model.onnx.")] = False,
    description: Annotated[str, typer.Option("--description", help="Model card: what the model is.")] = "",
    limits: Annotated[str, typer.Option("--limits", help="Model card: known limits (markdown), before the generic ones.")] = "",
    record_head: Annotated[bool, typer.Option(
        "--record-head", help="Blend whole-record measurements (PR, HR, rhythm, axes, quality) into the logits.")] = False,
    window_stride: Annotated[float | None, typer.Option(
        "--window-stride", help="Seconds between window starts (overlapping windows when below the window length); "
                                "default: the model's tiling.", min=0.01)] = None,
    quality_threshold_data: Annotated[str | None, typer.Option(
        "--quality-threshold-data", help="Choose the Poor data quality threshold (which marks results unreliable) on "
                                         "this dataset's folds 1-9, e.g. cinc2017 for a wearable model.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Calibrate a trained model on its task's validation split; report ECE/Brier before and after; package it."""
    from ecgscope.inference.build import calibrate_and_package
    from ecgscope.tasks import list_tasks

    check_name(task, list_tasks(), "task")
    if quality_threshold_data is not None:
        from ecgscope.datasets import DATASETS

        check_name(quality_threshold_data, list(DATASETS), "dataset")
    report = calibrate_and_package(bundle, task, out, name=name, version=version, data_dir=data_dir, method=method,
                                   threshold_strategy=thresholds, target_sensitivity=target_sensitivity,
                                   onnx=not no_onnx, description=description, limits=limits,
                                   record_head=record_head, window_stride_s=window_stride,
                                   quality_threshold_data=quality_threshold_data,
                                   progress=lambda m: typer.echo(m, err=True))
    if json_out:
        print_json(report)
        return
    rows = []
    for split in ("val", "test"):
        c = report[split]["calibration"]
        for when in ("before", "after"):
            rows.append([split, when, f"{c[when]['ece']:.4f}", f"{c[when]['ece_classwise']:.4f}",
                         f"{c[when]['brier']:.4f}"])
    console.print(table(f"Calibration ({report['calibration']['selection']['method']}, "
                        f"{report[split]['n']} test records)", ["split", "", "ECE (pooled)", "ECE (classwise)",
                                                                "Brier"], rows))
    ev = report["test"]["evaluation"]["macro"]["auroc"]
    typer.echo(f"test macro AUROC {ev['value']:.3f} [{ev['lo']:.3f}, {ev['hi']:.3f}]")
    if "onnx" in report:
        typer.echo(f"ONNX: max |logit difference| vs PyTorch {report['onnx']['max_abs_logit_diff']:.2e}, "
                   f"{report['onnx']['bytes'] / 1024:.0f} KiB")
    typer.echo(f"package: {out} (the full report is meta.json's 'evaluation')")


@app.command("train-rhythm")
def train_rhythm(
    task: Annotated[str, typer.Option("--task", help="One-label task (AF vs rest).")] = "cinc2017-af",
    out: Annotated[Path, typer.Option("--out", "-o", help="Model package directory to write.")] = Path("model-package"),
    name: Annotated[str, typer.Option("--name", help="Model name.")] = "custom-rhythm",
    version: Annotated[str, typer.Option("--version", help="Model version.")] = "0.1.0",
    c: Annotated[float, typer.Option("--C", help="Inverse L2 regularisation of the logistic model.")] = 1.0,
    data_dir: Annotated[str | None, typer.Option("--data-dir")] = None,
    description: Annotated[str, typer.Option("--description", help="Model card: what the model is.")] = "",
    limits: Annotated[str, typer.Option("--limits", help="Model card: known limits (markdown).")] = "",
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Train a record-level rhythm model (RR irregularity, P waves, atrial activity) and package it."""
    from ecgscope.inference.build import train_rhythm_package
    from ecgscope.tasks import get_task, list_tasks

    check_name(task, list_tasks(), "task")
    n_labels = len(get_task(task).labels)
    if n_labels != 1:
        raise typer.BadParameter(f"a rhythm model predicts one label; task {task!r} has {n_labels} (use cinc2017-af)",
                                 param_hint="--task")
    if c <= 0:
        raise typer.BadParameter(f"--C must be positive; got {c}")
    report = train_rhythm_package(task, out, name=name, version=version, data_dir=data_dir, C=c,
                                  description=description, limits=limits, progress=lambda m: typer.echo(m, err=True))
    if json_out:
        print_json(report)
        return
    row = report["test"]["evaluation"]["per_label"][0]
    typer.echo(f"{row['label']}: out-of-fold AUROC {report['out_of_fold_auroc']:.3f}; test ({row['n_pos']} positives of "
               f"{row['n']}) AUROC {row['auroc']:.3f} [{row['auroc_lo']:.3f}, {row['auroc_hi']:.3f}], F1 {row['f1']:.3f} "
               f"[{row['f1_lo']:.3f}, {row['f1_hi']:.3f}]")
    typer.echo(f"package: {out} (the full report is meta.json's 'evaluation')")
