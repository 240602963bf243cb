"""The PDF report at true scale: rasterised with pdftoppm at 300 dpi and measured in pixels."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from ecgscope.io import load_record
from ecgscope.labels import LABELS
from ecgscope.report import ReportLayout, lead_rows, render_report

DPI = 300
PX_PER_MM = DPI / 25.4  # 11.811; 5 mm = 59.06 px


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed: run `apt-get install -y poppler-utils` (make test does it as root)")
    return exe


def _raster(pdf: bytes, tmp_path, page: int = 1) -> np.ndarray:
    src = tmp_path / "report.pdf"
    src.write_bytes(pdf)
    subprocess.run([_tool("pdftoppm"), "-r", str(DPI), "-f", str(page), "-l", str(page), "-png", str(src),
                    str(tmp_path / "page")], check=True)
    png = next(tmp_path.glob("page*.png"))
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def _text(pdf: bytes, tmp_path) -> str:
    src = tmp_path / "text.pdf"
    src.write_bytes(pdf)
    return subprocess.run([_tool("pdftotext"), "-layout", str(src), "-"], check=True, capture_output=True,
                          text=True).stdout


def _line_centres(mask_1d: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(mask_1d)
    if idx.size == 0:
        return idx.astype(float)
    groups = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    return np.array([g.mean() for g in groups])


def _design_result() -> dict:
    """A DESIGN §4 result, written here as input for the renderer (not product data)."""
    probs = np.linspace(0.02, 0.9, len(LABELS))
    labels = [{"name": n, "probability": float(p), "threshold": 0.5, "positive": bool(p >= 0.5)}
              for n, p in zip(LABELS, probs, strict=True)]
    return {
        "schema_version": "1.0",
        "model": {"name": "ecgscope-17-12lead", "version": "1.2.0", "sha256": "ab" * 32, "input": "12-lead",
                  "labels": list(LABELS)},
        "input": {"source": "wfdb", "fs": 500.0, "leads": [], "duration_s": 10.0, "single_lead": False},
        "quality": {"usable": False, "per_lead": {"I": 0.91, "II": 0.42}, "issues": ["II: baseline wander"]},
        "classification": {"labels": labels, "suppressed": [{"name": "Tachycardia", "reason": "exclusive with "
                                                                                              "Bradycardia"}],
                           "windows": []},
        "rhythm": {"heart_rate_bpm": 46.1, "rr_ms": [1302.0], "hrv": {"rmssd_ms": 21.5, "sdnn_ms": 30.2,
                                                                     "sd1_ms": 15.2, "sd2_ms": 38.9}},
        "delineation": {"lead": "II", "beats": []},
        "measurements": {"pr_ms": 168.0, "qrs_ms": 92.0, "qt_ms": 440.0, "qtc_ms": 386.0, "qtc_formula": "Bazett",
                         "p_axis_deg": 55.0, "qrs_axis_deg": 30.0, "t_axis_deg": 40.0},
        "timing_ms": {"preprocess": 3.0, "classify": 20.0, "delineate": 10.0, "total": 33.0},
    }


def test_grid_and_calibration_pulse_at_true_scale(ptbxl_record, tmp_path):
    layout = ReportLayout()
    img = _raster(render_report(ptbxl_record), tmp_path)
    assert img.shape[1] == pytest.approx(297 * PX_PER_MM, abs=2)  # A4 landscape at 300 dpi
    # major (5-mm) lines: saturated red pixels; scanned along a row 2.5 mm below the grid's top edge
    major = (img[..., 0] > 190) & (img[..., 1] < 170) & (img[..., 2] < 170)
    y_scan = int(round((210 - layout.grid_top + 2.5) * PX_PER_MM))
    vertical = _line_centres(major[y_scan])
    spacing = np.diff(vertical)
    assert len(spacing) >= 50
    assert np.median(spacing) == pytest.approx(5 * PX_PER_MM, abs=0.5)  # 59.06 px
    assert (vertical[-1] - vertical[0]) == pytest.approx(layout.grid_width * PX_PER_MM, abs=3)
    x_scan = int(round((layout.grid_x0 + layout.grid_width - 2.5) * PX_PER_MM))
    horizontal = np.diff(_line_centres(major[:, x_scan]))
    assert np.median(horizontal) == pytest.approx(5 * PX_PER_MM, abs=0.5)
    # minor (1-mm) lines: light pink, between the major ones
    minor = (img[..., 0] > 235) & (img[..., 1] > 180) & (img[..., 1] < 225) & (img[..., 2] > 180) & ~major
    minor_spacing = np.diff(_line_centres(minor[y_scan]))
    assert np.median(minor_spacing) == pytest.approx(PX_PER_MM, abs=0.4)
    # the calibration pulse of the first row: 1 mV = 10 mm tall
    x_pulse = int(round((layout.grid_x0 + 2.0 + 1.5 + 2.5) * PX_PER_MM))  # the middle of its flat top
    grid_top_px = int(round((210 - layout.grid_top) * PX_PER_MM))
    base_y = int(round((210 - layout.baseline_y(0)) * PX_PER_MM))
    top_y = grid_top_px + np.flatnonzero(img[grid_top_px:base_y + 10, x_pulse].sum(axis=1) < 200).min()
    assert (base_y - top_y) == pytest.approx(10 * PX_PER_MM, abs=3)


def test_traces_follow_25_mm_per_s_and_10_mm_per_mv(ptbxl_record, tmp_path):
    """The rhythm strip's tallest R peak is printed where 25 mm/s and 10 mm/mV put it."""
    layout = ReportLayout()
    img = _raster(render_report(ptbxl_record), tmp_path)
    row = 3
    seg = lead_rows(ptbxl_record, layout)[row][0]
    lead2 = ptbxl_record.lead("II")[: int(10 * ptbxl_record.fs)]
    i_peak = int(np.argmax(lead2))
    x_mm = layout.x_of(seg, i_peak / ptbxl_record.fs)
    y_mm = layout.baseline_y(row) + float(lead2[i_peak]) * layout.gain_mm_mv
    x_px, y_px = x_mm * PX_PER_MM, (210 - y_mm) * PX_PER_MM
    # the topmost dark pixel near the expected apex (±2 mm around it, nothing of other rows there)
    x0, x1 = int(x_px - 2 * PX_PER_MM), int(x_px + 2 * PX_PER_MM)
    y0, y1 = int(y_px - 2 * PX_PER_MM), int(y_px + 2 * PX_PER_MM)
    dark = img[y0:y1, x0:x1].sum(axis=2) < 150
    ys, xs = np.nonzero(dark)
    apex = np.argmin(ys)
    assert x0 + xs[apex] == pytest.approx(x_px, abs=0.4 * PX_PER_MM)
    assert y0 + ys[apex] == pytest.approx(y_px, abs=0.4 * PX_PER_MM)


