"""``ecgscope delineate``: beats table, measurements, HRV and quality of one ECG file."""

from __future__ import annotations

from typing import Annotated

import typer

from ecgscope.cli import app
from ecgscope.cli._output import console, print_json, table
from ecgscope.errors import ECGScopeError
from ecgscope.io import load_record


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.0f}"


@app.command()
def delineate(
    file: Annotated[str, typer.Argument(help="ECG file (WFDB .hea or base name, .mat, .csv, .json, .edf, .npy, ...).")],
    method: Annotated[str, typer.Option("--method", "-m", help="Delineator: learned or neurokit.")] = "learned",
    lead: Annotated[str, typer.Option("--lead", help="Beats of this lead instead of the global delineation.")] = "global",
    qtc_formula: Annotated[str, typer.Option("--qtc", help="QTc formula: bazett, fridericia, framingham, hodges.")] = "bazett",
    measure: Annotated[str, typer.Option("--measure", help="Intervals and axes on the median beat (median_beat) or "
                                         "as the median of per-beat intervals (beats).")] = "median_beat",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Force the input format.")] = None,
    fs: Annotated[float | None, typer.Option("--fs", help="Sampling rate in Hz, for files that do not state it.")] = None,
    units: Annotated[str | None, typer.Option("--units", help="Units of the file's samples (mV, uV, V).")] = None,
) -> None:
    """P/QRS/T delineation of every beat (ms from record start), intervals, axes, HRV and quality."""
    from ecgscope.signal import (
        DELINEATION_METHODS,
        MEASUREMENT_METHODS,
        QTC_FORMULAS,
        ecg_delineate,
        ecg_hrv,
        ecg_measurements,
        ecg_quality,
    )

    if method not in DELINEATION_METHODS:
        raise ECGScopeError(f"unknown method {method!r}; valid methods: {', '.join(DELINEATION_METHODS)}",
                            code="bad_option")
    if qtc_formula not in QTC_FORMULAS:
        raise ECGScopeError(f"unknown QTc formula {qtc_formula!r}; valid: {', '.join(QTC_FORMULAS)}", code="bad_option")
    if measure not in MEASUREMENT_METHODS:
        raise ECGScopeError(f"unknown measurement method {measure!r}; valid: {', '.join(MEASUREMENT_METHODS)}",
                            code="bad_option")
    rec = load_record(file, format=fmt, fs=fs, units=units)
    if lead != "global" and lead not in rec.leads:
        from ecgscope.leads import normalize_lead_name

        lead = normalize_lead_name(lead)[0]
        if lead not in rec.leads:
            raise ECGScopeError(f"no lead {lead!r}; the record has {', '.join(rec.leads)}", source=file,
                                code="bad_option")
    d = ecg_delineate(rec, method=method, quality=ecg_quality(rec))  # full report: per-window flags too
    meas = ecg_measurements(rec, d, qtc_formula=qtc_formula, method=measure)
    median_beat = meas.pop("median_beat", None)
    r_ms = d.table()[:, 4]
    r_ms = r_ms[r_ms == r_ms]
    hrv = ecg_hrv((r_ms * rec.fs / 1000.0).round().astype(int), rec.fs)
    result = {
        "input": {"source": file, "fs": rec.fs, "leads": list(rec.leads), "duration_s": round(rec.duration_s, 3)},
        "quality": d.quality.to_dict() if d.quality else None,
        "delineation": d.to_dict(lead),
        "method": method,
        "measurements": meas,
        "rhythm": {"heart_rate_bpm": meas["heart_rate_bpm"], "rr_ms": [round(float(v), 1) for v in
                                                                     (r_ms[1:] - r_ms[:-1])], "hrv": hrv},
        "issues": d.issues,
    }
    if median_beat is not None:
        result["median_beat"] = median_beat.to_dict()
    if json_out:
        print_json(result)
        return
    cols = ["#", "P on", "P peak", "P off", "QRS on", "R", "QRS off", "T peak", "T off"]
    rows = [[k + 1, *(_ms(b[c]) for c in ("p_on", "p_peak", "p_off", "qrs_on", "r_peak", "qrs_off", "t_peak",
                                           "t_off"))] for k, b in enumerate(result["delineation"]["beats"])]
    console.print(table(f"{file}: beats, {result['delineation']['lead']} ({method}), ms from record start", cols, rows))
    m = meas
    mrows = [["heart rate (bpm)", m["heart_rate_bpm"]], ["PR (ms)", m["pr_ms"]], ["QRS (ms)", m["qrs_ms"]],
             ["QT (ms)", m["qt_ms"]], [f"QTc {m['qtc_formula']} (ms)", m["qtc_ms"]],
             ["P axis (°)", m["p_axis_deg"]], ["QRS axis (°)", m["qrs_axis_deg"]], ["T axis (°)", m["t_axis_deg"]],
             ["SDNN (ms)", hrv["sdnn_ms"]], ["RMSSD (ms)", hrv["rmssd_ms"]],
             ["RR excluded as ectopic", f"{hrv['n_excluded']} of {hrv['n_intervals']}"]]
    how = (f"on the median beat of {median_beat.n_beats} {median_beat.beat_class} beats" if median_beat is not None
           else "median over beats")
    console.print(table(f"measurements ({how})", ["measure", "value"],
                        [[k, "—" if v is None else v] for k, v in mrows]))
    usable = result["quality"]["usable"] if result["quality"] else True
    console.print(f"quality: {'usable' if usable else 'UNUSABLE'}"
                  + ("" if not d.issues else "; " + "; ".join(d.issues)))
