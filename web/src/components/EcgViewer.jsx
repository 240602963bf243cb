import { useEffect, useMemo, useRef, useState } from "react";
import {
  PULSE_AREA_MM,
  baselineMm,
  beatsOf,
  buildLayout,
  fiducialTimes,
  hitTest,
  pxPerMm,
  saliencyBins,
  snapTime,
  valueAt,
  xMmOf,
} from "../ecg/geometry.js";

const MINOR = "#f6c4c4";
const MAJOR = "#e07b7b";
const TRACE = "#111111";
const MARKER_COLORS = {
  p_on: "#2a6fdb", p_peak: "#2a6fdb", p_off: "#2a6fdb",
  qrs_on: "#1b9e4b", r_peak: "#d62828", qrs_off: "#1b9e4b",
  t_peak: "#8e44ad", t_off: "#8e44ad",
};

function drawGrid(ctx, geo, mmPerDevicePx) {
  const { widthMm, heightMm } = geo;
  const showMinor = mmPerDevicePx < 0.5; // 1-mm squares only when at least 2 device px apart
  for (const major of [false, true]) {
    if (!major && !showMinor) continue;
    ctx.beginPath();
    ctx.strokeStyle = major ? MAJOR : MINOR;
    ctx.lineWidth = (major ? 1.6 : 1) * mmPerDevicePx;
    for (let x = 0; x <= widthMm; x++) {
      if ((x % 5 === 0) !== major) continue;
      ctx.moveTo(x, 0);
      ctx.lineTo(x, heightMm);
    }
    for (let y = 0; y <= heightMm; y++) {
      if ((y % 5 === 0) !== major) continue;
      ctx.moveTo(0, y);
      ctx.lineTo(widthMm, y);
    }
    ctx.stroke();
  }
}

function drawPulse(ctx, geo, row) {
  const y = baselineMm(geo, row);
  const h = geo.gain; // 1 mV
  const w = 0.2 * geo.speed; // 0.2 s
  const x = 2;
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 1.5, y);
  ctx.lineTo(x + 1.5, y - h);
  ctx.lineTo(x + 1.5 + w, y - h);
  ctx.lineTo(x + 1.5 + w, y);
  ctx.lineTo(Math.min(PULSE_AREA_MM - 0.5, x + 3 + w), y);
  ctx.stroke();
}

// Saliency of one label as an orange wash behind the traces, darker where the model looked; returns
// the number of bins drawn.
function drawSaliency(ctx, geo, saliency, label) {
  const bins = saliencyBins(saliency, label);
  let drawn = 0;
  geo.rows.forEach((row, r) => {
    for (const seg of row) {
      for (const b of bins) {
        if (b.t1 <= seg.t0 || b.t0 >= seg.t0 + seg.dur) continue;
        const a = 0.5 * b.value;
        if (a < 0.03) continue;
        const t0 = Math.max(b.t0, seg.t0);
        const t1 = Math.min(b.t1, seg.t0 + seg.dur);
        ctx.fillStyle = `rgba(255, 128, 0, ${a.toFixed(3)})`;
        ctx.fillRect(xMmOf(geo, seg, t0), r * geo.rowH + 1, (t1 - t0) * geo.speed, geo.rowH - 2);
        drawn++;
      }
    }
  });
  return drawn;
}

// Delineation ticks at the top of each row, from each lead's own beats when the analysis has them;
// returns the number of ticks drawn.
function drawMarkers(ctx, geo, analysis, mmPerDevicePx) {
  ctx.lineWidth = 1.5 * mmPerDevicePx;
  let drawn = 0;
  geo.rows.forEach((row, r) => {
    const y0 = r * geo.rowH + 1.5;
    for (const seg of row) {
      for (const beat of beatsOf(analysis, seg.lead)) {
        for (const [name, ms] of Object.entries(beat)) {
          if (typeof ms !== "number") continue;
          const t = ms / 1000;
          if (t < seg.t0 || t > seg.t0 + seg.dur) continue;
          const x = xMmOf(geo, seg, t);
          ctx.strokeStyle = MARKER_COLORS[name] ?? "#555";
          ctx.beginPath();
          ctx.moveTo(x, y0);
          ctx.lineTo(x, y0 + (name.endsWith("peak") ? 3 : 2));
          ctx.stroke();
          drawn++;
        }
      }
    }
  });
  return drawn;
}

// AAMI beat classes of a Holter strip: each beat's letter above every row that shows its instant; returns
// the number of letters drawn.
const BEAT_COLORS = { N: "#555555", S: "#1f5fbf", V: "#c0392b" };
function drawBeatLabels(ctx, geo, labels) {
  ctx.font = "bold 3px sans-serif";
  ctx.textAlign = "center";
  let drawn = 0;
  geo.rows.forEach((row, r) => {
    for (const seg of row) {
      for (const { t, cls } of labels) {
        if (t < seg.t0 || t > seg.t0 + seg.dur) continue;
        ctx.fillStyle = BEAT_COLORS[cls] ?? "#555555";
        ctx.fillText(cls, xMmOf(geo, seg, t), r * geo.rowH + 8);
        drawn++;
      }
    }
  });
  ctx.textAlign = "start";
  return drawn;
}