def test_findings_page_measurements_identity_and_caution(ptbxl_record, tmp_path):
    result = _design_result()
    pdf = render_report(ptbxl_record, result, patient={"name": "Test Patient", "patient_id": "13243", "age": 56,
                                                       "sex": "F"})
    text = _text(pdf, tmp_path)
    assert "page 1/2" in text and "page 2/2" in text
    for label in LABELS:
        assert label in text
    assert "0.900" in text and "POSITIVE" in text
    assert "ecgscope-17-12lead" in text and "ab" * 32 in text
    assert "HR 46 bpm" in text and "QRS 92 ms" in text and "Bazett" in text
    assert "Tachycardia: exclusive with Bradycardia" in text
    assert "UNRELIABLE" in text
    assert "Test Patient" in text and "13243" in text
    assert "not a diagnosis" in text


def test_without_result_the_tracing_alone(ptbxl_record, tmp_path):
    text = _text(render_report(ptbxl_record), tmp_path)
    assert "page 1/1" in text and "Not analyzed" in text and "not a diagnosis" in text
    assert "25 mm/s" in text and "10 mm/mV" in text


def test_single_lead_and_two_lead_records_print_as_strips(data_dir, tmp_path):
    cinc = load_record(data_dir / "cinc2017" / "A00006")  # 30 s, one lead
    rows = lead_rows(cinc)
    assert [(r[0].lead, r[0].t0) for r in rows] == [("I", 0.0), ("I", 10.0), ("I", 20.0)]
    assert b"%PDF-" == render_report(cinc)[:5]
    mitdb = load_record(data_dir / "mitdb" / "100")  # 30 min, two leads: capped, never the whole Holter
    rows = lead_rows(mitdb)
    assert len(rows) == 12 and {r[0].lead for r in rows} == {"II"}
    text = _text(render_report(mitdb), tmp_path)
    assert "page 3/3" in text and "of 1805.6 s shown" in text


