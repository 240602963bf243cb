"""EDF / EDF+ / BDF through pyedflib.

Polysomnography-style EDF files mix ECG with other channels at other rates.  We keep the channels
whose label names an ECG lead (``ECG I``, ``II``, ``EKG``...) at the rate most of them share, and
list what we dropped in ``metadata["dropped_channels"]``.  A file whose labels name no lead at all
is read whole when every channel has one rate (its labels kept and flagged unknown).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyedflib

from ecgscope.errors import ECGScopeError, RecordFormatError, RecordValidationError
from ecgscope.leads import normalize_lead_name
from ecgscope.record import Record, units_to_mv_factor


def _is_ecg_label(label: str) -> bool:
    _, known = normalize_lead_name(label)
    low = label.lower()
    return known or "ecg" in low or "ekg" in low


def read_edf(data: str | Path | bytes, *, source: str | None = None) -> Record:
    """Read the ECG channels of an EDF/EDF+/BDF file."""
    if isinstance(data, bytes):
        fd, tmp = tempfile.mkstemp(suffix=".edf", prefix="ecgscope-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            return read_edf(tmp, source=source or "<edf>")
        finally:
            os.unlink(tmp)
    path = str(data)
    source = source or path
    try:
        reader = pyedflib.EdfReader(path)
    except OSError as exc:
        raise RecordFormatError(f"not a readable EDF file ({exc})", source=source, code="bad_edf") from None
    try:
        labels = [s.strip() for s in reader.getSignalLabels()]
        rates = [float(r) for r in reader.getSampleFrequencies()]
        if not labels:
            raise RecordFormatError("EDF file has no signals", source=source, code="empty_signal")
        ecg = [i for i, lab in enumerate(labels) if _is_ecg_label(lab)]
        if not ecg:
            if len(set(rates)) != 1:
                raise RecordFormatError(
                    f"no channel is labelled as an ECG lead ({labels}) and the channels have different rates",
                    source=source,
                    code="no_ecg_channels",
                )
            ecg = list(range(len(labels)))
        common_rate, _ = Counter(rates[i] for i in ecg).most_common(1)[0]
        keep = [i for i in ecg if rates[i] == common_rate]
        dropped = [labels[i] for i in range(len(labels)) if i not in keep]
        rows, units = [], []
        for i in keep:
            dim = reader.getPhysicalDimension(i).strip() or "mV"
            try:
                factor = units_to_mv_factor(dim)
            except RecordValidationError:
                raise RecordValidationError(
                    f"channel {labels[i]!r} has unknown physical dimension {dim!r}; expected mV, uV or V",
                    source=source,
                    code="unknown_units",
                ) from None
            rows.append(reader.readSignal(i).astype(np.float64) * factor)
            units.append(dim)
        patient = {}
        try:
            header = reader.getHeader()
            patient = {k: header.get(k) for k in ("patientcode", "sex", "birthdate", "patientname") if header.get(k)}
        except Exception:  # noqa: BLE001 - header fields are optional decoration
            patient = {}
    except ECGScopeError:
        raise
    except Exception as exc:  # pyedflib raises OSError/ValueError variants on damaged files
        raise RecordFormatError(f"cannot read EDF signals ({exc})", source=source, code="bad_edf") from None
    finally:
        reader.close()
    lengths = {r.size for r in rows}
    if len(lengths) != 1:
        raise RecordFormatError("EDF ECG channels have different lengths", source=source, code="ragged_leads")
    try:
        return Record(
            np.vstack(rows),
            fs=common_rate,
            leads=tuple(labels[i] for i in keep),
            record_id=Path(source).stem if not source.startswith("<") else None,
            patient_id=patient.get("patientcode") or None,
            sex=patient.get("sex") or None,
            source_format="edf",
            units=units[0] if len(set(units)) == 1 else ",".join(units),
            metadata={"dropped_channels": dropped} if dropped else {},
        )
    except ECGScopeError as err:
        raise err.with_source(source) from None


def write_edf(record: Record, path: str | Path) -> Path:
    """Write ``record`` as EDF+ (16-bit, µV resolution or finer; not bit-exact for float data)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    headers = []
    for i, lead in enumerate(record.leads):
        lo, hi = float(record.signal[i].min()), float(record.signal[i].max())
        span = max(hi - lo, 1e-3)
        # EDF stores physical limits in 8 characters: round outward to 1 µV
        lo, hi = np.floor((lo - 0.01 * span) * 1000) / 1000, np.ceil((hi + 0.01 * span) * 1000) / 1000
        headers.append(
            {
                "label": lead,
                "dimension": "mV",
                "sample_frequency": record.fs,
                "physical_min": float(lo),
                "physical_max": float(hi),
                "digital_min": -32768,
                "digital_max": 32767,
                "transducer": "",
                "prefilter": "",
            }
        )
    header = {"patientcode": record.patient_id or "", "sex": record.sex or ""}
    ok = pyedflib.highlevel.write_edf(str(p), [s.astype(np.float64) for s in record.signal], headers, header)
    if not ok:
        raise RecordFormatError("pyedflib failed to write the EDF file", source=str(p), code="write_failed")
    return p
