"""WFDB records (.hea + .dat/.mat), including multi-segment, FLAC-compressed and Challenge headers.

Parsing and decoding are the ``wfdb`` package's; this module checks what ``wfdb`` does not
(a data file shorter than its header promises, units, missing companions), turns its exceptions
into errors that name the file, and reads the demographic and diagnosis comments that PhysioNet
databases and the PhysioNet/CinC Challenges put in headers.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io._signal import INVALID_SAMPLE_VALUE  # wfdb's table of per-format 'no sample' codes

from ecgscope.errors import ECGScopeError, MissingInputError, RecordFormatError, RecordValidationError
from ecgscope.io._wfdb_fast import read_digital
from ecgscope.record import Record, units_to_mv_factor

# Bits per sample of the uncompressed WFDB formats (signal-file byte counts follow from these).
_BITS = {"8": 8, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16, "212": 12, "310": 32 / 3, "311": 32 / 3}
_FLAC = {"508", "516", "524"}


def parse_header_comments(comments: list[str]) -> dict:
    """Demographics and diagnoses from header comments.

    Understands the Challenge style (``Age: 74``, ``Sex: Male``, ``Dx: 164889003,59118001``), LUDB's
    (``<age>: 51``, ``<sex>: F``, then ``<diagnoses>:`` followed by one diagnosis per line) and
    MIT-BIH's first comment (``69 M 1085 1629 x1``).

    >>> parse_header_comments(["<age>: 51", "<sex>: F", "<diagnoses>:", "Rhythm: Sinus bradycardia."])["diagnoses"]
    ['Rhythm: Sinus bradycardia.']
    """
    out: dict = {"comments": list(comments)}
    diagnoses: list[str] = []
    in_diagnoses = False  # LUDB: every line after "<diagnoses>:" is one diagnosis
    for i, raw in enumerate(comments):
        line = raw.strip()
        if not line:
            continue
        if in_diagnoses:
            diagnoses.append(line)
            continue
        m = re.match(r"^<?\s*([A-Za-z_ ]+?)\s*>?\s*:\s*(.*)$", line)
        if m is None:
            mb = re.match(r"^(\d{1,3}|\?)\s+([MF?])\b", line) if i == 0 else None
            if mb:
                if mb.group(1) != "?":
                    out["age"] = float(mb.group(1))
                if mb.group(2) != "?":
                    out["sex"] = mb.group(2)
            continue
        key, val = m.group(1).strip().lower(), m.group(2).strip()
        if key == "age":
            try:
                out["age"] = float(val)
            except ValueError:
                pass  # "NaN", "?" and friends: age unknown
        elif key == "sex":
            out["sex"] = val
        elif key == "dx":
            out["dx"] = [c.strip() for c in val.split(",") if c.strip()]
        elif key in ("diagnoses", "diagnosis"):
            in_diagnoses = True
            if val:
                diagnoses.append(val)
        elif key in ("patient_id", "patient id", "patient"):
            out["patient_id"] = val
        elif key in ("record_id", "record id"):
            out["record_id"] = val
        else:
            out.setdefault("fields", {})[key] = val
    if diagnoses:
        out["diagnoses"] = diagnoses
    return out


DEFAULT_ADC_GAIN = 200.0  # WFDB: a gain of 0 means "uncalibrated", read at the default 200 adu per unit


def _is_multi_segment(hea: Path) -> bool:
    """A multi-segment header's record line reads ``name/n_segments ...``."""
    for line in hea.read_text(encoding="latin-1").splitlines():
        if line.strip() and not line.startswith("#"):
            return "/" in line.split()[0]
    return False


def _digital_to_physical(raw: np.ndarray, sig: np.ndarray, rec: wfdb.Record) -> np.ndarray:
    """(digital - baseline) / gain per lead, in place on float32 ``sig``; invalid samples become NaN."""
    for i in range(sig.shape[0]):
        gain = float(rec.adc_gain[i]) or DEFAULT_ADC_GAIN
        sig[i] -= float(rec.baseline[i])
        sig[i] /= gain
        invalid = INVALID_SAMPLE_VALUE.get(rec.fmt[i])
        if invalid is not None:
            bad = raw[:, i] == invalid
            if bad.any():
                sig[i, bad] = np.nan  # the Record then reports the run with its position
    return sig


