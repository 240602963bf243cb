// Renders the analysis JSON (DESIGN §4): the reliability verdict, warnings and signal quality, rhythm,
// intervals (QTc with its formula), axes and HRV, the labels with calibrated probabilities against their
// thresholds, labels the plausibility rules suppressed or adjusted (with reasons), and which labels
// have a saliency map to overlay on the waveform.

import MedianBeats from "./MedianBeats.jsx";

function fmt(v, unit = "", digits = 0) {
  return v === null || v === undefined || Number.isNaN(v) ? "—" : `${Number(v).toFixed(digits)}${unit}`;
}

export function Measurements({ analysis }) {
  const m = analysis.measurements ?? {};
  const r = analysis.rhythm ?? {};
  const hrv = r.hrv ?? {};
  const rows = [
    ["Heart rate", fmt(r.heart_rate_bpm ?? m.heart_rate_bpm, " bpm", 1), "hr"],
    ["RR mean", `${fmt(hrv.mean_rr_ms, " ms")} (${r.rr_ms?.length ?? 0} intervals)`, "rr"],
    ["PR", fmt(m.pr_ms, " ms"), "pr"],
    ["QRS", fmt(m.qrs_ms, " ms"), "qrs"],
    ["QT", fmt(m.qt_ms, " ms"), "qt"],
    [`QTc${m.qtc_formula ? ` (${m.qtc_formula})` : ""}`, fmt(m.qtc_ms, " ms"), "qtc"],
    ["Axis P / QRS / T", `${fmt(m.p_axis_deg)}° / ${fmt(m.qrs_axis_deg)}° / ${fmt(m.t_axis_deg)}°`, "axes"],
    ["HRV RMSSD / SDNN", `${fmt(hrv.rmssd_ms, " ms", 1)} / ${fmt(hrv.sdnn_ms, " ms", 1)}`, "hrv-time"],
    ["HRV SD1 / SD2", `${fmt(hrv.sd1_ms, " ms", 1)} / ${fmt(hrv.sd2_ms, " ms", 1)}`, "hrv-poincare"],
    ["pNN50", fmt(hrv.pnn50, " %", 1), "pnn50"],
  ];
  return (
    <table className="measurements" data-testid="measurements">
      <tbody>
        {rows.map(([k, v, id]) => (
          <tr key={id} data-testid={`m-${id}`}><th>{k}</th><td>{v}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

// what carried a label (schema 1.2 `evidence`): the kind with the largest log-odds contribution
const EVIDENCE_NAMES = { network: "ECG network", record: "whole-record measurements", rhythm: "rhythm statistics" };

function evidenceTitle(ev) {
  const parts = Object.entries(ev.log_odds)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${EVIDENCE_NAMES[k]} ${v >= 0 ? "+" : ""}${v.toFixed(2)}`);
  const path = ev.path === "combined" ? "combined across sources" : "the model's own calibration";
  return `log-odds vs an average record (${path}): ${parts.join(", ")}`;
}

export function LabelTable({ labels, suppressed, saliencyLabels, saliencyLabel, onSaliency }) {
  const suppressedNames = new Set(suppressed.map((s) => s.name));
  const hasSaliency = saliencyLabels.length > 0;
  const hasEvidence = labels.some((l) => l.evidence);
  return (
    <table className="labels" data-testid="label-table">
      <thead>
        <tr><th>Label</th><th>Probability</th><th>Threshold</th>
          {hasEvidence && <th title="the evidence with the largest contribution to the label">Carried by</th>}
          {hasSaliency && <th title="saliency overlay">Map</th>}</tr>
      </thead>
      <tbody>
        {labels.map((l) => (
          <tr key={l.name} className={l.positive ? "positive" : ""} data-testid="label-row" data-label={l.name}
            data-positive={String(l.positive)}>
            <td>
              {l.name}
              {l.positive && <span className="badge pos">positive</span>}
              {suppressedNames.has(l.name) && <span className="badge sup">suppressed</span>}
            </td>
            <td>
              <span className="bar" title={`threshold ${l.threshold.toFixed(3)}`}>
                <span style={{ width: `${Math.round(l.probability * 100)}%` }} />
                <i style={{ left: `${Math.round(l.threshold * 100)}%` }} />
              </span>
              <span data-testid="probability">{l.probability.toFixed(3)}</span>
            </td>
            <td data-testid="threshold">{l.threshold.toFixed(3)}</td>
            {hasEvidence && (
              <td data-testid="evidence" data-carried-by={l.evidence?.carried_by ?? ""}
                title={l.evidence ? evidenceTitle(l.evidence) : ""}>
                {l.evidence ? EVIDENCE_NAMES[l.evidence.carried_by] : ""}
              </td>
            )}
            {hasSaliency && (
              <td>
                {saliencyLabels.includes(l.name) && (
                  <input type="radio" name="saliency" aria-label={`saliency of ${l.name}`}
                    data-testid="saliency-radio" checked={saliencyLabel === l.name}
                    onChange={() => onSaliency(l.name)} />
                )}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Quality({ analysis }) {
  const q = analysis.quality ?? {};
  const perLead = Object.entries(q.per_lead ?? {});
  return (
    <div className="quality" data-testid="quality">
      <div>
        Signal quality: <strong>{q.usable ? "usable" : "not usable"}</strong>
        {(q.issues ?? []).length > 0 && <> — {q.issues.join("; ")}</>}
      </div>
      {perLead.length > 0 && (
        <div className="per-lead">
          {perLead.map(([lead, score]) => (
            <span key={lead} className={score < 0.5 ? "low" : score < 0.9 ? "mid" : ""} title="quality 0-1">
              {lead} {Number(score).toFixed(2)}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}

export default function ResultsPanel({ analysis, error, tooShort, busy, models, model, onModel, onAnalyze, canWrite,
  saliencyLabel, onSaliency, explain, onExplain, canExplain = true }) {
  const cls = analysis?.classification;
  const suppressed = cls?.suppressed ?? [];
  const adjustments = cls?.adjustments ?? [];
  const saliencyLabels = Object.keys(analysis?.saliency?.labels ?? {});
  const warnings = analysis?.warnings ?? [];
  return (
    <section className="results" data-testid="results-panel">
      <h2>Analysis</h2>
      <div className="analyze-bar">
        <select value={model} onChange={(e) => onModel(e.target.value)} aria-label="model"
          disabled={!models.length} data-testid="model-select">
          <option value="">automatic model</option>
          {models.map((m) => (
            <option key={`${m.name}-${m.version}`} value={m.name}>{m.name} {m.version} ({m.input})</option>
          ))}
        </select>
        <label title={canExplain ? "per-label saliency maps for the waveform overlay (slower)"
          : "this model reads rhythm statistics (RR intervals, P waves), not the waveform: no saliency map"}>
          <input type="checkbox" checked={explain && canExplain} disabled={!canExplain}
            onChange={(e) => onExplain(e.target.checked)} data-testid="explain-toggle" /> saliency
        </label>
        <button onClick={() => onAnalyze()} disabled={busy || !canWrite} data-testid="analyze-button">
          {busy ? "Analyzing…" : analysis ? "Re-analyze" : "Analyze"}
        </button>
      </div>
      {error && (
        <p className="notice" data-testid="analysis-error">
          {error}
          {tooShort && canWrite && (
            <button onClick={() => onAnalyze({ padShort: true })} disabled={busy} data-testid="pad-button">
              Analyze zero-padded to 5 s
            </button>
          )}
        </p>
      )}
      {analysis && (
        <>
          <p className="model-id" data-testid="model-id">
            {analysis.model?.name} {analysis.model?.version} ({analysis.model?.input}
            {analysis.input?.single_lead ? ", single lead" : ""})
            <br />
            <code title={analysis.model?.sha256}>sha256 {analysis.model?.sha256?.slice(0, 16)}…</code>
          </p>
          {cls?.reliable === false ? (
            <div className="warning" data-testid="reliability" data-reliable="false">
              <strong>Unreliable result</strong> — labels are shown, not hidden; confirm on the tracing.
              <ul>{(cls.unreliable_reasons ?? []).map((r) => <li key={r}>{r}</li>)}</ul>
            </div>
          ) : (
            <p className="ok" data-testid="reliability" data-reliable="true">Reliable: signal quality gate passed and Poor data quality below its threshold.</p>
          )}
          {warnings.length > 0 && (
            <ul className="notice warnings" data-testid="warnings">
              {warnings.map((w) => <li key={w}>{w}</li>)}
            </ul>
          )}
          <Quality analysis={analysis} />
          <h3>Measurements{analysis.measurements?.method === "median_beat" && <small> on the median beat</small>}</h3>
          <Measurements analysis={analysis} />
          <MedianBeats medianBeat={analysis.median_beat} />
          <h3>Findings <small>calibrated probability vs threshold</small></h3>
          <LabelTable labels={cls?.labels ?? []} suppressed={suppressed} saliencyLabels={saliencyLabels}
            saliencyLabel={saliencyLabel} onSaliency={onSaliency} />
          {saliencyLabels.length > 0 && (
            <p className="saliency-note" data-testid="saliency-note">
              Saliency ({analysis.saliency.method}) for {saliencyLabels.join(", ")}: pick a label to shade where
              the model looked.{" "}
              <button onClick={() => onSaliency("")} disabled={!saliencyLabel}>hide</button>
            </p>
          )}
          {suppressed.length > 0 && (
            <>
              <h3>Suppressed by plausibility rules</h3>
              <ul className="suppressed" data-testid="suppressed">
                {suppressed.map((s) => (
                  <li key={s.name}><strong>{s.name}</strong>: {s.reason}</li>
                ))}
              </ul>
            </>
          )}
          {adjustments.length > 0 && (
            <>
              <h3>Adjusted by plausibility rules</h3>
              <ul className="suppressed" data-testid="adjustments">
                {adjustments.map((a) => (
                  <li key={a.name}>
                    <strong>{a.name}</strong>: {Number(a.from).toFixed(3)} → {Number(a.to).toFixed(3)} ({a.reason})
                  </li>
                ))}
              </ul>
            </>
          )}
          <p className="timing" data-testid="timing">
            Analysis took {fmt(analysis.timing_ms?.total, " ms")} (preprocess {fmt(analysis.timing_ms?.preprocess)},
            classify {fmt(analysis.timing_ms?.classify)}, delineate {fmt(analysis.timing_ms?.delineate)} ms).
          </p>
        </>
      )}
      <p className="caution">
        Decision support only, not a diagnosis: confirm every finding on the full ECG.
      </p>
    </section>
  );
}
