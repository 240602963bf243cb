"""``ecgscope holter``: a long recording read beat by beat, in chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgscope.cli import app
from ecgscope.cli._output import console, print_json
from ecgscope.errors import ECGScopeError


@app.command()
def holter(
    file: Annotated[str, typer.Argument(help="A long WFDB record (.hea or base name), any length.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the versioned JSON report.")] = False,
    chunk_s: Annotated[float, typer.Option("--chunk-s", help="Seconds read at a time (memory ~ one chunk).")] = 300.0,
    pause_s: Annotated[float, typer.Option("--pause-s", help="An RR interval longer than this is a pause.")] = 2.0,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Also write the Holter report as PDF (summary page "
                                             "and event strips).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing PDF.")] = False,
) -> None:
    """Analyse a Holter or patch recording: beats, hourly heart rate, pauses, brady/tachycardia episodes,
    long-term HRV (SDNN, SDANN, RMSSD), and the spans that could not be analysed."""
    from ecgscope.holter import HolterOptions, holter_analyze

    if pdf is not None and pdf.exists() and not force:
        raise ECGScopeError(f"{pdf} exists; pass --force to overwrite", code="exists")
    res = holter_analyze(file, HolterOptions(chunk_s=chunk_s, pause_s=pause_s))
    d = res.to_dict()
    if pdf is not None:
        from ecgscope.report.holter_pdf import render_holter_report

        pdf.parent.mkdir(parents=True, exist_ok=True)
        tmp = pdf.with_name(pdf.name + ".part")
        tmp.write_bytes(render_holter_report(file, res))
        tmp.replace(pdf)
    if json_out:
        print_json(d)
        return
    hr, hrv, inp = d["heart_rate"], d["hrv"], d["input"]
    console.print(f"[bold]{file}[/bold]  {inp['duration_s'] / 3600:.2f} h, {len(inp['leads'])} lead(s) at "
                  f"{inp['fs']:g} Hz; analysed {inp['analysed_s'] / 3600:.2f} h")
    console.print(f"beats {d['beats']['total']}   HR min/mean/max {hr['min_bpm']}/{hr['mean_bpm']}/{hr['max_bpm']} "
                  "bpm (minute means)")
    cls = d["beats"]["classes"]
    counts = cls["counts"]
    console.print(f"beat classes (AAMI): N {counts['N']}  S {counts['S']}  V {counts['V']}")
    for h, c in zip(hr["per_hour"], cls["per_hour"], strict=True):
        console.print(f"  {h['start']}  beats {h['beats']:6d}  HR {h['min_bpm']}/{h['mean_bpm']}/{h['max_bpm']}"
                      f"  V {c['V']}  S {c['S']}")
    for name, key in (("ventricular", "ventricular"), ("supraventricular", "supraventricular")):
        e = cls[key]
        fastest = e["fastest_run"]
        console.print(f"{name}: {e['couplets']} couplet(s), {e['runs']} run(s) of >= 3 beats"
                      + (f" (fastest {fastest['rate_bpm']} bpm, {fastest['beats']} beats at {fastest['onset_s']} s)"
                         if fastest else ""))
    longest = d["pauses"]["longest"]
    console.print(f"pauses > {d['pauses']['threshold_s']:g} s: {d['pauses']['count']}"
                  + (f" (longest {longest['duration_s']} s at {longest['onset_s']} s)" if longest else ""))
    for kind in ("bradycardia", "tachycardia"):
        e = d[kind]
        console.print(f"{kind}: {e['count']} episode(s), {e['total_s']} s in all")
    console.print(f"HRV: SDNN {hrv['sdnn_ms']} ms, SDANN {hrv['sdann_ms']} ms, SDNN index {hrv['sdnn_index_ms']} ms, "
                  f"RMSSD {hrv['rmssd_ms']} ms")
    for span in d["unanalysable"][:20]:
        console.print(f"[yellow]unanalysable[/yellow] {span['start_s']}-{span['end_s']} s ({span['reason']})")
    for w in d["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")
    af = d["atrial_fibrillation"]
    console.print(f"AF: {af['episodes']} episode(s), burden {af['burden_percent']} %")
    console.print(f"time: {d['timing_ms']['total'] / 1000:.1f} s")
    if pdf is not None:
        console.print(f"wrote {pdf}")
