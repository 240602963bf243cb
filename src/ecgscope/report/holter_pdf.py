"""The Holter report as PDF: a summary page (hourly heart-rate trend with min/mean/max and AF episodes marked,
ectopic beats per hour, the counts) and a page of true-scale 10-s strips of the events a reader checks first:
the longest pause, the fastest ventricular run, the onset of the longest AF episode, the fastest
supraventricular run.  Each strip is read from the recording itself and its beats are labelled with their
AAMI class.

>>> from ecgscope.holter import holter_analyze                                            # doctest: +SKIP
>>> pdf = render_holter_report("../shared/data/mitdb/106", holter_analyze("../shared/data/mitdb/106"))  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import numpy as np
from matplotlib.backends.backend_pdf import PdfPages

from ecgscope.holter.analysis import HolterResult, hms
from ecgscope.holter.source import open_long_record
from ecgscope.record import Record
from ecgscope.report.layout import PAGE_MM, ReportLayout, Segment
from ecgscope.report.pdf import CAUTION, TRACE_COLOR, _fmt, _grid, _page, _pulse, plt

STRIP_S = 10.0
_CLASS_COLOR = {"N": "#333333", "S": "#1f5fbf", "V": "#c0392b"}


def _summary_lines(d: dict) -> list[str]:
    hr, cls, af, hrv, p = d["heart_rate"], d["beats"]["classes"], d["atrial_fibrillation"], d["hrv"], d["pauses"]
    v, s = cls["ventricular"], cls["supraventricular"]
    longest = p["longest"]
    fastest = v["fastest_run"]
    lines = [
        f"Recorded {d['input']['duration_s'] / 3600:.2f} h, analysed {d['input']['analysed_s'] / 3600:.2f} h; "
        f"{len(d['input']['leads'])} lead(s) at {d['input']['fs']:g} Hz",
        f"Beats {d['beats']['total']}:  N {cls['counts']['N']}   S {cls['counts']['S']}   V {cls['counts']['V']}",
        f"Heart rate min / mean / max  {_fmt(hr['min_bpm'])} / {_fmt(hr['mean_bpm'])} / {_fmt(hr['max_bpm'])} bpm",
        f"Ventricular: {v['couplets']} couplets, {v['runs']} runs"
        + (f" (fastest {fastest['rate_bpm']:.0f} bpm, {fastest['beats']} beats at {hms(fastest['onset_s'])})"
           if fastest else ""),
        f"Supraventricular: {s['couplets']} couplets, {s['runs']} runs",
        f"Pauses > {p['threshold_s']:g} s: {p['count']}"
        + (f" (longest {longest['duration_s']:.2f} s at {hms(longest['onset_s'])})" if longest else ""),
        f"AF: {af['episodes']} episode(s), burden {_fmt(af['burden_percent'], ' %', 1)}"
        + (f" (longest {af['longest']['duration_s'] / 60:.1f} min from {af['longest']['onset']})"
           if af["longest"] else ""),
        f"Bradycardia < {d['bradycardia']['below_bpm']:g} bpm: {d['bradycardia']['count']} episode(s); "
        f"tachycardia > {d['tachycardia']['above_bpm']:g} bpm: {d['tachycardia']['count']}",
        f"HRV: SDNN {_fmt(hrv['sdnn_ms'], ' ms')}, SDANN {_fmt(hrv['sdann_ms'], ' ms')}, "
        f"RMSSD {_fmt(hrv['rmssd_ms'], ' ms')}",
    ]
    if d["unanalysable"]:
        lost = sum(u["end_s"] - u["start_s"] for u in d["unanalysable"])
        lines.append(f"Unanalysable: {len(d['unanalysable'])} span(s), {lost / 60:.1f} min (flat or gap)")
    return lines + [f"Warning: {w}" for w in d["warnings"]]


def _header(ax, d: dict, page: int, n_pages: int) -> None:
    top = PAGE_MM[1] - 8
    ax.text(16, top, "ecgscope Holter report", fontsize=13, weight="bold", va="top")
    ax.text(16, top - 7, f"Record: {d['input'].get('source') or d['input']['record_id']}    "
            f"schema {d['holter_schema_version']}", fontsize=8, va="top")
    printed = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ax.text(PAGE_MM[0] - 16, top, f"Printed {printed}    page {page}/{n_pages}", fontsize=7, va="top", ha="right")
    ax.text(16, 6, CAUTION, fontsize=6.5, va="bottom", color="#555555")


def _summary_page(pdf: PdfPages, d: dict, n_pages: int) -> None:
    fig, ax = _page()
    _header(ax, d, 1, n_pages)
    for i, line in enumerate(_summary_lines(d)):
        ax.text(16, PAGE_MM[1] - 24 - 4.6 * i, line, fontsize=8.5, va="top")
    hours = [h["hour"] for h in d["heart_rate"]["per_hour"]]
    w, h = PAGE_MM
    trend = fig.add_axes((16 / w, 62 / h, 265 / w, 55 / h))
    per_min = np.array([np.nan if v is None else v for v in d["heart_rate"]["per_minute_bpm"]], dtype=float)
    trend.plot(np.arange(per_min.size) / 60.0, per_min, color="#bbbbbb", linewidth=0.6, label="minute mean")
    for key, style in (("min_bpm", "--"), ("mean_bpm", "-"), ("max_bpm", "--")):
        vals = [np.nan if r[key] is None else r[key] for r in d["heart_rate"]["per_hour"]]
        trend.plot(np.array(hours) + 0.5, vals, style, color="#1f3f7f", marker="o", markersize=2.5,
                   linewidth=0.9, label=f"hourly {key.split('_')[0]}")
    for e in d["atrial_fibrillation"]["episode_list"]:
        trend.axvspan(e["onset_s"] / 3600, e["end_s"] / 3600, color="#f5b041", alpha=0.35, linewidth=0)
    trend.set_ylabel("bpm", fontsize=7)
    trend.set_title("Heart rate (AF episodes shaded)", fontsize=8, loc="left")
    trend.legend(fontsize=6, loc="upper right", ncol=4)
    bars = fig.add_axes((16 / w, 16 / h, 265 / w, 34 / h), sharex=trend)
    per = d["beats"]["classes"]["per_hour"]
    x = np.array([r["hour"] for r in per]) + 0.5
    bars.bar(x - 0.18, [r["V"] for r in per], width=0.36, color=_CLASS_COLOR["V"], label="V per hour")
    bars.bar(x + 0.18, [r["S"] for r in per], width=0.36, color=_CLASS_COLOR["S"], label="S per hour")
    bars.set_xlabel("hour of recording", fontsize=7)
    bars.legend(fontsize=6, loc="upper right")
    for a in (trend, bars):
        a.tick_params(labelsize=6)
        a.set_xlim(0, max(1.0, d["input"]["duration_s"] / 3600))
    pdf.savefig(fig)
    plt.close(fig)


def _events(d: dict) -> list[tuple[str, float]]:
    """(title, centre time s) of each event with a strip."""
    out = []
    p = d["pauses"]["longest"]
    if p:
        out.append((f"Longest pause: {p['duration_s']:.2f} s at {hms(p['onset_s'])}", p["onset_s"] + p["duration_s"] / 2))
    v = d["beats"]["classes"]["ventricular"]["fastest_run"]
    if v:
        out.append((f"Fastest ventricular run: {v['beats']} beats, {v['rate_bpm']:.0f} bpm at {hms(v['onset_s'])}",
                    v["onset_s"] + 1.0))
    a = d["atrial_fibrillation"]["longest"]
    if a:
        out.append((f"Onset of the longest AF episode ({a['duration_s'] / 60:.1f} min) at {a['onset']}",
                    a["onset_s"] + 2.0))
    s = d["beats"]["classes"]["supraventricular"]["fastest_run"]
    if s:
        out.append((f"Fastest supraventricular run: {s['beats']} beats, {s['rate_bpm']:.0f} bpm at "
                    f"{hms(s['onset_s'])}", s["onset_s"] + 1.0))
    return out


def _strip_page(pdf: PdfPages, path, res: HolterResult, n_pages: int) -> None:
    d = res.to_dict()
    read = open_long_record(path).read
    layout = ReportLayout(rows_per_page=4, grid_top=170.0, row_height=36.0)
    fig, ax = _page()
    _header(ax, d, 2, n_pages)
    events = _events(d)
    fs = float(d["input"]["fs"])
    total = int(round(d["input"]["duration_s"] * fs))
    n = int(round(STRIP_S * fs))
    _grid(ax, layout)
    seg = Segment(lead=str(d["input"]["leads"][0]), t0=0.0, duration=STRIP_S, x_mm=0.0)
    for row, (title, centre) in enumerate(events[: layout.rows_per_page]):
        a = int(np.clip(round(centre * fs) - n // 2, 0, max(0, total - n)))
        x = read(a, min(total, a + n))[0].astype(np.float64)
        x = x - np.nanmedian(x)
        t = np.arange(x.size) / fs
        xs = layout.x_of(seg, t)
        ys = np.clip(layout.baseline_y(row) + x * layout.gain_mm_mv, layout.grid_bottom + 0.5, layout.grid_top - 0.5)
        _pulse(ax, layout, row)
        ax.plot(xs, ys, color=TRACE_COLOR, linewidth=0.6, zorder=5)
        top = layout.grid_top - row * layout.row_height
        ax.text(layout.grid_x0 + 1, top - 2.5, f"{title}    ({seg.lead}, from {hms(a / fs)})", fontsize=7,
                weight="bold", va="top", zorder=6)
        inside = (res.peaks >= a) & (res.peaks < a + n)
        for pk, c in zip(res.peaks[inside], res.classes[inside], strict=True):
            ax.text(layout.x_of(seg, (pk - a) / fs), top - 7.5, c, fontsize=6.5, ha="center", va="top",
                    color=_CLASS_COLOR.get(str(c), "#333333"), zorder=6)
    if not events:
        ax.text(layout.grid_x0 + 5, layout.grid_top - 10, "No pause, ectopic run or AF episode to show.",
                fontsize=9, va="top")
    ax.text(layout.grid_x0, layout.grid_bottom - 4, f"{layout.speed_mm_s:g} mm/s    {layout.gain_mm_mv:g} mm/mV    "
            f"{fs:g} Hz; beat labels: AAMI class (N, S, V)", fontsize=7, va="top")
    pdf.savefig(fig)
    plt.close(fig)


def render_holter_report(path: str | os.PathLike | Record, result: HolterResult) -> bytes:
    """The PDF (2 pages, A4 landscape) of ``result``, the :func:`~ecgscope.holter.holter_analyze` of the
    recording at ``path`` (WFDB, EDF/BDF or a Record; read again for the strips)."""
    buf = io.BytesIO()
    d = result.to_dict()
    meta = {"Title": f"Holter report {d['input']['record_id']}", "Creator": "ecgscope"}
    with PdfPages(buf, metadata=meta) as pdf:
        _summary_page(pdf, d, 2)
        _strip_page(pdf, path, result, 2)
    return buf.getvalue()
