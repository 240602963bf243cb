// Renders the analysis JSON (DESIGN §4): labels with calibrated probabilities and thresholds,
// suppressed labels with reasons, quality warnings, rhythm, intervals, axes and HRV.

function fmt(v, unit = "", digits = 0) {
  return v === null || v === undefined || Number.isNaN(v) ? "—" : `${Number(v).toFixed(digits)}${unit}`;
}

export function Measurements({ analysis }) {
  const m = analysis.measurements ?? {};
  const r = analysis.rhythm ?? {};
  const hrv = r.hrv ?? {};
  const rows = [
    ["Heart rate", fmt(r.heart_rate_bpm, " bpm")],
    ["PR", fmt(m.pr_ms, " ms")],
    ["QRS", fmt(m.qrs_ms, " ms")],
    ["QT", fmt(m.qt_ms, " ms")],
    [`QTc${m.qtc_formula ? ` (${m.qtc_formula})` : ""}`, fmt(m.qtc_ms, " ms")],
    ["Axis P / QRS / T", `${fmt(m.p_axis_deg)}° / ${fmt(m.qrs_axis_deg)}° / ${fmt(m.t_axis_deg)}°`],
    ["HRV RMSSD / SDNN", `${fmt(hrv.rmssd_ms, " ms")} / ${fmt(hrv.sdnn_ms, " ms")}`],
    ["HRV SD1 / SD2", `${fmt(hrv.sd1_ms, " ms")} / ${fmt(hrv.sd2_ms, " ms")}`],
  ];
  return (
    <table className="measurements" data-testid="measurements">
      <tbody>
        {rows.map(([k, v]) => (
          <tr key={k}><th>{k}</th><td>{v}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

export function LabelTable({ labels, saliencyLabel, onSaliency, hasSaliency }) {
  return (
    <table className="labels" data-testid="label-table">
      <thead>
        <tr><th>Label</th><th>Probability</th><th>Threshold</th>{hasSaliency && <th>Saliency</th>}</tr>
      </thead>
      <tbody>
        {labels.map((l) => (
          <tr key={l.name} className={l.positive ? "positive" : ""} data-testid="label-row">
            <td>{l.name}</td>
            <td>
              <span className="bar"><span style={{ width: `${Math.round(l.probability * 100)}%` }} /></span>
              {l.probability.toFixed(3)}
            </td>
            <td>{l.threshold.toFixed(3)}</td>
            {hasSaliency && (
              <td>
                <input type="radio" name="saliency" aria-label={`saliency of ${l.name}`}
                  checked={saliencyLabel === l.name} onChange={() => onSaliency(l.name)} />
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export default function ResultsPanel({ analysis, error, busy, models, model, onModel, onAnalyze, canWrite,
  saliencyLabel, onSaliency, explain, onExplain }) {
  return (
    <section className="results" data-testid="results-panel">
      <h2>Analysis</h2>
      <div className="analyze-bar">
        <select value={model} onChange={(e) => onModel(e.target.value)} aria-label="model"
          disabled={!models.length}>
          <option value="">automatic model</option>
          {models.map((m) => (
            <option key={`${m.name}-${m.version}`} value={m.name}>{m.name} {m.version}</option>
          ))}
        </select>
        <label title="per-label saliency for the overlay (slower)">
          <input type="checkbox" checked={explain} onChange={(e) => onExplain(e.target.checked)} /> saliency
        </label>
        <button onClick={onAnalyze} disabled={busy || !canWrite} data-testid="analyze-button">
          {busy ? "Analyzing…" : analysis ? "Re-analyze" : "Analyze"}
        </button>
      </div>
      {error && <p className="notice" data-testid="analysis-error">{error}</p>}
      {analysis && (
        <>
          <p className="model-id">
            {analysis.model?.name} {analysis.model?.version} ({analysis.model?.input})
            <br />
            <code title="model sha256">{analysis.model?.sha256?.slice(0, 16)}…</code>
          </p>
          {analysis.quality && !analysis.quality.usable && (
            <p className="warning" data-testid="quality-warning">
              Unreliable: poor signal quality — {(analysis.quality.issues ?? []).join(", ")}
            </p>
          )}
          {analysis.quality?.usable && (analysis.quality.issues ?? []).length > 0 && (
            <p className="notice">Quality notes: {analysis.quality.issues.join(", ")}</p>
          )}
          <h3>Measurements</h3>
          <Measurements analysis={analysis} />
          <h3>Findings</h3>
          <LabelTable labels={analysis.classification?.labels ?? []} saliencyLabel={saliencyLabel}
            onSaliency={onSaliency} hasSaliency={Boolean(analysis.saliency)} />
          {(analysis.classification?.suppressed ?? []).length > 0 && (
            <>
              <h3>Suppressed</h3>
              <ul className="suppressed" data-testid="suppressed">
                {analysis.classification.suppressed.map((s) => (
                  <li key={s.name}><strong>{s.name}</strong>: {s.reason}</li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
      <p className="caution">
        Decision support only, not a diagnosis: confirm every finding on the full ECG.
      </p>
    </section>
  );
}