function snapLabel(p) {
  return p.how === "fiducial" ? `snapped to ${p.name}` : p.how === "extremum" ? "snapped to peak" : "not snapped";
}

function segmentsAt(geo, t) {
  const out = [];
  geo.rows.forEach((row, r) => row.forEach((seg) => t >= seg.t0 && t <= seg.t0 + seg.dur && out.push([r, seg])));
  return out;
}

function drawCalipers(ctx, geo, caliper, mmPerDevicePx) {
  const pts = [caliper.a, caliper.b].filter(Boolean);
  if (!pts.length) return;
  ctx.strokeStyle = "#0b5cad";
  ctx.fillStyle = "#0b5cad";
  ctx.lineWidth = 1.5 * mmPerDevicePx;
  ctx.setLineDash([1.5, 1]);
  for (const p of pts) {
    // the same instant in every simultaneous lead
    for (const [r, seg] of segmentsAt(geo, p.t)) {
      const x = xMmOf(geo, seg, p.t);
      ctx.beginPath();
      ctx.moveTo(x, r * geo.rowH);
      ctx.lineTo(x, (r + 1) * geo.rowH);
      ctx.stroke();
    }
  }
  ctx.setLineDash([]);
  for (const p of pts) {
    const seg = p.seg;
    const x = xMmOf(geo, seg, p.t);
    const y = baselineMm(geo, p.row) - p.v * geo.gain;
    ctx.beginPath();
    ctx.arc(x, y, 0.9, 0, 2 * Math.PI);
    ctx.fill();
  }
}

