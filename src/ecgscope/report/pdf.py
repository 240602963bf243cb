"""The PDF report: header, true-scale ECG pages, findings.

Each page is an A4-landscape matplotlib figure with one axes covering it whose data unit is
exactly one millimetre, so every length drawn (grid squares, calibration pulse, traces at
25 mm/s and 10 mm/mV) is its true printed size.  Text and lines are vector graphics.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot's first import in this process

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ecgscope.record import Record  # noqa: E402
from ecgscope.report.layout import PAGE_MM, ReportLayout, Segment, is_standard_12, lead_rows  # noqa: E402

MM_PER_INCH = 25.4
MINOR_COLOR = "#f7c9c9"
MAJOR_COLOR = "#e07b7b"
TRACE_COLOR = "#000000"
CAUTION = ("For research and clinical decision support only; not a diagnosis. Automated findings and "
           "measurements must be confirmed by a qualified clinician reading the full ECG.")


def _page() -> tuple[Figure, Any]:
    fig = plt.figure(figsize=(PAGE_MM[0] / MM_PER_INCH, PAGE_MM[1] / MM_PER_INCH))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, PAGE_MM[0])
    ax.set_ylim(0, PAGE_MM[1])
    ax.set_axis_off()
    return fig, ax


def _grid(ax, layout: ReportLayout) -> None:
    x0, x1 = layout.grid_x0, layout.grid_x0 + layout.grid_width
    y0, y1 = layout.grid_bottom, layout.grid_top
    minor, major = [], []
    for i in range(int(round(layout.grid_width)) + 1):
        (major if i % 5 == 0 else minor).append([(x0 + i, y0), (x0 + i, y1)])
    for j in range(int(round(layout.grid_height)) + 1):
        (major if j % 5 == 0 else minor).append([(x0, y0 + j), (x1, y0 + j)])
    ax.add_collection(LineCollection(minor, colors=MINOR_COLOR, linewidths=0.3, zorder=1))
    ax.add_collection(LineCollection(major, colors=MAJOR_COLOR, linewidths=0.7, zorder=2))


def _pulse(ax, layout: ReportLayout, row: int) -> None:
    """1 mV for 0.2 s: a 10 mm x 5 mm step at the start of the row."""
    x = layout.grid_x0 + 2.0
    y = layout.baseline_y(row)
    h = 1.0 * layout.gain_mm_mv
    w = 0.2 * layout.speed_mm_s
    ax.plot([x, x + 1.5, x + 1.5, x + 1.5 + w, x + 1.5 + w, x + 3 + w], [y, y, y + h, y + h, y, y],
            color=TRACE_COLOR, linewidth=0.8, zorder=4, solid_joinstyle="miter")


def _trace(ax, layout: ReportLayout, record: Record, row: int, seg: Segment) -> None:
    x = record.lead(seg.lead)
    i0 = int(round(seg.t0 * record.fs))
    i1 = min(record.n_samples, int(round((seg.t0 + seg.duration) * record.fs)) + 1)
    t = np.arange(i0, i1) / record.fs
    v = x[i0:i1].astype(np.float64)
    xs = layout.x_of(seg, t)
    ys = layout.baseline_y(row) + v * layout.gain_mm_mv
    # a trace may overlap neighbouring rows as on paper, but never leaves the grid
    ys = np.clip(ys, layout.grid_bottom + 0.5, layout.grid_top - 0.5)
    ax.plot(xs, ys, color=TRACE_COLOR, linewidth=0.6, zorder=5, solid_joinstyle="round")
    label_x = layout.x_of(seg, seg.t0) + 1.0
    ax.text(label_x, layout.grid_top - row * layout.row_height - 3.5, seg.lead, fontsize=8, weight="bold",
            va="top", ha="left", zorder=6)
    if seg.t0 > 0:  # the column boundary, as printed ECGs mark it
        bx = layout.x_of(seg, seg.t0)
        by = layout.baseline_y(row)
        ax.plot([bx, bx], [by - 3, by + 3], color=TRACE_COLOR, linewidth=0.8, zorder=5)


def _fmt(v: Any, unit: str = "", digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    return f"{float(v):.{digits}f}{unit}"


def _measurement_lines(result: dict | None) -> list[str]:
    if not result:
        return ["Not analyzed: no measurements or findings."]
    m = result.get("measurements") or {}
    r = result.get("rhythm") or {}
    hrv = r.get("hrv") or {}
    qtc_formula = m.get("qtc_formula") or ""
    return [
        f"HR {_fmt(r.get('heart_rate_bpm'), ' bpm')}    PR {_fmt(m.get('pr_ms'), ' ms')}    "
        f"QRS {_fmt(m.get('qrs_ms'), ' ms')}    QT/QTc {_fmt(m.get('qt_ms'))}/{_fmt(m.get('qtc_ms'), ' ms')}"
        f"{f' ({qtc_formula})' if qtc_formula else ''}",
        f"Axes P/QRS/T {_fmt(m.get('p_axis_deg'))}/{_fmt(m.get('qrs_axis_deg'))}/{_fmt(m.get('t_axis_deg'))}°    "
        f"HRV RMSSD {_fmt(hrv.get('rmssd_ms'), ' ms')}  SDNN {_fmt(hrv.get('sdnn_ms'), ' ms')}  "
        f"SD1/SD2 {_fmt(hrv.get('sd1_ms'))}/{_fmt(hrv.get('sd2_ms'), ' ms')}",
    ]


def _reliability(result: dict) -> tuple[bool, list[str]]:
    """The result's verdict and its reasons: the classification's ``reliable`` flag (Poor data quality above
    its threshold or the quality gate failed), else the quality gate alone for results that lack it."""
    cls = result.get("classification") or {}
    quality = result.get("quality") or {}
    if "reliable" in cls:
        return bool(cls["reliable"]), list(cls.get("unreliable_reasons") or [])
    usable = bool(quality.get("usable", True))
    return usable, [] if usable else ["signal quality is poor: " + ", ".join(quality.get("issues") or [])]


def _findings(result: dict | None) -> list[tuple[str, float, float]]:
    """Positive labels, most probable first: (name, probability, threshold)."""
    if not result:
        return []
    labels = (result.get("classification") or {}).get("labels") or []
    pos = [(lab["name"], float(lab["probability"]), float(lab["threshold"])) for lab in labels if lab.get("positive")]
    return sorted(pos, key=lambda x: -x[1])


def _clip(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters with an ellipsis (header fields must stay within their column)."""
    return text if len(text) <= n else text[: n - 1] + "…"