@pytest.mark.skipif(importlib.util.find_spec("ecgscope.inference") is None,
                    reason="ecgscope.inference (the analysis engine) is not installed")
def test_report_of_a_real_analysis(ptbxl_record, tmp_path):
    """The engine's own result for a real PTB-XL record: every label with its probability and threshold,
    the positive findings on the tracing page, measurements, reliability, model identity, caution."""
    import torch

    from ecgscope.inference import Analyzer

    torch.set_num_threads(1)
    result = Analyzer.from_pretrained("ecgscope-17-12lead").analyze(ptbxl_record).to_dict()
    text = _text(render_report(ptbxl_record, result, patient={"patient_id": "13243"}), tmp_path)
    # tracing, findings, and the median beats the measurements were made on
    assert "page 1/3" in text and "page 2/3" in text and "page 3/3" in text
    lines = text.splitlines()
    for lab in result["classification"]["labels"]:
        row = next(line for line in lines if line.strip().startswith(lab["name"] + " ")
                   and f"{lab['threshold']:.3f}" in line)
        assert f"{lab['probability']:.3f}" in row and ("POSITIVE" in row) == lab["positive"], row
    positives = [lab for lab in result["classification"]["labels"] if lab["positive"]]
    assert positives
    findings = next(line for line in lines if "Findings:" in line)
    for lab in positives:
        assert f"{lab['name']} ({lab['probability']:.0%})" in findings, findings
    m = result["measurements"]
    assert f"QRS {m['qrs_ms']:.0f} ms" in text and f"({m['qtc_formula']})" in text
    assert f"/{m['qtc_ms']:.0f} ms" in text
    assert ("reliable" in text) and (("UNRELIABLE" in text) != result["classification"]["reliable"])
    assert result["model"]["sha256"] in text and f"{result['model']['name']} version {result['model']['version']}" in text
    assert "not a diagnosis" in text
    mb = result["median_beat"]
    assert f"Median beats: {mb['n_beats']} beats of the dominant class ({mb['beat_class']})" in text
    assert "50 mm/s" in text and all(lead in text.split("Median beats:")[1] for lead in mb["leads"])


def test_header_fields_never_print_over_each_other(ptbxl_record, tmp_path):
    """Long names and the acquisition time stay in the left column: no two words of one header line overlap
    (the acquisition time once printed over the measurements)."""
    import re

    pdf = render_report(ptbxl_record, _design_result(),
                        patient={"patient_id": "13243", "name": "Jane Q. Longname-Example-With-A-Very-Long-Surname",
                                 "record_name": "00002_hr_with_a_long_upload_name_from_the_ward.hea",
                                 "acquired": "2026-12-07 09:31:12 UTC"})
    src = tmp_path / "r.pdf"
    src.write_bytes(pdf)
    out = subprocess.run([_tool("pdftotext"), "-bbox", str(src), "-"], check=True, capture_output=True,
                         text=True).stdout
    pages = out.split("<page ")[1:]
    assert len(pages) >= 2
    for page in pages:
        words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page)]
        header = [w for w in words if w[1] < 120]  # the top ~42 mm of the page
        assert any("Acquired:" in w[4] for w in header)
        centre = [(w[1] + w[3]) / 2 for w in header]
        clashes = [(a[4], b[4]) for i, a in enumerate(header) for j, b in enumerate(header[i + 1:], i + 1)
                   if abs(centre[i] - centre[j]) < 4 and a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5]
        assert not clashes, clashes
