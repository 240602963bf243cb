import { useRef, useState } from "react";

// Drag-and-drop (or choose) the files of ONE record: .hea with its .dat/.mat, a zip of them,
// or a single .csv / .json / .edf / .mat / .npy / HL7 aECG, GE MUSE or Philips .xml / DICOM .dcm file.
export default function UploadZone({ onUpload, disabled }) {
  const [over, setOver] = useState(false);
  const [patientId, setPatientId] = useState("");
  const input = useRef(null);

  function send(fileList) {
    const files = Array.from(fileList || []);
    if (files.length) onUpload(files, patientId.trim());
  }

  return (
    <div
      className={`upload ${over ? "over" : ""}`}
      data-testid="upload-zone"
      onDragOver={(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => { e.preventDefault(); setOver(false); if (!disabled) send(e.dataTransfer.files); }}
    >
      <p>Drop one record's files here (.hea + .dat, zip, .mat, .csv, .json, .edf, HL7 aECG, GE MUSE or Philips .xml, DICOM .dcm)</p>
      <input placeholder="patient id (optional)" value={patientId} onChange={(e) => setPatientId(e.target.value)}
        aria-label="patient id" />
      <button onClick={() => input.current.click()} disabled={disabled}>Choose files…</button>
      <input ref={input} type="file" multiple hidden data-testid="file-input"
        onChange={(e) => { send(e.target.files); e.target.value = ""; }} />
    </div>
  );
}
