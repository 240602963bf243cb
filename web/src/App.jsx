import { useCallback, useEffect, useState } from "react";
import { api, tokenStore } from "./api.js";
import EcgViewer from "./components/EcgViewer.jsx";
import HolterPanel from "./components/HolterPanel.jsx";
import PatientQueue from "./components/PatientQueue.jsx";
import ResultsPanel from "./components/ResultsPanel.jsx";
import UploadZone from "./components/UploadZone.jsx";
import { CSS_PX_PER_MM, MAX_SPAN_S, isStandard12 } from "./ecg/geometry.js";

const CAL_KEY = "ecgscope.calibration";

function TokenBar({ me, error, onToken }) {
  const [draft, setDraft] = useState("");
  return (
    <div className="token-bar">
      {me ? (
        <span data-testid="whoami">
          {me.username} ({me.role}{me.team ? `, team ${me.team}` : ""})
          <button onClick={() => onToken("")}>sign out</button>
        </span>
      ) : (
        <form onSubmit={(e) => { e.preventDefault(); onToken(draft.trim()); }}>
          <input type="password" placeholder="API token (ecg_…)" value={draft} aria-label="API token"
            onChange={(e) => setDraft(e.target.value)} data-testid="token-input" />
          <button type="submit" data-testid="token-save">Use token</button>
          {error && <span className="error">{error}</span>}
        </form>
      )}
    </div>
  );
}

function Calibration({ value, onChange }) {
  return (
    <details className="calibration">
      <summary>Screen scale</summary>
      <p>
        Assumes 1 CSS mm = {CSS_PX_PER_MM.toFixed(3)} CSS px (96 dpi), drawn at devicePixelRatio{" "}
        {window.devicePixelRatio || 1}. Measure the bar with a ruler and enter its length to make 25 mm/s true on
        this screen.
      </p>
      <div className="cal-bar" style={{ width: `${50 * CSS_PX_PER_MM * value}px` }}>50 mm</div>
      <label>
        measured length (mm){" "}
        <input type="number" min="10" max="200" step="0.5" defaultValue={50}
          onBlur={(e) => { const m = Number(e.target.value); if (m > 0) onChange((value * 50) / m); }} />
      </label>
      <button onClick={() => onChange(1)}>reset</button>
    </details>
  );
}

