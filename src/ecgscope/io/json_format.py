"""JSON records.

Two accepted layouts::

    {"fs": 500, "units": "mV", "leads": ["I", "II"], "signal": [[...], [...]]}   # leads x samples
    {"fs": 500, "units": "mV", "signal": {"I": [...], "II": [...]}}               # lead-keyed

Optional fields: ``record_id``, ``patient_id``, ``age``, ``sex``.  ``units`` defaults to mV with
a warning when absent.  The writer emits the first layout with 9 significant digits, so a written
record reads back bit-identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ecgscope.errors import ECGScopeError, RecordFormatError
from ecgscope.io._source import source_bytes
from ecgscope.io._units import infer_units
from ecgscope.record import Record, units_to_mv_factor


def _lead_array(values: object, lead: str, source: str) -> np.ndarray:
    if not isinstance(values, list):
        raise RecordFormatError(f"samples of lead {lead!r} must be a list of numbers", source=source,
                                code="bad_json_signal")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        bad = next((i for i, v in enumerate(values) if isinstance(v, bool) or not isinstance(v, (int, float))), None)
        raise RecordFormatError(
            f"lead {lead!r} has a non-numeric sample at index {bad}: {values[bad]!r}", source=source,
            code="non_numeric"
        ) from None
    if arr.ndim != 1:
        raise RecordFormatError(f"samples of lead {lead!r} must be a flat list", source=source, code="bad_json_signal")
    return arr


def read_json(data: str | Path | bytes, fs: float | None = None, units: str | None = None, *,
              source: str | None = None) -> Record:
    """Read an ECG from JSON (either layout above)."""
    raw, source = source_bytes(data, source, "<json>")
    try:
        obj = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise RecordFormatError("JSON is not UTF-8 text", source=source, code="bad_encoding") from None
    except json.JSONDecodeError as exc:
        raise RecordFormatError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                source=source, code="bad_json") from None
    if not isinstance(obj, dict):
        raise RecordFormatError("JSON record must be an object with 'fs' and 'signal'", source=source,
                                code="bad_json")
    if "signal" not in obj:
        raise RecordFormatError("JSON record has no 'signal' field", source=source, code="bad_json")
    rate = fs if fs is not None else obj.get("fs")
    if rate is None:
        raise RecordFormatError("JSON record has no 'fs' field; pass fs", source=source, code="missing_fs")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise RecordFormatError(f"'fs' must be a number; got {rate!r}", source=source, code="bad_fs")
    sig = obj["signal"]
    if isinstance(sig, dict):
        if "leads" in obj and list(obj["leads"]) != list(sig):
            raise RecordFormatError("'leads' disagrees with the keys of 'signal'", source=source, code="bad_json")
        leads = [str(k) for k in sig]
        arrays = [_lead_array(v, k, source) for k, v in sig.items()]
    elif isinstance(sig, list):
        leads = obj.get("leads")
        if not isinstance(leads, list) or not all(isinstance(x, str) for x in leads):
            raise RecordFormatError("'leads' must be a list of lead names when 'signal' is a list of lists",
                                    source=source, code="bad_json")
        if sig and not isinstance(sig[0], list):
            raise RecordFormatError("'signal' must be a list of per-lead sample lists (leads x samples)",
                                    source=source, code="bad_json_signal")
        arrays = [_lead_array(v, leads[i] if i < len(leads) else str(i), source) for i, v in enumerate(sig)]
    else:
        raise RecordFormatError("'signal' must be a list of lists or an object keyed by lead", source=source,
                                code="bad_json_signal")
    if not arrays or all(a.size == 0 for a in arrays):
        raise RecordFormatError("'signal' holds no samples", source=source, code="empty_signal")
    lengths = {a.size for a in arrays}
    if len(lengths) > 1:
        detail = ", ".join(f"{n}={a.size}" for n, a in zip(leads, arrays, strict=False))
        raise RecordFormatError(f"leads have different lengths ({detail})", source=source, code="ragged_leads")
    signal = np.vstack(arrays)
    warnings_list: list[str] = []
    unit = units or obj.get("units")
    if unit is None:
        unit = infer_units(signal, source)
        warnings_list.append(f"units not stated; inferred {unit} from the amplitude")
    try:
        return Record(
            signal * units_to_mv_factor(unit),
            fs=float(rate),
            leads=tuple(leads),
            record_id=obj.get("record_id"),
            patient_id=None if obj.get("patient_id") is None else str(obj["patient_id"]),
            age=obj.get("age"),
            sex=obj.get("sex"),
            source_format="json",
            units=str(unit),
            metadata={"warnings": warnings_list} if warnings_list else {},
        )
    except ECGScopeError as err:
        raise err.with_source(source) from None


def record_to_json_dict(record: Record) -> dict:
    """The JSON object :func:`write_json` writes (samples as float32-exact Python floats)."""
    return {
        "format": "ecgscope-record",
        "version": 1,
        "record_id": record.record_id,
        "patient_id": record.patient_id,
        "age": record.age,
        "sex": record.sex,
        "fs": record.fs,
        "units": "mV",
        "leads": list(record.leads),
        "signal": [[float(f"{v:.9g}") for v in lead] for lead in record.signal.tolist()],
    }


def write_json(record: Record, path: str | Path) -> Path:
    """Write ``record`` as JSON (leads x samples, mV)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(record_to_json_dict(record), separators=(",", ":")))
    return p
