"""``ecgscope info`` and ``ecgscope convert``: single records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgscope.cli import app
from ecgscope.cli._output import console, print_json, table
from ecgscope.errors import ECGScopeError
from ecgscope.io import WRITE_FORMATS, load_record, save_record
from ecgscope.signal.quality import lead_quality

FsOption = Annotated[float | None, typer.Option("--fs", help="Sampling rate in Hz, for files that do not state it.")]
FormatOption = Annotated[str | None, typer.Option("--format", "-f", help="Force the input format.")]
UnitsOption = Annotated[str | None, typer.Option("--units", help="Units of the file's samples (mV, uV, V).")]


def _info(path: str, fmt: str | None, fs: float | None, units: str | None) -> dict:
    rec = load_record(path, format=fmt, fs=fs, units=units)
    quality = lead_quality(rec)
    return {"file": path, **rec.summary(), "warnings": rec.metadata.get("warnings", []),
            "quality": {name: q.to_dict() for name, q in quality.items()}}


@app.command()
def info(
    files: Annotated[list[str], typer.Argument(help="ECG files (WFDB .hea or base name, .mat, .csv, .json, .edf, .npy, .npz, .zip).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    fmt: FormatOption = None,
    fs: FsOption = None,
    units: UnitsOption = None,
) -> None:
    """Sampling rate, leads, duration, units and per-lead quality of ECG files."""
    results, failures = [], []
    for f in files:
        try:
            results.append(_info(f, fmt, fs, units))
        except ECGScopeError as err:
            if len(files) == 1:
                raise
            failures.append({"file": f, "error": err.to_dict()})
            typer.echo(f"error: {err}", err=True)
    if json_out:
        print_json(results[0] if len(files) == 1 else {"records": results, "errors": failures})
    else:
        rows = []
        for r in results:
            bad = {k: ", ".join(q["issues"]) for k, q in r["quality"].items() if q["issues"]}
            rows.append([Path(r["file"]).name, r["source_format"], f"{r['fs']:g}", r["n_leads"], f"{r['duration_s']:.2f}",
                         " ".join(r["leads"]), r["units"], "; ".join(f"{k}: {v}" for k, v in bad.items()) or "ok"])
        console.print(table("ECG records", ["file", "format", "fs (Hz)", "leads", "duration (s)", "lead names",
                                            "units", "quality"], rows))
        for r in results:
            for w in r["warnings"]:
                typer.echo(f"warning: {r['file']}: {w}", err=True)
    if failures:
        raise typer.Exit(2)


@app.command()
def convert(
    file: Annotated[str, typer.Argument(help="Input ECG file.")],
    to: Annotated[str, typer.Option("--to", help=f"Output format: {', '.join(WRITE_FORMATS)}.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output path (default: input name with the new extension, in the current directory).")] = None,
    fmt: FormatOption = None,
    fs: FsOption = None,
    units: UnitsOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")] = False,
) -> None:
    """Convert an ECG file to WFDB, CSV, JSON, EDF, HL7 aECG or DICOM."""
    from ecgscope.errors import UnsupportedFormatError

    key = to.lower().lstrip(".")
    if key not in WRITE_FORMATS:
        raise UnsupportedFormatError(f"cannot write {to!r}; writable formats: {', '.join(WRITE_FORMATS)}")
    rec = load_record(file, format=fmt, fs=fs, units=units)
    ext = WRITE_FORMATS[key][1]
    out = output or Path(f"{Path(file).with_suffix('').name}{ext}")
    target = out.with_suffix(".hea") if key == "wfdb" and out.suffix == "" else out
    if target.exists() and not force:
        raise ECGScopeError(f"{target} exists; pass --force to overwrite", code="exists")
    written = save_record(rec, out, format=key)
    typer.echo(str(written))
