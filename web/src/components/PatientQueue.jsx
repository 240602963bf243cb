// The patient queue: newest records first, with status; a patient id shows that patient's history.
export default function PatientQueue({ page, selectedId, onSelect, onPage, patientFilter, onPatientFilter }) {
  const pages = page ? Math.max(1, Math.ceil(page.total / page.page_size)) : 1;
  return (
    <section className="queue" data-testid="queue">
      <h2>Patient queue</h2>
      <input placeholder="filter by patient id" value={patientFilter} aria-label="patient filter"
        onChange={(e) => onPatientFilter(e.target.value)} />
      {patientFilter && <button onClick={() => onPatientFilter("")}>show all</button>}
      <ul>
        {(page?.items ?? []).map((r) => (
          <li key={r.id} className={r.id === selectedId ? "selected" : ""} data-testid="queue-item"
            onClick={() => onSelect(r.id)}>
            <div className="name">{r.record_name}</div>
            <div className="meta">
              <a href="#" onClick={(e) => { e.preventDefault(); e.stopPropagation(); onPatientFilter(r.patient_id || ""); }}
                title="this patient's history">{r.patient_id || "no patient id"}</a>
              {" · "}{r.n_leads} lead{r.n_leads > 1 ? "s" : ""} · {r.duration_s.toFixed(1)} s
            </div>
            <span className={`status status-${r.status}`}>{r.status}</span>
          </li>
        ))}
      </ul>
      <div className="pager">
        <button disabled={!page || page.page <= 1} onClick={() => onPage(page.page - 1)}>‹</button>
        <span>{page ? `${page.page} / ${pages} (${page.total})` : "…"}</span>
        <button disabled={!page || page.page >= pages} onClick={() => onPage(page.page + 1)}>›</button>
      </div>
    </section>
  );
}