export default function App() {
  const [token, setToken] = useState(tokenStore.get());
  const [me, setMe] = useState(null);
  const [tokenError, setTokenError] = useState("");
  const [page, setPage] = useState(null);
  const [pageNum, setPageNum] = useState(1);
  const [patientFilter, setPatientFilter] = useState("");
  const [selectedId, setSelectedId] = useState(null);
  const [record, setRecord] = useState(null);
  const [message, setMessage] = useState("");
  const [analysis, setAnalysis] = useState(null);
  const [analysisError, setAnalysisError] = useState("");
  const [tooShort, setTooShort] = useState(false); // the last analysis was refused: shorter than one window
  const [busy, setBusy] = useState(false);
  const [models, setModels] = useState([]);
  const [model, setModel] = useState("");
  const [layout, setLayout] = useState("3x4");
  const [speed, setSpeed] = useState(25);
  const [gain, setGain] = useState(10);
  const [zoom, setZoom] = useState(1);
  const [start, setStart] = useState(0);
  const [calibration, setCalibration] = useState(Number(localStorage.getItem(CAL_KEY)) || 1);
  const [showMarkers, setShowMarkers] = useState(true);
  const [caliperMode, setCaliperMode] = useState(false);
  const [saliencyLabel, setSaliencyLabel] = useState("");
  const [explain, setExplain] = useState(false);
  const [strip, setStrip] = useState(null); // a Holter strip open at full rate: {start, record, labels}
  const STRIP_S = 10;

  const onToken = (t) => {
    tokenStore.set(t);
    setToken(t);
    setMe(null);
    setTokenError("");
    if (!t) { setPage(null); setRecord(null); setSelectedId(null); }
  };

  useEffect(() => {
    if (!token) return;
    api.me().then(setMe).catch((e) => { setTokenError(e.message); tokenStore.set(""); setToken(""); });
    api.models().then(setModels).catch(() => setModels([]));
  }, [token]);

  const refresh = useCallback(() => {
    if (!me) return Promise.resolve();
    return api.listRecords({ page: pageNum, patientId: patientFilter }).then(setPage)
      .catch((e) => setMessage(e.message));
  }, [me, pageNum, patientFilter]);

  useEffect(() => { refresh(); }, [refresh]);

  useEffect(() => {
    setRecord(null);
    setAnalysis(null);
    setAnalysisError("");
    setTooShort(false);
    setSaliencyLabel("");
    setStart(0);
    setStrip(null);
    if (!selectedId) return;
    api.getRecord(selectedId).then((r) => {
      setRecord(r);
      if (!isStandard12(r.leads)) setLayout("strips");
    }).catch((e) => setMessage(e.message));
    api.analysis(selectedId).then(setAnalysis).catch((e) => {
      setAnalysisError(e.status === 404 ? "Not analyzed yet." : e.message);
    });
  }, [selectedId]);

  async function openStrip(t) {
    const s0 = Math.max(0, Math.min(record.duration_s - STRIP_S, Math.round((t - STRIP_S / 2) * 10) / 10));
    try {
      const [r, beats] = await Promise.all([api.getStrip(selectedId, s0, STRIP_S),
        api.holterBeats(selectedId, s0, s0 + STRIP_S)]);
      setStrip({ start: s0, record: { ...record, signal: r.signal },
        labels: beats.peaks_s.map((p, i) => ({ t: p - s0, cls: beats.classes[i] })) });
    } catch (e) {
      setMessage(e.message);
    }
  }

  async function onUpload(files, patientId) {
    setMessage("Uploading…");
    try {
      const r = await api.upload(files, patientId);
      setMessage(r.duplicate ? `Already stored as ${r.record_name}.` : `Uploaded ${r.record_name}.`);
      await refresh();
      setSelectedId(r.id);
    } catch (e) {
      setMessage(`Upload refused: ${e.message}`);
    }
  }

  // a rhythm-statistics model (the AF detector) has no network, hence no saliency map
  const canExplain = models.find((m) => m.name === model)?.kind !== "rhythm-features";

  async function onAnalyze({ padShort = false } = {}) {
    setBusy(true);
    setAnalysisError("");
    setTooShort(false);
    try {
      const result = await api.analyze(selectedId, model, explain && canExplain, padShort);
      setAnalysis(result);
      // with saliency, overlay the first explained label (a positive one, or the most probable)
      setSaliencyLabel(Object.keys(result.saliency?.labels ?? {})[0] ?? "");
      refresh();
    } catch (e) {
      setAnalysisError(e.code === "too_short_for_window"
        ? "The record is shorter than one model window (5 s): the model cannot read it as it is." : e.message);
      setTooShort(e.code === "too_short_for_window");
      refresh();
    } finally {
      setBusy(false);
    }
  }

  async function onPdf() {
    try {
      const blob = await api.reportPdf(selectedId);
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `ecg-report-${record?.record_name || selectedId}.pdf`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      setMessage(`Report failed: ${e.message}`);
    }
  }

  async function onDelete() {
    if (!window.confirm(`Delete ${record?.record_name}? This cannot be undone.`)) return;
    try {
      await api.deleteRecord(selectedId);
      setSelectedId(null);
      refresh();
    } catch (e) {
      setMessage(e.message);
    }
  }

  const canWrite = me && me.role !== "viewer";
  const std12 = record && isStandard12(record.leads);
  const effectiveLayout = std12 ? layout : "strips";
  return (
    <div className="app">
      <header>
        <h1>ecgscope</h1>
        <TokenBar me={me} error={tokenError} onToken={onToken} />
      </header>
      {me && (
        <main>
          <aside>
            <UploadZone onUpload={onUpload} disabled={!canWrite} />
            {message && <p className="message" data-testid="message">{message}</p>}
            <PatientQueue page={page} selectedId={selectedId} onSelect={setSelectedId}
              onPage={setPageNum} patientFilter={patientFilter}
              onPatientFilter={(p) => { setPatientFilter(p); setPageNum(1); }} />
          </aside>
          <section className="center">
            {record ? (
              <>
                <div className="record-head">
                  <h2 data-testid="record-title">{record.record_name}</h2>
                  <span>
                    {record.patient_id || "no patient id"} · {record.n_leads} leads · {record.fs} Hz ·{" "}
                    {record.duration_s.toFixed(1)} s · {record.source_format}
                  </span>
                  <button onClick={onPdf} data-testid="pdf-button">PDF report</button>
                  {canWrite && <button className="danger" onClick={onDelete}>Delete</button>}
                </div>
                <div className="toolbar">
                  <label>Layout{" "}
                    <select value={effectiveLayout} onChange={(e) => setLayout(e.target.value)} aria-label="layout"
                      data-testid="layout-select">
                      {std12 && <option value="3x4">3×4 + rhythm</option>}
                      {std12 && <option value="12x1">12×1</option>}
                      {!std12 && <option value="strips">strips</option>}
                    </select>
                  </label>
                  <label>Speed{" "}
                    <select value={speed} onChange={(e) => setSpeed(Number(e.target.value))} aria-label="speed">
                      <option value={25}>25 mm/s</option>
                      <option value={50}>50 mm/s</option>
                    </select>
                  </label>
                  <label>Gain{" "}
                    <select value={gain} onChange={(e) => setGain(Number(e.target.value))} aria-label="gain">
                      <option value={5}>5 mm/mV</option>
                      <option value={10}>10 mm/mV</option>
                      <option value={20}>20 mm/mV</option>
                    </select>
                  </label>
                  <span className="zoom">
                    <button onClick={() => setZoom((z) => Math.max(0.25, z * 0.8))} aria-label="zoom out">−</button>
                    {Math.round(zoom * 100)}%
                    <button onClick={() => setZoom((z) => Math.min(8, z * 1.25))} aria-label="zoom in">+</button>
                    <button onClick={() => setZoom(1)}>true size</button>
                  </span>
                  <label>
                    <input type="checkbox" checked={caliperMode} onChange={(e) => setCaliperMode(e.target.checked)}
                      data-testid="caliper-toggle" /> Calipers
                  </label>
                  <label>
                    <input type="checkbox" checked={showMarkers} onChange={(e) => setShowMarkers(e.target.checked)}
                      data-testid="markers-toggle" disabled={!analysis} />
                    {" "}Delineation markers
                  </label>
                  {record.duration_s > MAX_SPAN_S && (
                    <label>From{" "}
                      <input type="range" min={0} max={Math.max(0, record.duration_s - MAX_SPAN_S)} step={1}
                        value={start} onChange={(e) => setStart(Number(e.target.value))} /> {start} s
                    </label>
                  )}
                  <Calibration value={calibration}
                    onChange={(c) => { setCalibration(c); localStorage.setItem(CAL_KEY, String(c)); }} />
                </div>
                {record.duration_s > MAX_SPAN_S && (
                  <HolterPanel recordId={record.id} durationS={record.duration_s} canWrite={canWrite}
                    onOpenStrip={openStrip} onAnalysed={refresh} />
                )}
                {strip ? (
                  <>
                    <p className="strip-head" data-testid="strip-head">
                      Strip from {strip.start.toFixed(1)} s to {(strip.start + STRIP_S).toFixed(1)} s at{" "}
                      {strip.record.signal.fs} Hz, beats labelled N / S / V{" "}
                      <button onClick={() => setStrip(null)} data-testid="strip-close">back to the whole record</button>
                    </p>
                    <EcgViewer record={strip.record} analysis={null} layout={effectiveLayout} speed={speed}
                      gain={gain} zoom={zoom} calibration={calibration} start={0} showMarkers={false}
                      caliperMode={caliperMode} beatLabels={strip.labels}
                      onZoom={(f) => setZoom((z) => Math.min(8, Math.max(0.25, z * f)))} />
                  </>
                ) : (
                  <EcgViewer record={record} analysis={analysis} layout={effectiveLayout} speed={speed} gain={gain}
                    zoom={zoom} calibration={calibration} start={start} saliencyLabel={saliencyLabel}
                    showMarkers={showMarkers} caliperMode={caliperMode}
                    onZoom={(f) => setZoom((z) => Math.min(8, Math.max(0.25, z * f)))} />
                )}
                <p className="scale-note">
                  {speed} mm/s · {gain} mm/mV · grid 1 mm / 5 mm · calibration pulse 1 mV
                  {zoom !== 1 && ` · zoomed ${Math.round(zoom * 100)}% (not true scale)`}
                </p>
              </>
            ) : (
              <p className="empty">Select a record in the queue or upload one.</p>
            )}
          </section>
          {record && (
            <ResultsPanel analysis={analysis} error={analysisError} tooShort={tooShort} busy={busy} models={models}
              model={model}
              onModel={setModel} onAnalyze={onAnalyze} explain={explain} onExplain={setExplain} canExplain={canExplain}
              canWrite={canWrite}
              saliencyLabel={saliencyLabel} onSaliency={setSaliencyLabel} />
          )}
        </main>
      )}
    </div>
  );
}