def _header(ax, record: Record, result: dict | None, patient: dict, page: int, n_pages: int) -> None:
    top = PAGE_MM[1] - 8
    ax.text(16, top, "ecgscope ECG report", fontsize=13, weight="bold", va="top")
    name = patient.get("name") or patient.get("patient_id") or record.patient_id or "unknown patient"
    pid = patient.get("patient_id") or record.patient_id or "—"
    age = patient.get("age", record.age)
    sex = patient.get("sex", record.sex)
    record_name = patient.get("record_name") or record.record_id or "—"
    # three short lines, each within the left column (x 16-146 mm), so none runs into the measurements at x 150
    lines = [
        f"Patient: {_clip(str(name), 40)}    ID: {_clip(str(pid), 24)}    Age: {_fmt(age)}    Sex: {sex or '—'}",
        f"Record: {_clip(str(record_name), 52)}    Source: {record.source_format}",
        f"{record.n_leads} lead(s), {record.fs:g} Hz, {record.duration_s:.1f} s"
        + (f"    Acquired: {_clip(str(patient['acquired']), 32)}" if patient.get("acquired") else ""),
    ]
    for i, line in enumerate(lines):
        ax.text(16, top - 7 - 4.2 * i, line, fontsize=8, va="top")
    for i, line in enumerate(_measurement_lines(result)):
        ax.text(150, top - 7 - 4.2 * i, line, fontsize=8, va="top")
    printed = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ax.text(PAGE_MM[0] - 16, top, f"Printed {printed}    page {page}/{n_pages}", fontsize=7, va="top", ha="right")


