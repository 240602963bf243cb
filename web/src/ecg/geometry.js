// Page geometry of the ECG viewer, in millimetres, shared by drawing and hit testing.
//
// Scale assumption: CSS defines 1 in = 96 CSS px, so 1 mm = 96 / 25.4 = 3.7795 CSS px, and the
// canvas backing store is CSS px x devicePixelRatio, so lines land on device pixels. Browsers do
// not know a screen's physical size; on most desktop monitors a CSS mm is within ~10-20 % of a
// real mm. The user's calibration factor (measured ruler length / shown length) corrects it, so
// 25 mm/s and 10 mm/mV are true on that screen.

export const CSS_PX_PER_MM = 96 / 25.4;
export const STANDARD_12 = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"];
export const GRID_3X4 = [
  ["I", "aVR", "V1", "V4"],
  ["II", "aVL", "V2", "V5"],
  ["III", "aVF", "V3", "V6"],
];
export const PULSE_AREA_MM = 10; // calibration pulse before the traces
export const RIGHT_PAD_MM = 5;
export const MAX_SPAN_S = 60; // longer records are shown a window at a time

export function pxPerMm({ calibration = 1, zoom = 1 } = {}) {
  return CSS_PX_PER_MM * calibration * zoom;
}

export function isStandard12(leads) {
  return STANDARD_12.every((l) => leads.includes(l));
}

export function rhythmLead(leads) {
  return ["II", "V1", "I"].find((l) => leads.includes(l)) ?? leads[0];
}

// Row height (mm): 3 mV at the chosen gain, rounded up to whole 5-mm squares.
export function rowHeightMm(gain) {
  return Math.max(10, Math.ceil((3 * gain) / 5) * 5);
}

// Rows of segments {lead, t0, dur, xMm}; xMm is from the left edge of the trace area.
export function buildLayout({ leads, duration, layout, speed, gain, start = 0 }) {
  const span = Math.min(MAX_SPAN_S, Math.max(0, duration - start));
  const rowH = rowHeightMm(gain);
  let rows;
  if (layout === "3x4" && isStandard12(leads)) {
    const span3x4 = Math.min(10, span);
    const col = span3x4 / 4;
    rows = GRID_3X4.map((names) =>
      names.map((lead, c) => ({ lead, t0: start + c * col, dur: col, xMm: c * col * speed })),
    );
    rows.push([{ lead: rhythmLead(leads), t0: start, dur: span3x4, xMm: 0, rhythm: true }]);
  } else {
    const order = isStandard12(leads) ? STANDARD_12 : leads;
    rows = order.map((lead) => [{ lead, t0: start, dur: span, xMm: 0 }]);
  }
  const traceWidth = Math.max(...rows.map((r) => Math.max(...r.map((s) => s.xMm + s.dur * speed))));
  const widthMm = Math.ceil((PULSE_AREA_MM + traceWidth + RIGHT_PAD_MM) / 5) * 5;
  return { rows, rowH, widthMm, heightMm: rows.length * rowH, speed, gain };
}

// Baseline (0 mV) of a row, mm from the top: 60 % down leaves room for tall R waves.
export function baselineMm(geo, row) {
  return row * geo.rowH + 0.6 * geo.rowH;
}

export function xMmOf(geo, seg, t) {
  return PULSE_AREA_MM + seg.xMm + (t - seg.t0) * geo.speed;
}

// The segment under a point (mm), with the time there; null outside traces.
export function hitTest(geo, xMm, yMm) {
  const row = Math.floor(yMm / geo.rowH);
  if (row < 0 || row >= geo.rows.length) return null;
  for (const seg of geo.rows[row]) {
    const x0 = xMmOf(geo, seg, seg.t0);
    const x1 = x0 + seg.dur * geo.speed;
    if (xMm >= x0 && xMm <= x1) {
      return { row, seg, lead: seg.lead, t: seg.t0 + (xMm - x0) / geo.speed };
    }
  }
  return null;
}

// Value (mV) of a lead at time t by linear interpolation of samples at fs.
export function valueAt(samples, fs, t) {
  const x = t * fs;
  const i = Math.floor(x);
  if (i < 0) return samples[0];
  if (i >= samples.length - 1) return samples[samples.length - 1];
  const f = x - i;
  return samples[i] * (1 - f) + samples[i + 1] * f;
}

// Snap a time to the nearest fiducial ({t, name}, t in s) within tolSec, else to the most prominent
// local extremum of the lead within +-tolSec (the sample farthest from the window's median: an R or
// S peak, a T apex). Returns {t, how, name}: how is "fiducial", "extremum" or "none".
export function snapTime(samples, fs, t, { fiducials = [], tolSec = 0.04 } = {}) {
  let best = null;
  for (const f of fiducials) {
    const d = Math.abs(f.t - t);
    if (d <= tolSec && (best === null || d < Math.abs(best.t - t))) best = f;
  }
  if (best !== null) return { t: best.t, how: "fiducial", name: best.name };
  const i0 = Math.max(0, Math.round((t - tolSec) * fs));
  const i1 = Math.min(samples.length - 1, Math.round((t + tolSec) * fs));
  if (i1 <= i0) return { t, how: "none", name: null };
  const win = Array.from(samples.slice(i0, i1 + 1)).sort((a, b) => a - b);
  const median = win[Math.floor(win.length / 2)];
  let bi = i0;
  for (let i = i0; i <= i1; i++) {
    if (Math.abs(samples[i] - median) > Math.abs(samples[bi] - median)) bi = i;
  }
  return { t: bi / fs, how: "extremum", name: null };
}

// The beats delineated in a lead: that lead's own (delineation.per_lead) when the analysis has them,
// else the global multi-lead beats (times in ms from the record start).
export function beatsOf(analysis, lead) {
  const d = analysis?.delineation;
  if (!d) return [];
  return d.per_lead?.[lead] ?? d.beats ?? [];
}

// The fiducials of a lead as [{t (s), name}] for the calipers to snap to.
export function fiducialTimes(analysis, lead) {
  const out = [];
  for (const b of beatsOf(analysis, lead)) {
    for (const [name, v] of Object.entries(b)) {
      if (typeof v === "number" && Number.isFinite(v)) out.push({ t: v / 1000, name });
    }
  }
  return out;
}

// Saliency of one label resampled to bins of binS seconds: [{t0, t1, value}] with value in [0, 1]
// relative to the label's maximum (the engine scales each label's map to max 1 over the record).
export function saliencyBins(saliency, label, binS = 0.02) {
  const values = saliency?.labels?.[label];
  if (!values || !values.length) return [];
  const step = Math.max(1, Math.round(binS * saliency.fs));
  let peak = 0;
  for (const v of values) peak = Math.max(peak, Math.abs(v));
  if (peak <= 0) return [];
  const out = [];
  for (let i = 0; i < values.length; i += step) {
    let m = 0;
    for (let k = i; k < Math.min(values.length, i + step); k++) m = Math.max(m, Math.abs(values[k]));
    out.push({ t0: i / saliency.fs, t1: Math.min(values.length, i + step) / saliency.fs, value: m / peak });
  }
  return out;
}
