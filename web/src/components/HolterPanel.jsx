// A long recording at a glance (the Holter JSON of POST /records/{id}/holter): beat classes, AF burden, pauses,
// HRV, and an overview of the whole recording (heart rate per minute, AF episodes shaded, pauses and ventricular
// runs ticked, unanalysable spans grey). A click on the overview opens the 10-s strip there at true scale, its
// beats labelled.

import { useEffect, useState } from "react";
import { api } from "../api.js";

const W = 800; // overview width in SVG units
const H = 120;
const PAD = 28;

function hms(s) {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(t % 60).padStart(2, "0")}`;
}

function fmt(v, unit = "", digits = 0) {
  return v === null || v === undefined ? "—" : `${Number(v).toFixed(digits)}${unit}`;
}

function Overview({ holter, onOpen }) {
  const dur = holter.input.duration_s;
  const x = (t) => PAD + (t / dur) * (W - PAD - 4);
  const hr = holter.heart_rate.per_minute_bpm ?? [];
  const finite = hr.filter((v) => v !== null);
  const lo = Math.min(40, ...finite);
  const hi = Math.max(120, ...finite);
  const y = (bpm) => H - 14 - ((bpm - lo) / (hi - lo)) * (H - 24);
  const path = [];
  hr.forEach((v, i) => {
    if (v === null) return;
    path.push(`${path.length && hr[i - 1] !== null ? "L" : "M"}${x(i * 60 + 30).toFixed(1)},${y(v).toFixed(1)}`);
  });
  const af = holter.atrial_fibrillation?.episode_list ?? [];
  const pauses = holter.pauses?.list ?? [];
  const vruns = holter.beats?.classes?.ventricular?.run_list ?? [];
  const gaps = holter.unanalysable ?? [];
  function click(ev) {
    const box = ev.currentTarget.getBoundingClientRect();
    const t = (((ev.clientX - box.left) / box.width) * W - PAD) / (W - PAD - 4) * dur;
    if (t >= 0 && t <= dur) onOpen(t);
  }
  return (
    <svg viewBox={`0 0 ${W} ${H}`} width="100%" className="holter-overview" data-testid="holter-overview"
      onClick={click} role="img" aria-label="heart rate over the whole recording; click to open a strip">
      <rect x={PAD} y="4" width={W - PAD - 4} height={H - 18} fill="#fafafa" stroke="#ccc" />
      {gaps.map((g) => (
        <rect key={`g${g.start_s}`} x={x(g.start_s)} y="4" width={Math.max(1, x(g.end_s) - x(g.start_s))}
          height={H - 18} fill="#bbbbbb" data-testid="holter-gap"><title>unanalysable: {g.reason}</title></rect>
      ))}
      {af.map((e) => (
        <rect key={`af${e.onset_s}`} x={x(e.onset_s)} y="4" width={Math.max(1.5, x(e.end_s) - x(e.onset_s))}
          height={H - 18} fill="rgba(255, 140, 0, 0.35)" data-testid="holter-af">
          <title>AF {e.onset} for {Math.round(e.duration_s)} s</title>
        </rect>
      ))}
      {[lo, 60, 100, hi].map((b) => (
        <g key={b}>
          <line x1={PAD} x2={W - 4} y1={y(b)} y2={y(b)} stroke="#e5e5e5" />
          <text x={PAD - 3} y={y(b) + 3} fontSize="9" textAnchor="end">{Math.round(b)}</text>
        </g>
      ))}
      <path d={path.join(" ")} fill="none" stroke="#111" strokeWidth="1.2" data-testid="holter-hr" />
      {pauses.map((p) => (
        <line key={`p${p.onset_s}`} x1={x(p.onset_s)} x2={x(p.onset_s)} y1={H - 14} y2={H - 24} stroke="#1f5fbf"
          strokeWidth="2" data-testid="holter-pause"><title>pause {fmt(p.duration_s, " s", 1)}</title></line>
      ))}
      {vruns.map((r) => (
        <line key={`v${r.onset_s}`} x1={x(r.onset_s)} x2={x(r.onset_s)} y1="4" y2="14" stroke="#c0392b"
          strokeWidth="2" data-testid="holter-vrun"><title>V run of {r.beats} at {fmt(r.rate_bpm, " bpm")}</title></line>
      ))}
      {[0, 0.25, 0.5, 0.75, 1].map((f) => (
        <text key={f} x={x(f * dur)} y={H - 3} fontSize="9" textAnchor="middle">{hms(f * dur)}</text>
      ))}
    </svg>
  );
}

export default function HolterPanel({ recordId, durationS, canWrite, onOpenStrip, onAnalysed }) {
  const [holter, setHolter] = useState(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    setHolter(null);
    setError("");
    api.holter(recordId).then(setHolter).catch((e) => setError(e.status === 404 ? "" : e.message));
  }, [recordId]);

  async function run() {
    setBusy(true);
    setError("");
    try {
      setHolter(await api.runHolter(recordId));
      onAnalysed?.();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }

  const cls = holter?.beats?.classes;
  const af = holter?.atrial_fibrillation;
  return (
    <section className="holter" data-testid="holter-panel">
      <h3>Long recording ({hms(durationS)})</h3>
      {!holter && (
        <p>
          {canWrite ? (
            <button onClick={run} disabled={busy} data-testid="holter-run">
              {busy ? "Analysing beat by beat…" : "Analyse as a Holter (beats, AF, pauses)"}
            </button>
          ) : "No Holter analysis yet."}
          {error && <span className="error" data-testid="holter-error"> {error}</span>}
        </p>
      )}
      {holter && (
        <>
          <table className="measurements" data-testid="holter-summary">
            <tbody>
              <tr><th>Beats</th><td data-testid="holter-beats">{holter.beats.total} (N {cls?.counts.N}, S{" "}
                {cls?.counts.S}, V {cls?.counts.V})</td></tr>
              <tr><th>Ventricular</th><td>{cls?.ventricular.couplets} couplets, {cls?.ventricular.runs} runs of ≥ 3</td></tr>
              <tr><th>Supraventricular</th><td>{cls?.supraventricular.couplets} couplets, {cls?.supraventricular.runs} runs</td></tr>
              <tr><th>Heart rate min / mean / max</th><td>{fmt(holter.heart_rate.min_bpm)} / {fmt(holter.heart_rate.mean_bpm)}{" "}
                / {fmt(holter.heart_rate.max_bpm)} bpm</td></tr>
              <tr><th>AF</th><td data-testid="holter-af-burden">{af ? `${af.episodes} episode(s), burden ${fmt(af.burden_percent, " %", 1)}` : "—"}</td></tr>
              <tr><th>Pauses &gt; {fmt(holter.pauses.threshold_s, " s", 1)}</th><td>{holter.pauses.count}</td></tr>
              <tr><th>SDNN / SDANN / RMSSD</th><td>{fmt(holter.hrv.sdnn_ms, " ms")} / {fmt(holter.hrv.sdann_ms, " ms")}{" "}
                / {fmt(holter.hrv.rmssd_ms, " ms")}</td></tr>
            </tbody>
          </table>
          <Overview holter={holter} onOpen={onOpenStrip} />
          <p className="scale-note">
            Heart rate per minute; orange: AF episodes; red ticks: ventricular runs; blue ticks: pauses; grey: not
            analysable. Click to open the 10-s strip there, at true scale with its beats labelled.
          </p>
          {(holter.warnings ?? []).length > 0 && (
            <ul className="notice warnings">{holter.warnings.map((w) => <li key={w}>{w}</li>)}</ul>
          )}
        </>
      )}
    </section>
  );
}