def wfdb_signal_files(hea: Path) -> set[str]:
    """Names of the signal files a header's signal lines name (the first field), for size checks.

    A cheap look at the text, not a header parser: wfdb parses the header when reading.
    """
    lines = [ln for ln in Path(hea).read_text(encoding="latin-1").splitlines() if ln.strip() and not ln.startswith("#")]
    return {ln.split()[0] for ln in lines[1:] if ln.split() and not ln.split()[0].isdigit()}


def _check_signal_files(header: wfdb.Record, directory: Path, source: str) -> None:
    """Every data file the header names exists and holds at least the samples the header promises."""
    if header.sig_len is None or not header.file_name:
        return
    by_file: dict[str, list[int]] = {}
    for i, fname in enumerate(header.file_name):
        by_file.setdefault(fname, []).append(i)
    for fname, idx in by_file.items():
        if Path(fname).name != fname:
            raise RecordFormatError(
                f"header names data file {fname!r} outside its own directory", source=source, code="bad_header"
            )
        path = directory / fname
        if not path.exists():
            raise MissingInputError(f"header names data file {fname!r}, which is missing", source=source)
        fmts = {header.fmt[i] for i in idx}
        if fmts & _FLAC or not fmts <= set(_BITS):
            if path.stat().st_size == 0:
                raise RecordFormatError(f"data file {fname!r} is empty", source=source, code="truncated_data")
            continue
        spf = header.samps_per_frame or [1] * header.n_sig
        bits_per_frame = sum(_BITS[header.fmt[i]] * spf[i] for i in idx)
        offset = max((header.byte_offset or [0] * header.n_sig)[i] or 0 for i in idx)
        expected = offset + math.ceil(header.sig_len * bits_per_frame / 8)
        actual = path.stat().st_size
        if actual < expected:
            have = int((actual - offset) * 8 // bits_per_frame) if actual > offset else 0
            raise RecordFormatError(
                f"data file {fname!r} is truncated: the header promises {header.sig_len} samples "
                f"({expected} bytes) but the file has {actual} bytes (about {have} samples)",
                source=source,
                code="truncated_data",
            )


def _diagnose(base: Path, source: str) -> None:
    """Find out why wfdb could not read a record and raise the specific error (returns if nothing found)."""
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a malformed header
        raise RecordFormatError(f"malformed WFDB header ({exc})", source=source, code="bad_header") from None
    if header.fs is None or not header.n_sig:
        raise RecordFormatError("WFDB header lacks the sampling rate or declares no signals", source=source,
                                code="bad_header")
    if getattr(header, "seg_name", None):
        for seg in header.seg_name:
            if seg != "~" and not (base.parent / f"{seg}.hea").exists():
                raise MissingInputError(f"multi-segment record names segment {seg!r}, which is missing", source=source)
        return
    if header.sig_name is None or len(header.sig_name) != header.n_sig:
        raise RecordFormatError(
            f"WFDB header declares {header.n_sig} signals but describes "
            f"{0 if header.sig_name is None else len(header.sig_name)}",
            source=source,
            code="bad_header",
        )
    _check_signal_files(header, base.parent, source)


def read_wfdb(path: str | Path) -> Record:
    """Read a WFDB record from its ``.hea`` (or the record's base path).

    Parameters
    ----------
    path : str or Path
        ``…/name.hea``, ``…/name.dat``, ``…/name.mat`` (with the header beside it) or ``…/name``.

    Examples
    --------
    >>> rec = read_wfdb("../shared/data/mitdb/100.hea")  # doctest: +SKIP
    >>> rec.leads
    ('II', 'V5')
    """
    p = Path(path)
    base = p.with_suffix("") if p.suffix.lower() in (".hea", ".dat", ".mat") else p
    source = str(base) + ".hea"
    if not Path(source).exists():
        raise MissingInputError("WFDB header (.hea) not found", source=source)
    multi = _is_multi_segment(Path(source))
    # single-segment records are read as digital samples and scaled here in float32: wfdb's float64
    # physical conversion costs more than the rest of preprocessing
    rec = None if multi else read_digital(base)
    try:
        if rec is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rec = wfdb.rdrecord(str(base), return_res=32, m2s=True, physical=multi)
    except Exception as exc:  # wfdb raises bare ValueError/IndexError/... on malformed input
        # the header is parsed a second time only on this failure path (wfdb's parser is slow)
        _diagnose(base, source)
        raise RecordFormatError(f"cannot decode WFDB signal ({type(exc).__name__}: {exc})", source=source,
                                code="bad_signal_data") from None
    raw = rec.p_signal if multi else rec.d_signal
    if raw is None or raw.size == 0:
        raise RecordFormatError("WFDB record holds no samples", source=source, code="empty_signal")
    sig = np.asarray(raw.T, dtype=np.float32)  # (n_samples, n_leads) -> (n_leads, n_samples)
    if not multi:
        sig = _digital_to_physical(raw, sig, rec)
    units = list(rec.units or ["mV"] * sig.shape[0])
    for i, u in enumerate(units):
        u = u or "mV"  # the WFDB spec's default unit
        try:
            factor = units_to_mv_factor(u)
        except RecordValidationError as err:
            raise RecordValidationError(
                f"lead {rec.sig_name[i]!r} has {err.message}", source=source, code="unknown_units"
            ) from None
        if factor != 1.0:
            sig[i] *= factor
    gains = None if multi else [float(g) if g else DEFAULT_ADC_GAIN for g in rec.adc_gain]
    meta = parse_header_comments(list(rec.comments or []))
    meta["wfdb_fmt"] = list(rec.fmt) if getattr(rec, "fmt", None) else None
    try:
        record = Record(
            sig,
            fs=rec.fs,
            leads=tuple(rec.sig_name),
            record_id=meta.pop("record_id", None) or base.name,
            patient_id=meta.pop("patient_id", None),
            age=meta.pop("age", None),
            sex=meta.pop("sex", None),
            source_format="wfdb",
            units=units[0] if len(set(units)) == 1 else ",".join(units),
            gain=tuple(gains) if gains else None,
            metadata=meta,
        )
    except ECGScopeError as err:
        raise err.with_source(source) from None
    return record


@dataclass(frozen=True)
class RecordExtent:
    """What a long record holds, from its header and file sizes, before any sample is read (any format)."""

    fs: float
    leads: tuple[str, ...]
    header_samples: int  # what the header promises
    readable_samples: int  # what the signal files hold (fewer when a file is truncated)
    record_id: str


def wfdb_extent(path: str | Path) -> RecordExtent:
    """The sampling rate, leads and length of a single-segment WFDB record, and how much of it its signal files
    actually hold (for the uncompressed formats, from their sizes: a truncated file is read up to its damage)."""
    p = Path(path)
    base = p.with_suffix("") if p.suffix.lower() in (".hea", ".dat", ".mat") else p
    source = str(base) + ".hea"
    if not Path(source).exists():
        raise MissingInputError("WFDB header (.hea) not found", source=source)
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a malformed header
        raise RecordFormatError(f"malformed WFDB header ({exc})", source=source, code="bad_header") from None
    if getattr(header, "seg_name", None):
        raise RecordFormatError("a multi-segment record cannot be read in chunks; convert it to one segment",
                                source=source, code="unsupported_layout")
    if not header.fs or not header.n_sig or not header.sig_len or not header.file_name:
        raise RecordFormatError("WFDB header lacks the sampling rate, signals or length", source=source,
                                code="bad_header")
    readable = header.sig_len
    spf = header.samps_per_frame or [1] * header.n_sig
    for fname in set(header.file_name):
        data = base.parent / fname
        if not data.exists():
            raise MissingInputError(f"header names data file {fname!r}, which is missing", source=source)
        idx = [i for i, f in enumerate(header.file_name) if f == fname]
        if any(header.fmt[i] not in _BITS for i in idx):
            continue  # compressed: its length is the header's
        bits = sum(_BITS[header.fmt[i]] * spf[i] for i in idx)
        offset = max((header.byte_offset or [0] * header.n_sig)[i] or 0 for i in idx)
        readable = min(readable, max(0, int((data.stat().st_size - offset) * 8 // bits)))
    return RecordExtent(float(header.fs), tuple(header.sig_name), int(header.sig_len), int(readable), base.name)


def read_wfdb_segment(path: str | Path, start: int, stop: int) -> np.ndarray:
    """Samples ``start:stop`` of a single-segment WFDB record as (n_leads, n) float32 **mV**, NaN where the file
    marks a sample invalid (a gap).  For long records read in chunks (:mod:`ecgscope.holter`); ``stop`` must lie
    within :func:`wfdb_extent`'s ``readable_samples``."""
    p = Path(path)
    base = p.with_suffix("") if p.suffix.lower() in (".hea", ".dat", ".mat") else p
    source = str(base) + ".hea"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = wfdb.rdrecord(str(base), sampfrom=int(start), sampto=int(stop), physical=True, return_res=32)
    except Exception as exc:  # wfdb raises bare ValueError/IndexError/... on malformed input
        raise RecordFormatError(f"cannot decode WFDB samples {start}-{stop} ({type(exc).__name__}: {exc})",
                                source=source, code="bad_signal_data") from None
    sig = np.asarray(rec.p_signal.T, dtype=np.float32)
    for i, u in enumerate(rec.units or ["mV"] * sig.shape[0]):
        factor = units_to_mv_factor(u or "mV")
        if factor != 1.0:
            sig[i] *= factor
    return sig


def write_wfdb(record: Record, path: str | Path) -> Path:
    """Write ``record`` as WFDB (format 16 when it fits, else 32) and return the ``.hea`` path.

    The record's own ADC gain is reused when it has one, so a record read from WFDB writes back
    sample-for-sample identical; otherwise a gain of 1000/mV (1 µV per unit) is used, growing
    to keep float data within the format's integer range.
    """
    p = Path(path)
    base = p.with_suffix("") if p.suffix.lower() == ".hea" else p
    base.parent.mkdir(parents=True, exist_ok=True)
    sig = record.signal.astype(np.float64)
    own = record.gain_per_mv()  # the file is written in mV, whatever units the source used
    gains = np.array(own if own else [1000.0] * record.n_leads, dtype=np.float64)
    digital = np.round(sig * gains[:, None])
    fmt = "16"
    if np.abs(digital).max() > 32767:
        fmt = "32"
        if np.abs(digital).max() > 2**31 - 2:
            raise RecordValidationError("signal range does not fit WFDB format 32 at this gain", code="range")
    comments = []
    if record.record_id:
        comments.append(f"record_id: {record.record_id}")
    if record.patient_id:
        comments.append(f"patient_id: {record.patient_id}")
    if record.age is not None:
        comments.append(f"age: {record.age:g}")
    if record.sex:
        comments.append(f"sex: {record.sex}")
    if record.metadata.get("dx"):
        comments.append("Dx: " + ",".join(record.metadata["dx"]))
    wfdb.wrsamp(
        base.name,
        fs=record.fs,
        units=["mV"] * record.n_leads,
        sig_name=list(record.leads),
        d_signal=digital.T.astype(np.int32 if fmt == "32" else np.int16),
        fmt=[fmt] * record.n_leads,
        adc_gain=gains.tolist(),
        baseline=[0] * record.n_leads,
        comments=comments,
        write_dir=str(base.parent),
    )
    return base.with_suffix(".hea")
