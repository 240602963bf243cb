import test from "node:test";
import assert from "node:assert/strict";
import {
  buildLayout, hitTest, xMmOf, snapTime, STANDARD_12, rowHeightMm, valueAt, fiducialTimes, saliencyBins,
} from "./geometry.js";

test("3x4 layout: four 2.5-s columns, rhythm strip of 10 s at 25 mm/s", () => {
  const geo = buildLayout({ leads: STANDARD_12, duration: 10, layout: "3x4", speed: 25, gain: 10 });
  assert.equal(geo.rows.length, 4);
  assert.deepEqual(geo.rows[0].map((s) => s.lead), ["I", "aVR", "V1", "V4"]);
  assert.equal(geo.rows[3][0].lead, "II");
  assert.equal(geo.rows[3][0].dur, 10);
  assert.equal(geo.rows[0][1].xMm, 62.5);
  assert.equal(geo.rowH, 30);
  assert.equal(geo.widthMm, 265);
});

test("hit test inverts xMmOf", () => {
  const geo = buildLayout({ leads: STANDARD_12, duration: 10, layout: "3x4", speed: 50, gain: 20 });
  const seg = geo.rows[3][0];
  const hit = hitTest(geo, xMmOf(geo, seg, 3.21), 3 * geo.rowH + 5);
  assert.equal(hit.lead, "II");
  assert.ok(Math.abs(hit.t - 3.21) < 1e-9);
  assert.equal(rowHeightMm(5), 15);
});

test("snap to the local extremum, or to a fiducial when one is near", () => {
  const fs = 500;
  const x = new Float32Array(1000);
  x[400] = 1.5; // a peak at 0.8 s
  assert.equal(snapTime(x, fs, 0.81).t, 0.8);
  assert.deepEqual(snapTime(x, fs, 0.81, { fiducials: [{ t: 0.82, name: "r_peak" }, { t: 0.9, name: "qrs_off" }] }),
    { t: 0.82, how: "fiducial", name: "r_peak" });
  assert.equal(snapTime(x, fs, 0.81, { fiducials: [{ t: 0.9, name: "qrs_off" }] }).how, "extremum");
  assert.equal(valueAt(x, fs, 0.8), 1.5);
});

test("fiducials of a lead: its own beats when delineated per lead, else the global beats", () => {
  const analysis = { delineation: {
    beats: [{ p_on: null, r_peak: 982, t_off: 1372 }],
    per_lead: { II: [{ p_on: 820, r_peak: 1008, t_off: null }] },
  } };
  assert.deepEqual(fiducialTimes(analysis, "II"), [{ t: 0.82, name: "p_on" }, { t: 1.008, name: "r_peak" }]);
  assert.deepEqual(fiducialTimes(analysis, "V1").map((f) => f.name), ["r_peak", "t_off"]);
  assert.deepEqual(fiducialTimes(null, "II"), []);
});

test("saliency bins: per-bin maximum relative to the label's peak", () => {
  const saliency = { fs: 100, labels: { AF: [0, 0.5, 1, 0.25, 0, 0] } };
  const bins = saliencyBins(saliency, "AF", 0.02);
  assert.deepEqual(bins.map((b) => b.value), [0.5, 1, 0]);
  assert.equal(bins[1].t0, 0.02);
  assert.deepEqual(saliencyBins(saliency, "missing"), []);
});
