"""``ecgscope report``: the printable PDF of an ECG (the server's report) from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgscope.cli import app
from ecgscope.cli._output import check_name
from ecgscope.errors import ECGScopeError


def _acquired(metadata: dict) -> str | None:
    """``YYYYMMDDhhmmss`` (the cart readers' metadata) as ``YYYY-MM-DD hh:mm:ss``."""
    text = str(metadata.get("acquired") or "")
    if len(text) >= 8 and text[:8].isdigit():
        date = f"{text[:4]}-{text[4:6]}-{text[6:8]}"
        return date + (f" {text[8:10]}:{text[10:12]}:{text[12:14]}" if len(text) >= 14 and text[8:14].isdigit() else "")
    return text or None


@app.command()
def report(
    file: Annotated[str, typer.Argument(help="ECG file (any format ecgscope reads).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="PDF to write (default: <record>-report.pdf).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="'auto' as in analyze, a shipped model name or a "
                                       "package directory.")] = "auto",
    backend: Annotated[str, typer.Option("--backend", help="torch, onnx or onnx-int8.")] = "onnx",
    tracing_only: Annotated[bool, typer.Option("--tracing-only", help="The true-scale tracing alone, without "
                                               "the analysis page.")] = False,
    fs: Annotated[float | None, typer.Option("--fs", help="Sampling rate for files that do not state it.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing PDF.")] = False,
) -> None:
    """Write the PDF report of an ECG: true-scale 12-lead (3x4 + rhythm) or strips, then the findings page with
    measurements, calibrated probabilities, quality and the model's identity."""
    from ecgscope.inference import BACKENDS, Analyzer, choose_model
    from ecgscope.io import load_record
    from ecgscope.report import render_report

    check_name(backend, BACKENDS, "backend")
    rec = load_record(file, fs=fs)
    name = Path(file).name.split(".")[0] or "record"
    target = out or Path(f"{name}-report.pdf")
    if target.exists() and not force:
        raise ECGScopeError(f"{target} exists; pass --force to overwrite", code="exists")
    result = None
    if not tracing_only:
        chosen = choose_model(rec) if model == "auto" else model
        analyzer = Analyzer.from_pretrained(chosen, backend=backend, substitute_lead=model == "auto")
        result = analyzer.analyze(rec).to_dict()
        result["input"]["source"] = Path(file).name
    patient = {"patient_id": rec.patient_id, "record_name": rec.record_id or name, "age": rec.age, "sex": rec.sex,
               "acquired": _acquired(rec.metadata)}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(render_report(rec, result, {k: v for k, v in patient.items() if v is not None}))
    tmp.replace(target)
    pages = "tracing" if result is None else (f"tracing, findings{' and median beats' if result.get('median_beat') else ''}"
                                              f" ({result['model']['name']})")
    typer.echo(f"{target} ({target.stat().st_size / 1024:.0f} KiB: {pages})")