export default function EcgViewer({
  record, analysis, layout, speed, gain, zoom, calibration, start = 0,
  saliencyLabel, showMarkers, caliperMode, onZoom, beatLabels = null,
}) {
  const canvasRef = useRef(null);
  const scrollRef = useRef(null);
  const drag = useRef(null);
  const sig = record.signal;
  const fs = sig.fs;
  const data = useMemo(
    () => Object.fromEntries(sig.leads.map((l, i) => [l, Float32Array.from(sig.data[i])])),
    [sig],
  );
  const duration = sig.n_samples / fs;
  const geo = useMemo(
    () => buildLayout({ leads: sig.leads, duration, layout, speed, gain, start }),
    [sig.leads, duration, layout, speed, gain, start],
  );
  const ppm = pxPerMm({ calibration, zoom });
  const [caliper, setCaliper] = useState({ a: null, b: null });
  const drawn = useRef({ markers: 0, saliencyBins: 0, beatLabels: 0 });

  useEffect(() => setCaliper({ a: null, b: null }), [record.id, layout, start]);

  useEffect(() => {
    const canvas = canvasRef.current;
    const dpr = window.devicePixelRatio || 1;
    const cssW = geo.widthMm * ppm;
    const cssH = geo.heightMm * ppm;
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${cssH}px`;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    const ctx = canvas.getContext("2d");
    const scale = dpr * ppm; // device px per mm: everything below is drawn in millimetres
    const mmPerDevicePx = 1 / scale;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    drawn.current.saliencyBins =
      saliencyLabel && analysis?.saliency ? drawSaliency(ctx, geo, analysis.saliency, saliencyLabel) : 0;
    drawGrid(ctx, geo, mmPerDevicePx);
    ctx.strokeStyle = TRACE;
    ctx.lineJoin = "round";
    ctx.lineWidth = Math.max(1.3 * mmPerDevicePx, 0.22);
    geo.rows.forEach((row, r) => {
      drawPulse(ctx, geo, r);
      const base = baselineMm(geo, r);
      for (const seg of row) {
        const x = data[seg.lead];
        const i0 = Math.max(0, Math.ceil(seg.t0 * fs));
        const i1 = Math.min(x.length - 1, Math.floor((seg.t0 + seg.dur) * fs));
        ctx.beginPath();
        for (let i = i0; i <= i1; i++) {
          const px = xMmOf(geo, seg, i / fs);
          const py = base - x[i] * gain;
          if (i === i0) ctx.moveTo(px, py);
          else ctx.lineTo(px, py);
        }
        ctx.stroke();
        if (seg.t0 > start + 1e-9) {
          const bx = xMmOf(geo, seg, seg.t0);
          ctx.beginPath();
          ctx.moveTo(bx, base - 3);
          ctx.lineTo(bx, base + 3);
          ctx.stroke();
        }
      }
    });
    ctx.fillStyle = TRACE;
    ctx.font = "bold 3.5px sans-serif";
    geo.rows.forEach((row, r) =>
      row.forEach((seg) => ctx.fillText(seg.lead, xMmOf(geo, seg, seg.t0) + 1, r * geo.rowH + 4.5)),
    );
    drawn.current.markers = showMarkers ? drawMarkers(ctx, geo, analysis, mmPerDevicePx) : 0;
    drawn.current.beatLabels = beatLabels ? drawBeatLabels(ctx, geo, beatLabels) : 0;
    drawCalipers(ctx, geo, caliper, mmPerDevicePx);
  }, [geo, ppm, data, fs, gain, start, analysis, saliencyLabel, showMarkers, caliper, beatLabels]);

  // Geometry for automation and assistive tools: where a lead's trace is at time t on screen.
  useEffect(() => {
    window.ecgscopeViewer = {
      info: () => ({ pxPerMm: ppm, dpr: window.devicePixelRatio || 1, widthMm: geo.widthMm,
        heightMm: geo.heightMm, rows: geo.rows.map((r) => r.map((s) => s.lead)), speed, gain,
        markers: drawn.current.markers, saliencyBins: drawn.current.saliencyBins,
        beatLabels: drawn.current.beatLabels, fs, nSamples: sig.n_samples }),
      toClient: (lead, t, rowIndex = null) => {
        const cands = segmentsAt(geo, t).filter(([r, s]) => s.lead === lead && (rowIndex === null || r === rowIndex));
        if (!cands.length) return null;
        const [r, seg] = cands[cands.length - 1];
        const xCss = xMmOf(geo, seg, t) * ppm;
        const yCss = (baselineMm(geo, r) - valueAt(data[lead], fs, t) * gain) * ppm;
        const box = scrollRef.current;
        if (xCss < box.scrollLeft || xCss > box.scrollLeft + box.clientWidth) box.scrollLeft = xCss - box.clientWidth / 2;
        if (yCss < box.scrollTop || yCss > box.scrollTop + box.clientHeight) box.scrollTop = yCss - box.clientHeight / 2;
        const rect = canvasRef.current.getBoundingClientRect();
        return { x: rect.left + xCss, y: rect.top + yCss };
      },
    };
  }, [geo, ppm, data, fs, gain, speed, sig.n_samples]);

  function toMm(ev) {
    const rect = canvasRef.current.getBoundingClientRect();
    return [(ev.clientX - rect.left) / ppm, (ev.clientY - rect.top) / ppm];
  }

  function onClick(ev) {
    if (!caliperMode) return;
    const hit = hitTest(geo, ...toMm(ev));
    if (!hit) return;
    const samples = data[hit.lead];
    const snapped = snapTime(samples, fs, hit.t, { fiducials: fiducialTimes(analysis, hit.lead) });
    const point = { lead: hit.lead, row: hit.row, seg: hit.seg, t: snapped.t, how: snapped.how,
      name: snapped.name, v: valueAt(samples, fs, snapped.t) };
    setCaliper((c) => (c.a && !c.b ? { a: c.a, b: point } : { a: point, b: null }));
  }

  function onMouseDown(ev) {
    if (caliperMode) return;
    const box = scrollRef.current;
    drag.current = { x: ev.clientX, y: ev.clientY, left: box.scrollLeft, top: box.scrollTop };
  }
  function onMouseMove(ev) {
    if (!drag.current) return;
    const box = scrollRef.current;
    box.scrollLeft = drag.current.left - (ev.clientX - drag.current.x);
    box.scrollTop = drag.current.top - (ev.clientY - drag.current.y);
  }
  function onWheel(ev) {
    if (!ev.ctrlKey || !onZoom) return;
    ev.preventDefault();
    onZoom(ev.deltaY < 0 ? 1.25 : 0.8);
  }

  const { a, b } = caliper;
  const dt = a && b ? Math.abs(b.t - a.t) * 1000 : null;
  return (
    <div className="viewer">
      <div
        className={`viewer-scroll ${caliperMode ? "caliper-mode" : "pan-mode"}`}
        ref={scrollRef}
        onMouseDown={onMouseDown}
        onMouseMove={onMouseMove}
        onMouseUp={() => (drag.current = null)}
        onMouseLeave={() => (drag.current = null)}
        onWheel={onWheel}
      >
        <canvas ref={canvasRef} data-testid="ecg-canvas" onClick={onClick} />
      </div>
      <div className="caliper-readout" data-testid="caliper-readout" aria-live="polite">
        {caliperMode && !a && "Calipers: click the first point (snaps to fiducials or the nearest peak)."}
        {a && !b && `First point: ${a.lead} at ${(a.t * 1000).toFixed(0)} ms (${snapLabel(a)}); click the second point.`}
        {a && b && (
          <>
            <strong data-testid="caliper-dt">ΔT {dt.toFixed(0)} ms</strong>
            {" · "}
            <strong data-testid="caliper-dv">ΔV {(b.v - a.v).toFixed(2)} mV</strong>
            {" · "}
            {dt > 0 && `${(60000 / dt).toFixed(1)} /min`}
            {` (${a.lead} ${snapLabel(a)} → ${b.lead} ${snapLabel(b)})`}
          </>
        )}
      </div>
    </div>
  );
}
