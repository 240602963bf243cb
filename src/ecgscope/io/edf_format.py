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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyedflib

from ecgscope.errors import ECGScopeError, MissingInputError, RecordFormatError, RecordValidationError
from ecgscope.io.wfdb_format import RecordExtent
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


# ------------------------------------------------------------------ long EDF/BDF files read in chunks
@dataclass(frozen=True)
class _EdfLayout:
    """The parts of an EDF/BDF header that locate a sample in the file."""

    header_bytes: int
    bytes_per_sample: int  # 2 (EDF) or 3 (BDF)
    record_s: float
    records_in_header: int
    records_in_file: int  # fewer when the file is truncated
    spr: tuple[int, ...]  # samples per data record of every signal (annotation channels included)
    keep: tuple[int, ...]  # the ECG channels read (see the module docstring), all at one rate
    labels: tuple[str, ...]
    scale: np.ndarray  # per kept channel: mV per digital unit
    offset: np.ndarray  # per kept channel: mV at digital 0


def _edf_layout(path: str | Path) -> _EdfLayout:
    source = str(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            fixed = fh.read(256)
            ns = int(fixed[252:256].decode("ascii").strip())
            rest = fh.read(256 * ns)
    except FileNotFoundError:
        raise MissingInputError("EDF file not found", source=source) from None
    except (ValueError, UnicodeDecodeError, IndexError):
        raise RecordFormatError("not an EDF/BDF file (its header does not parse)", source=source,
                                code="bad_edf") from None
    if len(fixed) < 256 or ns <= 0 or len(rest) < 256 * ns:
        raise RecordFormatError("EDF header is incomplete", source=source, code="bad_edf")

    def field(offset: int, width: int) -> list[str]:
        return [rest[offset + i * width: offset + (i + 1) * width].decode("latin-1").strip() for i in range(ns)]

    try:
        labels = field(0, 16)
        dims = field(ns * 96, 8)
        pmin, pmax = (np.array(field(ns * k, 8), float) for k in (104, 112))
        dmin, dmax = (np.array(field(ns * k, 8), float) for k in (120, 128))
        spr = [int(v) for v in field(ns * 216, 8)]
        record_s = float(fixed[244:252].decode("ascii").strip())
        n_records = int(fixed[236:244].decode("ascii").strip())
    except ValueError:
        raise RecordFormatError("EDF header has a non-numeric field", source=source, code="bad_edf") from None
    bps = 3 if fixed[:1] == b"\xff" else 2
    header_bytes = 256 * (ns + 1)
    record_bytes = bps * sum(spr)
    if record_s <= 0 or record_bytes <= 0:
        raise RecordFormatError("EDF header gives no samples per record", source=source, code="bad_edf")
    in_file = max(0, (size - header_bytes) // record_bytes)
    rates = [n / record_s for n in spr]
    ecg = [i for i, lab in enumerate(labels) if _is_ecg_label(lab) and "annotation" not in lab.lower()]
    if not ecg:
        signals = [i for i, lab in enumerate(labels) if "annotation" not in lab.lower()]
        if len({rates[i] for i in signals}) != 1:
            raise RecordFormatError(f"no channel is labelled as an ECG lead ({labels}) and the channels have "
                                    "different rates", source=source, code="no_ecg_channels")
        ecg = signals
    rate, _ = Counter(rates[i] for i in ecg).most_common(1)[0]
    keep = tuple(i for i in ecg if rates[i] == rate)
    factors = []
    for i in keep:
        try:
            factors.append(units_to_mv_factor(dims[i] or "mV"))
        except RecordValidationError:
            raise RecordValidationError(f"channel {labels[i]!r} has unknown physical dimension {dims[i]!r}; "
                                        "expected mV, uV or V", source=source, code="unknown_units") from None
    k = np.array(keep)
    gain = (pmax[k] - pmin[k]) / np.where(dmax[k] > dmin[k], dmax[k] - dmin[k], 1.0)
    scale = gain * np.array(factors)
    offset = (pmin[k] - dmin[k] * gain) * np.array(factors)
    return _EdfLayout(header_bytes, bps, record_s, n_records if n_records >= 0 else int(in_file), int(in_file),
                      tuple(spr), keep, tuple(labels[i] for i in keep), scale, offset)


def edf_extent(path: str | Path) -> RecordExtent:
    """The sampling rate, ECG leads and length of an EDF/BDF file, and how much of it the file actually holds (a
    truncated file is read up to its damage), from its header and size alone."""
    lay = _edf_layout(path)
    spr = lay.spr[lay.keep[0]]
    return RecordExtent(spr / lay.record_s, lay.labels, lay.records_in_header * spr, lay.records_in_file * spr,
                        Path(path).stem)


def read_edf_segment(path: str | Path, start: int, stop: int) -> np.ndarray:
    """Samples ``start:stop`` of an EDF/BDF file's ECG channels as (n_leads, n) float32 **mV**, reading only the
    data records that hold them (for long recordings: :mod:`ecgscope.holter`).  ``stop`` must lie within
    :func:`edf_extent`'s ``readable_samples``."""
    lay = _edf_layout(path)
    spr = lay.spr[lay.keep[0]]
    if not 0 <= start < stop <= lay.records_in_file * spr:
        raise RecordFormatError(f"samples {start}:{stop} are outside the {lay.records_in_file * spr} the file holds",
                                source=str(path), code="out_of_range")
    first, last = start // spr, (stop - 1) // spr + 1
    record_values = sum(lay.spr)
    count = (last - first) * record_values * lay.bytes_per_sample
    with open(path, "rb") as fh:
        fh.seek(lay.header_bytes + first * record_values * lay.bytes_per_sample)
        raw = np.frombuffer(fh.read(count), dtype=np.uint8)
    if lay.bytes_per_sample == 2:
        values = raw.view("<i2").astype(np.int32)
    else:  # BDF: 24-bit little-endian two's complement
        b = raw.reshape(-1, 3).astype(np.int32)
        values = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
    records = values.reshape(last - first, record_values)
    starts = np.concatenate([[0], np.cumsum(lay.spr)])
    out = np.empty((len(lay.keep), stop - start), np.float32)
    for row, i in enumerate(lay.keep):
        x = records[:, starts[i]: starts[i] + spr].reshape(-1)[start - first * spr: stop - first * spr]
        out[row] = x * lay.scale[row] + lay.offset[row]
    return out
