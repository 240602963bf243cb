"""End to end in headless Chromium: upload a real record, read it on the true-scale grid, analyze it
for real (results panel, saliency overlay, delineation markers), measure an RR interval with calipers
that snap to the delineated R peaks, download the PDF report.  Screenshots go to test-artifacts/."""

from __future__ import annotations

import base64
import importlib.util
import re
import subprocess

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


def _api_json(live_server, path: str) -> dict:
    import httpx

    r = httpx.get(live_server.url + path, headers={"Authorization": f"Bearer {live_server.token}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _orange_pixels(page) -> int:
    return page.evaluate("""() => {
      const c = document.querySelector('[data-testid="ecg-canvas"]');
      const img = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < img.length; i += 4) {
        const [r, g, b] = [img[i], img[i + 1], img[i + 2]];
        if (r > 230 && g > 150 && g < 225 && b < 150) n++;  // the saliency wash, not the red grid
      }
      return n;
    }""")


@pytest.mark.skipif(not ENGINE, reason="ecgscope.inference (the analysis engine) is not installed yet")
def test_upload_grid_analysis_calipers_and_pdf(page, live_server, ptbxl_hr, tmp_path):
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
    assert px["info"]["markers"] == 0  # nothing delineated before the analysis
    page.screenshot(path="test-artifacts/dashboard-12lead.png", full_page=True)

    # the real analysis, with saliency, fills the results panel with what the API stored
    page.get_by_test_id("explain-toggle").check()
    page.get_by_test_id("analyze-button").click()
    page.get_by_test_id("label-table").wait_for(timeout=120_000)
    rid = _api_json(live_server, "/api/v1/records?page_size=50")["items"]
    rid = next(i["id"] for i in rid if i["record_name"] == "00002_hr")
    result = _api_json(live_server, f"/api/v1/records/{rid}/analysis")
    assert result["model"]["name"] == "ecgscope-17-12lead" and result["saliency"]["labels"]
    rows = page.get_by_test_id("label-row")
    assert rows.count() == 17
    for k, lab in enumerate(result["classification"]["labels"]):
        row = rows.nth(k)
        assert row.get_attribute("data-label") == lab["name"]
        assert row.get_attribute("data-positive") == str(lab["positive"]).lower()
        assert row.get_by_test_id("probability").inner_text() == f"{lab['probability']:.3f}"
        assert row.get_by_test_id("threshold").inner_text() == f"{lab['threshold']:.3f}"
        # what carried the label (schema 1.2 evidence), with every kind's contribution in the tooltip
        ev = row.get_by_test_id("evidence")
        assert ev.get_attribute("data-carried-by") == lab["evidence"]["carried_by"]
        shown = [float(x) for x in re.findall(r"[+-]\d+\.\d\d", ev.get_attribute("title"))]
        given = [v for v in lab["evidence"]["log_odds"].values() if v is not None]
        assert shown == pytest.approx(given, abs=0.006)
    m, rhythm = result["measurements"], result["rhythm"]
    assert page.get_by_test_id("m-hr").inner_text().endswith(f"{rhythm['heart_rate_bpm']:.1f} bpm")
    assert f"QTc ({m['qtc_formula']})" in page.get_by_test_id("m-qtc").inner_text()
    assert f"{m['qtc_ms']:.0f} ms" in page.get_by_test_id("m-qtc").inner_text()
    assert f"{m['qrs_axis_deg']:.0f}°" in page.get_by_test_id("m-axes").inner_text()
    assert f"{rhythm['hrv']['rmssd_ms']:.1f} ms" in page.get_by_test_id("m-hrv-time").inner_text()
    # the median beat the intervals were measured on, one complex per lead with the measured fiducials
    mb = result["median_beat"]
    assert m["method"] == "median_beat"
    figure = page.get_by_test_id("median-beats")
    assert f"Median of {mb['n_beats']} beats of the dominant class ({mb['beat_class']})" in figure.inner_text()
    for lead in mb["leads"]:
        cell = figure.get_by_test_id(f"median-{lead}")
        assert cell.locator("polyline").count() == 1
        assert cell.locator("line").count() == sum(mb["fiducials_ms"][f] is not None
                                                   for f in ("p_on", "qrs_on", "qrs_off", "t_off"))
    reliable = page.get_by_test_id("reliability")
    assert reliable.get_attribute("data-reliable") == str(result["classification"]["reliable"]).lower()
    for issue in result["quality"]["issues"]:
        assert issue in page.get_by_test_id("quality").inner_text()
    for s in result["classification"]["suppressed"]:
        assert s["reason"] in page.get_by_test_id("suppressed").inner_text()
    assert result["model"]["sha256"][:16] in page.get_by_test_id("model-id").inner_text()

    # saliency overlay of the first explained label, then hidden; delineation markers toggle
    page.wait_for_function("() => window.ecgscopeViewer.info().saliencyBins > 0")
    with_saliency = _orange_pixels(page)
    assert with_saliency > 1000
    assert page.get_by_test_id("saliency-radio").count() == len(result["saliency"]["labels"])
    # one tick per fiducial of each lead's own beats inside each of its segments (3x4: 2.5-s columns; rhythm: 10 s)
    per_lead = result["delineation"]["per_lead"]
    segments = [(lead, 2.5 * c, 2.5 * (c + 1)) for row in px["info"]["rows"][:3] for c, lead in enumerate(row)]
    segments.append(("II", 0.0, 10.0))
    expected_markers = sum(1 for lead, t0, t1 in segments for b in per_lead[lead] for v in b.values()
                           if v is not None and t0 <= v / 1000 <= t1)
    assert expected_markers > 50
    assert page.evaluate("() => window.ecgscopeViewer.info().markers") == expected_markers
    page.screenshot(path="test-artifacts/dashboard-results.png", full_page=True)
    page.get_by_test_id("saliency-note").get_by_role("button", name="hide").click()
    page.wait_for_function("() => window.ecgscopeViewer.info().saliencyBins === 0")
    assert _orange_pixels(page) < with_saliency / 20
    page.get_by_test_id("markers-toggle").uncheck()
    page.wait_for_function("() => window.ecgscopeViewer.info().markers === 0")
    page.get_by_test_id("markers-toggle").check()

    # calipers on two consecutive R peaks of the rhythm strip (lead II): they snap to the delineated R
    # peaks, and the displayed interval is the record's own RR interval
    fs = record.fs
    r = _r_peaks(record.lead("II").astype(np.float64), fs)
    r = r[(r > 0.5 * fs) & (r < 9.5 * fs)]
    assert len(r) >= 2
    t1, t2 = r[0] / fs, r[1] / fs
    expected_ms = (t2 - t1) * 1000
    page.get_by_test_id("caliper-toggle").check()
    for t in (t1 + 0.012, t2 - 0.010):  # a little off the peaks: the calipers snap
        pt = page.evaluate("([t]) => window.ecgscopeViewer.toClient('II', t, 3)", [t])
        page.mouse.click(pt["x"], pt["y"])
    readout = page.get_by_test_id("caliper-readout").inner_text()
    assert readout.count("snapped to r_peak") == 2, readout
    dt_text = page.get_by_test_id("caliper-dt").inner_text()
    shown_ms = float(dt_text.replace("ΔT", "").replace("ms", "").strip())
    assert abs(shown_ms - expected_ms) <= 10, (dt_text, expected_ms)
    assert "mV" in page.get_by_test_id("caliper-dv").inner_text()
    page.screenshot(path="test-artifacts/dashboard-caliper.png", full_page=True)

    # one-click PDF report: the tracing and the findings page
    with page.expect_download() as dl:
        page.get_by_test_id("pdf-button").click()
    target = "test-artifacts/dashboard-report.pdf"
    dl.value.save_as(target)
    with open(target, "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    text = subprocess.run(["pdftotext", "-layout", target, "-"], capture_output=True, text=True, check=True).stdout
    assert result["model"]["sha256"] in text and "Findings" in text


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
def test_short_record_is_refused_then_analyzed_zero_padded(page, tmp_path):
    """A 3-s strip is shorter than one model window: the panel says so and offers the zero-padded analysis,
    whose result carries the padding warning."""
    t = np.arange(0, 3, 1 / 500)
    x = np.sin(2 * np.pi * 1.2 * t) ** 63
    csv = tmp_path / "short-strip.csv"
    csv.write_text("time,I\n" + "\n".join(f"{a:.3f},{b:.5f}" for a, b in zip(t, x, strict=True)))
    page.get_by_test_id("file-input").set_input_files([str(csv)])
    page.get_by_test_id("record-title").filter(has_text="short-strip").wait_for()
    page.get_by_test_id("analyze-button").click()
    error = page.get_by_test_id("analysis-error")
    error.filter(has_text="shorter than one model window").wait_for(timeout=60_000)
    page.get_by_test_id("pad-button").click()
    page.get_by_test_id("label-table").wait_for(timeout=60_000)
    assert "zero-padded from 3.0 s" in page.get_by_test_id("warnings").inner_text()
    assert page.get_by_test_id("analysis-error").count() == 0


@pytest.mark.skipif(not ENGINE, reason="ecgscope.inference (the analysis engine) is not installed yet")
def test_af_detector_on_a_wearable_strip_has_no_saliency_option(page, data_dir):
    """The AF detector reads rhythm statistics, not the waveform: choosing it disables the saliency toggle, and
    its one label is shown with its probability."""
    base = data_dir / "cinc2017" / "A00013"
    page.get_by_test_id("file-input").set_input_files([str(base.with_suffix(".hea")), str(base.with_suffix(".mat"))])
    page.get_by_test_id("record-title").filter(has_text="A00013").wait_for()
    page.get_by_test_id("explain-toggle").check()
    page.get_by_test_id("model-select").select_option("ecgscope-af-1lead")
    toggle = page.get_by_test_id("explain-toggle")
    assert toggle.is_disabled() and not toggle.is_checked()
    page.get_by_test_id("analyze-button").click()
    table = page.get_by_test_id("label-table")
    table.wait_for(timeout=60_000)
    assert "Atrial fibrillation" in table.inner_text()
    assert page.get_by_test_id("analysis-error").count() == 0


@pytest.mark.skipif(not ENGINE, reason="ecgscope.inference (the analysis engine) is not installed yet")
def test_an_hl7_aecg_from_a_cart_is_dropped_drawn_and_analysed(page):
    """The public HL7 aECG sample (a Mortara ELI250 resting ECG): 12 leads drawn, then the 12-lead analysis."""
    from pathlib import Path

    sample = Path(__file__).parents[1] / "fixtures" / "aecg" / "fda_subject1_0.xml"
    page.get_by_test_id("file-input").set_input_files([str(sample)])
    page.get_by_test_id("record-title").filter(has_text="subject1_0").wait_for()
    # the 12-lead grid: three rows of four leads and a rhythm strip, as for a WFDB record
    page.wait_for_function("() => window.ecgscopeViewer.info().rows.length === 4")
    drawn = page.evaluate("() => window.ecgscopeViewer.info().rows")
    assert {lead for row in drawn for lead in row} == {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4",
                                                       "V5", "V6"}
    page.get_by_test_id("analyze-button").click()
    page.get_by_test_id("label-table").wait_for(timeout=120_000)
    assert page.get_by_test_id("label-row").count() == 17


@pytest.mark.skipif(not ENGINE, reason="ecgscope.inference (the analysis engine) is not installed yet")
def test_a_long_recording_gets_a_holter_overview_and_true_scale_strips(page, live_server, data_dir):
    """A 30-min MIT-BIH record (119, ventricular bigeminy): analysed as a Holter from the dashboard, its overview
    of the whole recording drawn, a click on it opening the 10-s strip there at the record's own 360 Hz and true
    scale, every beat of the strip labelled with the class the API gives it."""
    base = data_dir / "mitdb" / "119"
    page.get_by_test_id("file-input").set_input_files([str(base.with_suffix(".hea")), str(base.with_suffix(".dat"))])
    page.get_by_test_id("record-title").filter(has_text="119").wait_for()
    page.get_by_test_id("holter-run").click()
    overview = page.get_by_test_id("holter-overview")
    overview.wait_for(timeout=120_000)
    rid = next(i["id"] for i in _api_json(live_server, "/api/v1/records?page_size=50")["items"]
               if i["record_name"] == "119")
    holter = _api_json(live_server, f"/api/v1/records/{rid}/holter")
    counts = holter["beats"]["classes"]["counts"]
    assert f"{holter['beats']['total']} (N {counts['N']}, S {counts['S']}, V {counts['V']})" in \
        page.get_by_test_id("holter-beats").inner_text()
    assert page.get_by_test_id("holter-vrun").count() == len(holter["beats"]["classes"]["ventricular"]["run_list"])
    assert len(page.get_by_test_id("holter-hr").get_attribute("d").split("L")) > 25  # one point per minute
    # a click half-way along the overview opens the strip around 15 min
    box = overview.bounding_box()
    page.mouse.click(box["x"] + box["width"] * (28 + 0.5 * (800 - 32)) / 800, box["y"] + box["height"] / 2)
    head = page.get_by_test_id("strip-head")
    head.wait_for()
    start = float(re.search(r"Strip from ([\d.]+) s", head.inner_text()).group(1))
    assert start == pytest.approx(1805.6 / 2 - 5, abs=2)
    beats = _api_json(live_server, f"/api/v1/records/{rid}/holter/beats?start_s={start}&end_s={start + 10}")
    assert len(beats["peaks_s"]) >= 8 and "V" in beats["classes"]
    page.wait_for_function("() => window.ecgscopeViewer.info().nSamples === 3600")
    info = page.evaluate("() => window.ecgscopeViewer.info()")
    assert info["fs"] == 360 and info["speed"] == 25 and info["pxPerMm"] == pytest.approx(CSS_PX_PER_MM, rel=1e-3)
    assert info["beatLabels"] == len(beats["peaks_s"]) * len(info["rows"])  # every beat, on both leads' rows
    page.screenshot(path="test-artifacts/dashboard-holter.png", full_page=True)
    page.get_by_test_id("strip-close").click()
    page.wait_for_function("() => window.ecgscopeViewer.info().beatLabels === 0")