def _footer(ax, layout: ReportLayout, record: Record, result: dict | None, shown_s: float) -> None:
    y = layout.grid_bottom - 4
    scale = (f"{layout.speed_mm_s:g} mm/s    {layout.gain_mm_mv:g} mm/mV    grid 1 mm / 5 mm    "
             f"{record.fs:g} Hz, unfiltered")
    if record.duration_s > shown_s + 1e-6:
        scale += f"    first {shown_s:.1f} s of {record.duration_s:.1f} s shown"
    ax.text(layout.grid_x0, y, scale, fontsize=7, va="top")
    y -= 5
    if result:
        findings = _findings(result)
        text = "; ".join(f"{n} ({p:.0%})" for n, p, _ in findings[:6]) or "no label above its threshold"
        ax.text(layout.grid_x0, y, f"Findings: {text}", fontsize=8.5, weight="bold", va="top")
        y -= 5
        suppressed = (result.get("classification") or {}).get("suppressed") or []
        if suppressed:
            ax.text(layout.grid_x0, y, "Suppressed: " + "; ".join(f"{s['name']} ({s['reason']})" for s in suppressed[:4]),
                    fontsize=7, va="top")
            y -= 4
        reliable, reasons = _reliability(result)
        if not reliable:
            ax.text(layout.grid_x0, y, "UNRELIABLE: " + "; ".join(reasons)[:180], fontsize=8, color="#b00000",
                    weight="bold", va="top")
            y -= 4.5
        model = result.get("model") or {}
        ax.text(layout.grid_x0, y, f"Model: {model.get('name', '—')} {model.get('version', '')}    "
                f"sha256 {model.get('sha256', '—')}    input {model.get('input', '—')}", fontsize=7, va="top")
        y -= 4
    ax.text(layout.grid_x0, 8, CAUTION, fontsize=7, style="italic", va="bottom", color="#333333")


def _cart_lines(metadata: dict, width: int = 95, most: int = 14) -> list[str]:
    """The cart's own measurements and statements that the file carried (MUSE, Philips, SCP-ECG, aECG, DICOM), to
    print beside ecgscope's; wrapped, at most ``most`` lines."""
    import textwrap

    lines: list[str] = []
    measured = metadata.get("cart_measurements") or {}
    if measured:
        lines += textwrap.wrap(", ".join(f"{k} {v}" for k, v in measured.items()), width)
    for statement in metadata.get("cart_statements") or []:
        lines += textwrap.wrap(f"- {statement}", width, subsequent_indent="  ")
    return lines[:most] + (["..."] if len(lines) > most else [])


def _findings_page(pdf: PdfPages, record: Record, result: dict, patient: dict, page: int, n_pages: int) -> None:
    fig, ax = _page()
    _header(ax, record, result, patient, page, n_pages)
    y = PAGE_MM[1] - 30
    ax.text(16, y, "Classification (calibrated probability / threshold)", fontsize=10, weight="bold", va="top")
    y -= 6
    labels = (result.get("classification") or {}).get("labels") or []
    for lab in labels:
        mark = "POSITIVE" if lab.get("positive") else ""
        ax.text(18, y, lab["name"], fontsize=8, va="top", weight="bold" if mark else "normal")
        ax.text(95, y, f"{float(lab['probability']):.3f}", fontsize=8, va="top", ha="right")
        ax.text(115, y, f"{float(lab['threshold']):.3f}", fontsize=8, va="top", ha="right")
        ax.text(120, y, mark, fontsize=8, va="top", weight="bold")
        y -= 4.2
    cart = _cart_lines(record.metadata)
    if cart:  # the cart's reading beside ecgscope's, as the file gave it
        y -= 4
        ax.text(16, y, "The cart's own reading (from the file; not ecgscope's)", fontsize=10, weight="bold", va="top")
        y -= 6
        for line in cart:
            ax.text(18, y, line, fontsize=7.5, va="top")
            y -= 4
    x2, y2 = 155, PAGE_MM[1] - 30
    sections: list[tuple[str, list[str]]] = []
    suppressed = (result.get("classification") or {}).get("suppressed") or []
    reliable, reasons = _reliability(result)
    sections.append(("Reliability", ["reliable" if reliable else "UNRELIABLE: the labels are shown, not hidden",
                                     *reasons, *(result.get("warnings") or [])]))
    adjustments = (result.get("classification") or {}).get("adjustments") or []
    sections.append(("Suppressed by plausibility rules",
                     [f"{s['name']}: {s['reason']}" for s in suppressed]
                     + [f"{a['name']}: {float(a['from']):.3f} -> {float(a['to']):.3f} ({a['reason']})"
                        for a in adjustments] or ["none"]))
    quality = result.get("quality") or {}
    per_lead = quality.get("per_lead") or {}
    sections.append(("Signal quality", [f"usable: {quality.get('usable', '—')}",
                                        *(quality.get("issues") or []),
                                        "per lead: " + ", ".join(f"{k} {float(v):.2f}" for k, v in per_lead.items())]))
    sections.append(("Measurements", _measurement_lines(result)))
    model = result.get("model") or {}
    sections.append(("Model", [f"{model.get('name', '—')} version {model.get('version', '—')} ({model.get('input', '—')})",
                               f"sha256 {model.get('sha256', '—')}"]))
    for title, lines in sections:
        ax.text(x2, y2, title, fontsize=10, weight="bold", va="top")
        y2 -= 6
        for line in lines:
            ax.text(x2 + 2, y2, line, fontsize=7.5, va="top", wrap=True)
            y2 -= 4.2
        y2 -= 3
    ax.text(16, 8, CAUTION, fontsize=7, style="italic", va="bottom", color="#333333")
    pdf.savefig(fig)
    plt.close(fig)


