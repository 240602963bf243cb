// Thin client of the ecgscope API: every call sends the stored token; errors carry the server's message.

const TOKEN_KEY = "ecgscope.token";

export const tokenStore = {
  get: () => localStorage.getItem(TOKEN_KEY) || "",
  set: (t) => (t ? localStorage.setItem(TOKEN_KEY, t) : localStorage.removeItem(TOKEN_KEY)),
};

export class ApiError extends Error {
  constructor(status, detail) {
    const message = typeof detail === "string" ? detail : detail?.message || `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = detail?.code;
  }
}

async function request(path, { method = "GET", body, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${tokenStore.get()}` };
  let payload = body;
  if (body && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload });
  if (!res.ok) {
    let detail = null;
    try {
      detail = (await res.json()).detail;
    } catch {
      detail = res.statusText;
    }
    if (Array.isArray(detail)) detail = detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
    throw new ApiError(res.status, detail);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

export const api = {
  me: () => request("/api/v1/me"),
  listRecords: ({ page = 1, pageSize = 25, patientId = "", status = "" } = {}) => {
    const q = new URLSearchParams({ page, page_size: pageSize });
    if (patientId) q.set("patient_id", patientId);
    if (status) q.set("status", status);
    return request(`/api/v1/records?${q}`);
  },
  getRecord: (id, maxPoints = 20000) => request(`/api/v1/records/${id}?max_points=${maxPoints}`),
  // a window of a long record at its own sampling rate (a Holter strip at true scale)
  getStrip: (id, startS, durationS) => request(`/api/v1/records/${id}?start_s=${startS}&duration_s=${durationS}`),
  holter: (id) => request(`/api/v1/records/${id}/holter`),
  runHolter: (id) => request(`/api/v1/records/${id}/holter`, { method: "POST" }),
  holterBeats: (id, startS, endS) => request(`/api/v1/records/${id}/holter/beats?start_s=${startS}&end_s=${endS}`),
  upload: (files, patientId) => {
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    if (patientId) form.append("patient_id", patientId);
    return request("/api/v1/records", { method: "POST", body: form });
  },
  deleteRecord: (id) => request(`/api/v1/records/${id}`, { method: "DELETE" }),
  analyze: (id, model, explain = false, padShort = false) =>
    request(`/api/v1/records/${id}/analyze`,
      { method: "POST", body: { model: model || null, explain, pad_short: padShort } }),
  analysis: (id) => request(`/api/v1/records/${id}/analysis`),
  models: () => request("/api/v1/models"),
  reportPdf: (id) => request(`/api/v1/records/${id}/report.pdf`, { raw: true }).then((r) => r.blob()),
};
