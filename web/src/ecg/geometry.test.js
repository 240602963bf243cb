import test from "node:test";
import assert from "node:assert/strict";
import { buildLayout, hitTest, xMmOf, snapTime, STANDARD_12, rowHeightMm, valueAt } from "./geometry.js";

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
  assert.equal(snapTime(x, fs, 0.81, { fiducialsSec: [0.82] }).t, 0.82);
  assert.equal(valueAt(x, fs, 0.8), 1.5);
});
