"""Read any ECG into a :class:`~ecgscope.record.Record`; write records back out.

``load_record`` is the one entry point.  It accepts

* a path (``.hea``/``.dat``/``.mat`` WFDB or Challenge record, a WFDB base name, ``.csv``, ``.json``,
  ``.edf``, ``.mat``, ``.npy``, ``.npz``, an HL7 aECG, GE MUSE or Philips ``.xml``, a DICOM ECG ``.dcm``, an SCP-ECG
  ``.scp``, or a ``.zip`` holding
  one record),
* raw ``bytes`` of a single-file format (with ``name=`` as a hint), or
* a mapping ``{file name: bytes}`` for multi-file records such as a WFDB ``.hea`` + ``.dat`` upload.

The format is detected from content and extension; ``format=`` forces it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ecgscope.errors import (
    ECGScopeError,
    FileTooLargeError,
    MissingInputError,
    RecordFormatError,
    UnsupportedFormatError,
)
from ecgscope.io._source import (
    FORMATS,
    check_size,
    detect_format,
    is_npz,
    max_bytes_default,
    resolve_path,
    safe_name,
    sniff_bytes,
    staged_files,
    unsupported_xml,
    unzip_members,
)
from ecgscope.io._units import UnitsInferredWarning
from ecgscope.io.aecg_format import read_aecg, write_aecg
from ecgscope.io.array_format import read_array_file
from ecgscope.io.csv_format import read_csv, write_csv
from ecgscope.io.dicom_format import read_dicom, write_dicom
from ecgscope.io.edf_format import read_edf, write_edf
from ecgscope.io.json_format import read_json, record_to_json_dict, write_json
from ecgscope.io.muse_format import read_muse
from ecgscope.io.philips_format import read_philips
from ecgscope.io.scp_format import read_scp
from ecgscope.io.wfdb_format import read_wfdb, wfdb_signal_files, write_wfdb
from ecgscope.record import Record

__all__ = [
    "FORMATS",
    "WRITE_FORMATS",
    "UnitsInferredWarning",
    "load_record",
    "save_record",
    "read_wfdb",
    "read_csv",
    "read_json",
    "read_edf",
    "read_array_file",
    "read_aecg",
    "write_aecg",
    "read_dicom",
    "write_dicom",
    "read_muse",
    "read_philips",
    "read_scp",
    "write_wfdb",
    "write_csv",
    "write_json",
    "write_edf",
    "record_to_json_dict",
]

WRITE_FORMATS = {"wfdb": (write_wfdb, ".hea"), "csv": (write_csv, ".csv"), "json": (write_json, ".json"),
                 "edf": (write_edf, ".edf"), "aecg": (write_aecg, ".xml"), "dicom": (write_dicom, ".dcm")}


def _check_format_name(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    key = fmt.lower().lstrip(".")
    aliases = {"hea": "wfdb", "physionet": "wfdb", "challenge": "wfdb", "bdf": "edf", "txt": "csv", "tsv": "csv",
               "xml": "aecg", "hl7": "aecg", "dcm": "dicom", "scpecg": "scp"}
    key = aliases.get(key, key)
    if key not in FORMATS:
        raise UnsupportedFormatError(f"unknown format {fmt!r}; supported: {', '.join(FORMATS)}")
    return key


def _read_path(path: Path, fmt: str, fs: float | None, units: str | None, leads, max_bytes: int) -> Record:
    if fmt == "wfdb":
        hea = path.with_suffix(".hea") if path.suffix.lower() in (".hea", ".dat", ".mat") else path
        # every signal file the header names counts towards the size limit
        for name in wfdb_signal_files(hea):
            data = hea.parent / name
            if data.is_file() and data.stat().st_size > max_bytes:
                check_size(data, max_bytes)
        return read_wfdb(hea)
    if fmt == "zip":
        return _read_members(unzip_members(path.read_bytes(), max_bytes, str(path)), fs, units, leads, max_bytes,
                             str(path))
    if fmt == "csv":
        return read_csv(path, fs=fs, units=units)
    if fmt == "json":
        return read_json(path, fs=fs, units=units)
    if fmt == "edf":
        return read_edf(path)
    if fmt == "aecg":
        return read_aecg(path)
    if fmt == "dicom":
        return read_dicom(path)
    if fmt == "muse":
        return read_muse(path)
    if fmt == "philips":
        return read_philips(path)
    if fmt == "scp":
        return read_scp(path)
    return read_array_file(path, fmt, fs=fs, units=units, leads=leads)


def _read_members(files: Mapping[str, bytes], fs, units, leads, max_bytes: int, source: str) -> Record:
    """A record given as several named files (an upload or the content of a zip)."""
    names = {safe_name(n): n for n in files}
    headers = [n for n in names if n.lower().endswith(".hea")]
    if len(headers) > 1:
        # multi-segment records: one master header names the segments; pick the header no one else names
        texts = {h: files[names[h]].decode("latin-1", "replace") for h in headers}
        named = {h for h in headers for other, t in texts.items() if other != h and Path(h).stem in t.split()}
        masters = [h for h in headers if h not in named]
        if len(masters) != 1:
            raise RecordFormatError(
                f"upload holds {len(headers)} WFDB headers ({sorted(headers)}); send one record at a time",
                source=source,
                code="multiple_records",
            )
        headers = masters
    if headers:
        with staged_files(files) as d:
            try:
                return read_wfdb(d / headers[0]).replace(record_id=Path(headers[0]).stem)
            except MissingInputError as err:
                # a file the header names is not in the upload: the upload is malformed (422), not a 404, and
                # the message names the upload, never the private staging path
                msg = err.message.replace(str(d) + "/", "")
                raise RecordFormatError(f"{msg} (not in the upload)", source=source,
                                        code="missing_data_file") from None
            except ECGScopeError as err:
                err.message = err.message.replace(str(d) + "/", "")
                err.source = source
                raise
    if len(files) != 1:
        raise RecordFormatError(
            f"upload holds {len(files)} files ({sorted(names)}) and no WFDB header; send one record",
            source=source,
            code="multiple_records",
        )
    (name, data), = files.items()
    if name.lower().endswith((".dat", ".mat")) and sniff_bytes(data[:4096]) != "mat":
        raise RecordFormatError(f"{safe_name(name)} needs its .hea header in the same upload", source=source,
                                code="missing_header")
    return load_record(data, fs=fs, units=units, leads=leads, max_bytes=max_bytes, name=name)


def load_record(
    source: str | os.PathLike | bytes | Mapping[str, bytes],
    format: str | None = None,  # noqa: A002 - the natural name for users
    fs: float | None = None,
    *,
    units: str | None = None,
    leads: list[str] | tuple[str, ...] | None = None,
    max_bytes: int | None = None,
    name: str | None = None,
) -> Record:
    """Read one ECG record from a file, bytes or an upload.

    Parameters
    ----------
    source : path, bytes or mapping of file name to bytes
    format : str, optional
        Force a format (``wfdb``, ``mat``, ``csv``, ``json``, ``edf``, ``npy``, ``npz``, ``zip``, ``aecg``, ``dicom``, ``muse``, ``philips``, ``scp``);
        detected from content and extension by default.
    fs : float, optional
        Sampling rate, needed by formats that do not carry one (``npy``, bare ``.mat``, CSV without
        time column) and overriding the file's otherwise.
    units : str, optional
        Units of the file's samples (``mV``, ``uV``, ``V``) where the format does not state them.
    leads : list of str, optional
        Lead names for header-less arrays.
    max_bytes : int, optional
        Refuse larger inputs before reading them (default 512 MiB, env ``ECGSCOPE_MAX_FILE_BYTES``).
    name : str, optional
        The original file name of ``bytes`` input, used only as a format hint and in messages.

    Returns
    -------
    Record

    Raises
    ------
    ecgscope.errors.ECGScopeError
        A subclass naming the file and the problem, for every malformed input.

    Examples
    --------
    >>> from ecgscope.io import load_record
    >>> rec = load_record("../shared/data/ptbxl/records500/00000/00002_hr")  # doctest: +SKIP
    >>> rec.fs, rec.leads[:3], rec.duration_s  # doctest: +SKIP
    (500.0, ('I', 'II', 'III'), 10.0)
    """
    fmt = _check_format_name(format)
    limit = max_bytes if max_bytes is not None else max_bytes_default()
    if isinstance(source, Mapping):
        total = sum(len(v) for v in source.values())
        label = name or ", ".join(sorted(safe_name(n) for n in source))
        if total > limit:
            raise FileTooLargeError(f"upload is {total / 1024**2:.1f} MiB; the limit is {limit / 1024**2:.0f} MiB",
                                    source=label)
        if not source:
            raise RecordFormatError("upload holds no files", source=label, code="empty_file")
        return _read_members(source, fs, units, leads, limit, label)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = name or "<bytes>"
        if len(data) > limit:
            raise FileTooLargeError(f"input is {len(data) / 1024**2:.1f} MiB; the limit is {limit / 1024**2:.0f} MiB",
                                    source=label)
        if not data:
            raise RecordFormatError("input is empty (0 bytes)", source=label, code="empty_file")
        if fmt is None:
            ext = Path(name).suffix.lower() if name else ""
            sniffed = sniff_bytes(data[:4096])
            if sniffed == "zip" and is_npz(data):
                sniffed = "npz"
            fmt = sniffed
            if ext == ".mat" and sniffed in (None, "csv"):
                fmt = "mat"
            if ext == ".scp":
                fmt = "scp"  # an SCP-ECG 1.x file may lack the "SCPECG" mark; its reader checks the rest
            if ext == ".dcm" and sniffed != "dicom":
                raise RecordFormatError("name ends in .dcm but the content is not DICOM (no DICM preamble)",
                                        source=label, code="content_mismatch")
            if sniffed == "xml":
                raise unsupported_xml(data[:4096], label)
            if ext in (".hea",) or sniffed == "wfdb":
                raise RecordFormatError("a WFDB header alone has no samples; send the .hea with its data file(s)",
                                        source=label, code="missing_data_file")
            if fmt is None:
                raise UnsupportedFormatError(
                    f"cannot tell the format of the input from its content; supported: {', '.join(FORMATS)}",
                    source=label,
                )
        if fmt == "zip":
            return _read_members(unzip_members(data, limit, label), fs, units, leads, limit, label)
        if fmt == "csv":
            return read_csv(data, fs=fs, units=units, source=label)
        if fmt == "json":
            return read_json(data, fs=fs, units=units, source=label)
        if fmt == "edf":
            return read_edf(data, source=label)
        if fmt == "aecg":
            return read_aecg(data, source=label)
        if fmt == "dicom":
            return read_dicom(data, source=label)
        if fmt == "muse":
            return read_muse(data, source=label)
        if fmt == "philips":
            return read_philips(data, source=label)
        if fmt == "scp":
            return read_scp(data, source=label)
        if fmt in ("mat", "npy", "npz"):
            return read_array_file(data, fmt, fs=fs, units=units, leads=leads, source=label)
        raise RecordFormatError("WFDB input needs its files by name: pass {name: bytes} or a zip", source=label,
                                code="missing_data_file")
    path = resolve_path(source)
    try:
        check_size(path, limit)  # by size on disk, before reading a byte
        detected = fmt or detect_format(path)
        return _read_path(path, detected, fs, units, leads, limit)
    except ECGScopeError as err:
        raise err.with_source(str(path)) from None
    except (OSError, MemoryError) as exc:
        raise RecordFormatError(f"cannot read file ({type(exc).__name__}: {exc})", source=str(path),
                                code="read_failed") from None


def save_record(record: Record, path: str | os.PathLike, format: str | None = None) -> Path:  # noqa: A002
    """Write ``record`` as WFDB, CSV, JSON, EDF, HL7 aECG or DICOM (from ``format`` or the path's extension).

    Returns the path written (the ``.hea`` for WFDB).
    """
    p = Path(path)
    fmt = _check_format_name(format) if format else None
    if fmt is None:
        ext = p.suffix.lower()
        fmt = {".hea": "wfdb", ".csv": "csv", ".json": "json", ".edf": "edf", ".xml": "aecg", ".dcm": "dicom", "": "wfdb"}.get(ext)
        if fmt is None:
            raise UnsupportedFormatError(f"cannot write {ext!r}; writable formats: {', '.join(WRITE_FORMATS)}",
                                         source=str(p))
    if fmt not in WRITE_FORMATS:
        raise UnsupportedFormatError(f"cannot write {fmt}; writable formats: {', '.join(WRITE_FORMATS)}",
                                     source=str(p))
    writer, _ = WRITE_FORMATS[fmt]
    return writer(record, p)