MEDIAN_SPEED_MM_S = 50.0  # median complexes print at twice the rhythm speed, so the intervals can be read
_MEDIAN_MARKS = (("p_on", "P"), ("qrs_on", "Q"), ("qrs_off", "J"), ("t_off", "Tend"))


def _median_beat_page(pdf: PdfPages, record: Record, result: dict, patient: dict, page: int, n_pages: int) -> None:
    """The median beat of every lead at true scale (50 mm/s, 10 mm/mV) on a grid, with the global fiducials
    it was measured at drawn across all leads."""
    mb = result["median_beat"]
    fig, ax = _page()
    _header(ax, record, result, patient, page, n_pages)
    leads, sig = mb["leads"], np.asarray(mb["signal_uv"], dtype=np.float64) / 1000.0  # (L, n) mV
    n_cols = 4 if len(leads) > 3 else len(leads)
    n_rows = int(np.ceil(len(leads) / n_cols))
    x0, top, bottom = 15.0, PAGE_MM[1] - 40.0, 22.0
    width = float(int((PAGE_MM[0] - 2 * x0) / 5) * 5)  # whole 5-mm squares
    height = float(int((top - bottom) / 5) * 5)
    layout = ReportLayout()
    grid = ReportLayout(grid_x0=x0, grid_width=width, grid_top=top, row_height=height / n_rows, rows_per_page=n_rows)
    _grid(ax, grid)
    cell_w, cell_h = width / n_cols, height / n_rows
    t_s = (np.arange(sig.shape[1]) - mb["r_index"]) / mb["fs"]  # seconds from R
    fid = mb.get("fiducials_ms") or {}
    span_s = min(t_s[-1] - t_s[0], (cell_w - 4) / MEDIAN_SPEED_MM_S)
    t_lo = max(t_s[0], -0.4 * span_s)
    for k, lead in enumerate(leads):
        r, c = divmod(k, n_cols)
        cx, base = x0 + c * cell_w + 2.0, top - (r + 0.5) * cell_h
        keep = (t_s >= t_lo) & (t_s <= t_lo + span_s)
        xs = cx + (t_s[keep] - t_lo) * MEDIAN_SPEED_MM_S
        ys = np.clip(base + sig[k, keep] * layout.gain_mm_mv, base - cell_h / 2 + 0.5, base + cell_h / 2 - 0.5)
        ax.plot(xs, ys, color=TRACE_COLOR, linewidth=0.7, zorder=5, solid_joinstyle="round")
        ax.text(cx, base + cell_h / 2 - 2.0, lead, fontsize=8, weight="bold", va="top", zorder=6)
        for name, mark in _MEDIAN_MARKS:
            v = fid.get(name)
            if v is None or not t_lo <= v / 1000.0 <= t_lo + span_s:
                continue
            fx = cx + (v / 1000.0 - t_lo) * MEDIAN_SPEED_MM_S
            ax.plot([fx, fx], [base - cell_h / 2 + 1, base + cell_h / 2 - 4], color="#1f5fbf", linewidth=0.4,
                    linestyle=(0, (2, 1.5)), zorder=4)
            if r == 0:
                ax.text(fx, top + 1.0, mark, fontsize=6.5, color="#1f5fbf", ha="center", va="bottom")
    title = (f"Median beats: {mb['n_beats']} beats of the dominant class ({mb['beat_class']}), one median RR "
             f"({mb['rr_ms']:.0f} ms); the measurements above were made on them")
    ax.text(16, top + 6.5, title, fontsize=9, weight="bold", va="bottom")
    ax.text(16, bottom - 4, f"{MEDIAN_SPEED_MM_S:g} mm/s    {layout.gain_mm_mv:g} mm/mV    grid 1 mm / 5 mm    "
            "dashed: global P onset, QRS onset (Q), QRS end (J), T end, as measured", fontsize=7, va="top")
    ax.text(16, 8, CAUTION, fontsize=7, style="italic", va="bottom", color="#333333")
    pdf.savefig(fig)
    plt.close(fig)


