"""End to end in headless Chromium: upload a real record, read it on the true-scale grid, measure
an RR interval with the calipers, download the PDF report.  Screenshots go to test-artifacts/."""

from __future__ import annotations

import base64
import importlib.util

import numpy as np
import pytest
from scipy.signal import find_peaks

from ecgscope.io import load_record

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
ENGINE = importlib.util.find_spec("ecgscope.inference") is not None
CSS_PX_PER_MM = 96 / 25.4

_DROP_JS = """([files]) => {
  const dt = new DataTransfer();
  for (const [name, b64] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], name));
  }
  const zone = document.querySelector('[data-testid="upload-zone"]');
  zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
  zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
}"""

# Pixels of the canvas: how many are grid-red and trace-black, and the centres of the 5-mm lines
# crossed by a horizontal scan line half-way between two 1-mm lines near the top.
_CANVAS_JS = """() => {
  const c = document.querySelector('[data-testid="ecg-canvas"]');
  const ctx = c.getContext("2d");
  const img = ctx.getImageData(0, 0, c.width, c.height).data;
  let red = 0, dark = 0;
  for (let i = 0; i < img.length; i += 4) {
    const [r, g, b] = [img[i], img[i + 1], img[i + 2]];
    if (r > 200 && g < 175 && b < 175) red++;
    if (r < 80 && g < 80 && b < 80) dark++;
  }
  const info = window.ecgscopeViewer.info();
  const y = Math.round(1.5 * info.pxPerMm * info.dpr);
  const centres = [];
  let runStart = -1;
  for (let x = 0; x < c.width; x++) {
    const i = (y * c.width + x) * 4;
    const major = img[i] > 190 && img[i + 1] < 160 && img[i + 2] < 160;
    if (major && runStart < 0) runStart = x;
    if (!major && runStart >= 0) { centres.push((runStart + x - 1) / 2); runStart = -1; }
  }
  return { red, dark, total: img.length / 4, centres, info, width: c.width, height: c.height };
}"""


def _drop(page, paths):
    files = [[p.name, base64.b64encode(p.read_bytes()).decode()] for p in paths]
    page.evaluate(_DROP_JS, [files])


def _r_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    """R peaks from the record itself: prominent maxima, each refined to the argmax of its ±50 ms window."""
    peaks, _ = find_peaks(x, distance=int(0.3 * fs), prominence=0.5 * np.ptp(x))
    half = int(0.05 * fs)
    return np.array([p - half + int(np.argmax(x[max(0, p - half): p + half])) for p in peaks])


def test_upload_grid_calipers_and_pdf(page, ptbxl_hr):
    record = load_record(ptbxl_hr)
    _drop(page, sorted(ptbxl_hr.parent.glob(ptbxl_hr.name + "*")))
    page.get_by_test_id("record-title").filter(has_text="00002_hr").wait_for()
    page.wait_for_function("() => window.ecgscopeViewer && window.ecgscopeViewer.info().rows.length === 4")

    # the grid is really drawn: red grid pixels, black traces, 5-mm lines 5 mm apart at 96 dpi
    px = page.evaluate(_CANVAS_JS)
    assert px["info"]["rows"] == [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"],
                                  ["II"]]
    assert px["red"] > 0.03 * px["total"] and px["dark"] > 2000
    spacing = np.diff(px["centres"])
    assert len(spacing) >= 50
    assert np.median(spacing) == pytest.approx(5 * CSS_PX_PER_MM, abs=0.6)
    assert px["width"] == pytest.approx(265 * CSS_PX_PER_MM, abs=2)  # 10 s at 25 mm/s + pulse area
    page.screenshot(path="test-artifacts/dashboard-12lead.png", full_page=True)

    # calipers on two consecutive R peaks of the rhythm strip (lead II)
    fs = record.fs
    r = _r_peaks(record.lead("II").astype(np.float64), fs)
    r = r[(r > 0.5 * fs) & (r < 9.5 * fs)]
    assert len(r) >= 2
    t1, t2 = r[0] / fs, r[1] / fs
    expected_ms = (t2 - t1) * 1000
    page.get_by_test_id("caliper-toggle").check()
    for t in (t1 + 0.008, t2 - 0.006):  # a little off the peaks: the calipers snap
        pt = page.evaluate("([t]) => window.ecgscopeViewer.toClient('II', t)", [t])
        page.mouse.click(pt["x"], pt["y"])
    dt_text = page.get_by_test_id("caliper-dt").inner_text()
    shown_ms = float(dt_text.replace("ΔT", "").replace("ms", "").strip())
    assert abs(shown_ms - expected_ms) <= 10, (dt_text, expected_ms)
    assert "mV" in page.get_by_test_id("caliper-dv").inner_text()
    page.screenshot(path="test-artifacts/dashboard-caliper.png", full_page=True)

    # one-click PDF report
    with page.expect_download() as dl:
        page.get_by_test_id("pdf-button").click()
    target = "test-artifacts/dashboard-report.pdf"
    dl.value.save_as(target)
    with open(target, "rb") as fh:
        assert fh.read(5) == b"%PDF-"


def test_single_lead_strip_speed_and_queue(page, data_dir):
    base = data_dir / "cinc2017" / "A00013"
    page.get_by_test_id("file-input").set_input_files([str(base.with_suffix(".hea")), str(base.with_suffix(".mat"))])
    page.get_by_test_id("record-title").filter(has_text="A00013").wait_for()
    page.wait_for_function("() => window.ecgscopeViewer.info().rows.length === 1")
    info = page.evaluate("() => window.ecgscopeViewer.info()")
    rec = load_record(base.with_suffix(".hea"))
    assert info["rows"] == [["I"]] and info["speed"] == 25
    width_25 = page.evaluate("() => document.querySelector('[data-testid=\"ecg-canvas\"]').width")
    page.get_by_label("speed").select_option("50")
    page.wait_for_function("() => window.ecgscopeViewer.info().speed === 50")
    width_50 = page.evaluate("() => document.querySelector('[data-testid=\"ecg-canvas\"]').width")
    trace_mm_25 = min(rec.duration_s, 60) * 25
    assert (width_50 - width_25) / CSS_PX_PER_MM == pytest.approx(trace_mm_25, abs=6)
    assert page.get_by_test_id("queue-item").count() >= 1
    page.screenshot(path="test-artifacts/dashboard-single-lead.png", full_page=True)


@pytest.mark.skipif(not ENGINE, reason="ecgscope.inference (the analysis engine) is not installed yet")
def test_results_panel_filled_after_analysis(page, ptbxl_hr):
    _drop(page, sorted(ptbxl_hr.parent.glob(ptbxl_hr.name + "*")))
    page.get_by_test_id("record-title").filter(has_text="00002_hr").wait_for()
    page.get_by_test_id("analyze-button").click()
    page.get_by_test_id("label-table").wait_for(timeout=60_000)
    assert page.get_by_test_id("label-row").count() == 17
    assert "bpm" in page.get_by_test_id("measurements").inner_text()
    page.screenshot(path="test-artifacts/dashboard-results.png", full_page=True)
