"""``ecgscope batch``: analyse an archive into a Parquet dataset, on this machine or a Ray cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgscope.cli import app
from ecgscope.cli._output import check_name, print_json


@app.command()
def batch(
    inputs: Annotated[list[str], typer.Argument(help="Directories (walked), globs, record files, or manifests "
                                                "(CSV/Parquet with a 'path' and optional 'patient_id' column).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet dataset (a directory); a re-run into "
                                      "it skips the records it already holds.")],
    engine: Annotated[str, typer.Option("--engine", help="local (worker processes here) or ray.")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster to join ('auto', 'head:6379'); "
                                                "default: a Ray instance started for the job.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-j", help="Worker processes / Ray actors "
                                                "(default: one per core).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="'auto' as in analyze, a shipped model name or a "
                                       "package directory.")] = "auto",
    backend: Annotated[str, typer.Option("--backend", help="torch or onnx.")] = "torch",
    fast: Annotated[bool, typer.Option("--fast", help="The network alone, without the evidence combination "
                                       "(as analyze --fast).")] = False,
    allow_single_lead: Annotated[bool, typer.Option("--allow-single-lead")] = False,
    fs: Annotated[float | None, typer.Option("--fs", help="Sampling rate for files that do not state it.")] = None,
    full_json: Annotated[Path | None, typer.Option("--full-json", help="Also write each record's full result "
                                                   "JSON under this directory.")] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Records per task sent to a worker.")] = 8,
    shard_rows: Annotated[int, typer.Option("--shard-rows", help="Rows per committed Parquet shard.")] = 256,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Analyse every record of an archive into Parquet: one row per record, resumable, exactly once."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ecgscope.batch import ENGINES, BatchOptions, run_batch, summary_text
    from ecgscope.inference import BACKENDS

    check_name(engine, ENGINES, "engine")
    check_name(backend, BACKENDS, "backend")
    options = BatchOptions(model=model, backend=backend, fast=fast, allow_single_lead=allow_single_lead, fs=fs)
    with Progress(TextColumn("[bold]batch[/bold]"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]:.1f} records/s"), TextColumn("failed {task.fields[failed]}"),
                  TimeRemainingColumn(), transient=json_out, disable=json_out) as bar:
        task = bar.add_task("batch", total=None, rate=0.0, failed=0)

        def progress(s) -> None:
            bar.update(task, total=s.total, completed=s.analysed + s.skipped, rate=s.records_per_s,
                       failed=sum(s.failed.values()))

        summary = run_batch(inputs, out, engine=engine, workers=workers, address=address, options=options,
                            full_json=full_json, chunk_size=chunk_size, shard_rows=shard_rows, progress=progress)
    if json_out:
        print_json({**summary.to_dict(), "out": str(out)})
    else:
        typer.echo(summary_text(summary))
        typer.echo(f"rows: {out}")