def render_report(record: Record, result: dict | None = None, patient: dict | None = None,
                  layout: ReportLayout | None = None) -> bytes:
    """Render a PDF report of ``record`` at true scale.

    Parameters
    ----------
    record : Record
    result : dict, optional
        The DESIGN §4 analysis JSON; adds measurements, findings with probabilities, suppressed
        labels, quality and the model's identity.  Without it the report is the tracing alone.
    patient : dict, optional
        Header fields overriding the record's: ``name``, ``patient_id``, ``age``, ``sex``,
        ``record_name``, ``acquired``.
    layout : ReportLayout, optional
        Scale and placement (default 25 mm/s, 10 mm/mV, A4 landscape).

    Returns
    -------
    bytes
        The PDF: ECG page(s) (3x4 + rhythm strip for 12 leads, 10-s strips otherwise), then a
        findings page when ``result`` is given, and a page of median beats when the result has one.

    Examples
    --------
    >>> from ecgscope.io import load_record
    >>> pdf = render_report(load_record("../shared/data/ptbxl/records500/00000/00002_hr"))  # doctest: +SKIP
    >>> pdf[:5]  # doctest: +SKIP
    b'%PDF-'
    """
    layout = layout or ReportLayout()
    patient = dict(patient or {})
    rows = lead_rows(record, layout)
    pages = [rows[i : i + layout.rows_per_page] for i in range(0, len(rows), layout.rows_per_page)]
    median = bool(result and result.get("median_beat"))
    n_pages = len(pages) + (1 if result else 0) + (1 if median else 0)
    shown_s = min(layout.seconds_per_row, record.duration_s) if is_standard_12(record) else \
        max(seg.t0 + seg.duration for row in rows for seg in row)
    buf = io.BytesIO()
    meta = {"Title": f"ECG report {record.record_id or ''}".strip(), "Creator": "ecgscope",
            "Subject": "12-lead ECG at 25 mm/s, 10 mm/mV"}
    with PdfPages(buf, metadata=meta) as pdf:
        for p, page_rows in enumerate(pages, start=1):
            fig, ax = _page()
            _header(ax, record, result, patient, p, n_pages)
            _grid(ax, layout)
            for r, row in enumerate(page_rows):
                _pulse(ax, layout, r)
                for seg in row:
                    _trace(ax, layout, record, r, seg)
            _footer(ax, layout, record, result, shown_s)
            pdf.savefig(fig)
            plt.close(fig)
        if result:
            _findings_page(pdf, record, result, patient, len(pages) + 1, n_pages)
        if median:
            _median_beat_page(pdf, record, result, patient, n_pages, n_pages)
    return buf.getvalue()
