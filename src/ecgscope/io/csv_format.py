"""CSV: a header row of lead names, one row per sample, an optional time column.

What a file must say, and what we infer:

* **Leads** come from the header row (``I,II,V1`` or ``I (mV),II (mV)``).  A first row of numbers
  is refused: we do not invent lead names.
* **Sampling rate**: the ``fs`` argument, else a ``# fs=500`` comment, else the time column
  (uniform steps required).  Without any of these the file is refused.
* **Units**: the ``units`` argument, else units in the header (``I (uV)``), else a ``# units=mV``
  comment, else inferred from the amplitude with a :class:`UnitsInferredWarning`.

The writer emits a ``# ecgscope-csv 1; fs=…; units=mV; …`` comment, a ``time_s`` column and
9 significant digits, so a written record reads back bit-identical.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ecgscope.errors import ECGScopeError, RecordFormatError
from ecgscope.io._source import source_bytes
from ecgscope.io._units import infer_units
from ecgscope.record import Record, units_to_mv_factor

_TIME_COLUMNS = {"time": 1.0, "t": 1.0, "time_s": 1.0, "seconds": 1.0, "sec": 1.0, "s": 1.0,
                 "time_ms": 1e-3, "ms": 1e-3, "timestamp": 1.0}
_INDEX_COLUMNS = {"sample", "samples", "index", "idx", "n", "sample_index", ""}
_HEADER_UNITS = re.compile(r"^(.*?)\s*[\(\[]\s*([A-Za-zµμ]+)\s*[\)\]]\s*$")
_META = re.compile(r"([A-Za-z_]+)\s*[=:]\s*([^;,]+)")


def _parse_meta(comment_lines: list[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for line in comment_lines:
        for key, val in _META.findall(line.lstrip("#")):
            meta[key.strip().lower()] = val.strip()
    return meta


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_csv(
    data: str | Path | bytes,
    fs: float | None = None,
    units: str | None = None,
    *,
    source: str | None = None,
) -> Record:
    """Read an ECG from CSV text.

    Parameters
    ----------
    data : path or bytes
    fs : float, optional
        Overrides any rate stated in the file; must agree with a time column if there is one.
    units : str, optional
        ``mV``, ``uV`` or ``V``; overrides the file.

    Examples
    --------
    >>> rec = read_csv(b"# fs=250\\nI,II\\n" + b"0.1,0.2\\n" * 600 + b"0.5,0.9\\n")  # doctest: +SKIP
    """
    raw, source = source_bytes(data, source, "<csv>")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RecordFormatError("CSV is not UTF-8 text", source=source, code="bad_encoding") from None
    lines = text.splitlines()
    comments = [ln for ln in lines if ln.lstrip().startswith("#")]
    body = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        raise RecordFormatError("CSV is empty: no header and no data rows", source=source, code="empty_csv")
    header_lineno, header = body[0]
    delim = max((",", ";", "\t"), key=header.count)
    if header.count(delim) == 0 and len(header.split()) > 1:
        delim = None  # whitespace separated
    names = [h.strip().strip('"').strip("'") for h in (header.split(delim) if delim else header.split())]
    if all(_is_number(n) for n in names if n):
        raise RecordFormatError(
            "CSV needs a header row of lead names; the first row is numbers", source=source, code="no_header"
        )
    rows = body[1:]
    if not rows:
        raise RecordFormatError("CSV has a header but no data rows", source=source, code="empty_csv")
    n_cols = len(names)
    for lineno, ln in rows:
        n = (ln.count(delim) + 1) if delim else len(ln.split())
        if n != n_cols:
            raise RecordFormatError(
                f"ragged rows: line {lineno} has {n} fields but the header (line {header_lineno}) has {n_cols}",
                source=source,
                code="ragged_rows",
            )
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(ln for _, ln in rows)),
            header=None,
            sep=delim if delim else r"\s+",
            engine="c" if delim else "python",
            dtype=str,
            keep_default_na=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise RecordFormatError(f"cannot parse CSV rows ({exc})", source=source, code="bad_csv") from None
    values = np.empty(frame.shape, dtype=np.float64)
    for j in range(frame.shape[1]):
        col = pd.to_numeric(frame.iloc[:, j].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(col) & ~frame.iloc[:, j].str.strip().str.lower().isin(["nan"]).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            cell = frame.iat[i, j]
            what = "an empty value" if not str(cell).strip() else f"non-numeric value {cell!r}"
            raise RecordFormatError(
                f"{what} at line {rows[i][0]}, column {names[j]!r}", source=source, code="non_numeric"
            )
        values[:, j] = col

    meta = _parse_meta(comments)
    time_col: int | None = None
    time_scale = 1.0
    lead_idx: list[int] = []
    lead_names: list[str] = []
    header_units: set[str] = set()
    for j, name in enumerate(names):
        m = _HEADER_UNITS.match(name)
        base, unit = (m.group(1), m.group(2)) if m else (name, None)
        key = base.strip().lower()
        if key in _TIME_COLUMNS and time_col is None:
            time_col, time_scale = j, _TIME_COLUMNS[key] * (1e-3 if (unit or "").lower() == "ms" else 1.0)
            continue
        if key in _INDEX_COLUMNS and j == 0:
            continue
        lead_idx.append(j)
        lead_names.append(base.strip())
        if unit:
            header_units.add(unit)
    if not lead_idx:
        raise RecordFormatError("CSV has no lead columns", source=source, code="no_leads")

    fs_file = float(meta["fs"]) if "fs" in meta and _is_number(meta["fs"]) else None
    fs_time = None
    if time_col is not None:
        t = values[:, time_col] * time_scale
        steps = np.diff(t)
        if steps.size and (steps <= 0).any():
            raise RecordFormatError("time column is not increasing", source=source, code="bad_time_column")
        if steps.size:
            step = float(np.median(steps))
            if np.max(np.abs(steps - step)) > 0.01 * step + 1e-9:
                raise RecordFormatError(
                    "time column is not uniformly sampled (steps vary by more than 1 %)",
                    source=source,
                    code="bad_time_column",
                )
            # the whole span, not one step: float time stamps accumulate rounding error sample by sample;
            # a rate within 1 ppm of a multiple of 0.001 Hz is that value (250 Hz, not 249.99999999999977)
            fs_time = (t.size - 1) / float(t[-1] - t[0])
            snapped = round(fs_time, 3)
            if abs(fs_time - snapped) <= 1e-6 * fs_time:
                fs_time = snapped
    rate = fs if fs is not None else fs_file if fs_file is not None else fs_time
    if rate is None:
        raise RecordFormatError(
            "sampling rate unknown: the CSV has no time column and no '# fs=' comment; pass fs",
            source=source,
            code="missing_fs",
        )
    if fs_time is not None and abs(fs_time - rate) > 0.01 * rate:
        raise RecordFormatError(
            f"stated fs={rate:g} Hz disagrees with the time column ({fs_time:.4g} Hz)",
            source=source,
            code="fs_mismatch",
        )
    if len(header_units) > 1:
        raise RecordFormatError(
            f"columns state different units {sorted(header_units)}; use one unit for all leads",
            source=source,
            code="mixed_units",
        )
    signal = values[:, lead_idx].T
    warnings_list: list[str] = []
    unit = units or (header_units.pop() if header_units else None) or meta.get("units")
    if unit is None:
        unit = infer_units(signal, source)
        warnings_list.append(f"units not stated; inferred {unit} from the amplitude")
    try:
        record = Record(
            signal * units_to_mv_factor(unit),
            fs=rate,
            leads=tuple(lead_names),
            record_id=meta.get("record_id") or (Path(source).stem if source and not source.startswith("<") else None),
            patient_id=meta.get("patient_id"),
            age=float(meta["age"]) if _is_number(meta.get("age", "x")) else None,
            sex=meta.get("sex"),
            source_format="csv",
            units=unit,
            metadata={"warnings": warnings_list} if warnings_list else {},
        )
    except ECGScopeError as err:
        raise err.with_source(source) from None
    return record


def write_csv(record: Record, path: str | Path) -> Path:
    """Write ``record`` as CSV (mV, with a ``time_s`` column and an ``fs`` comment)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    meta = [f"fs={record.fs!r}", "units=mV"]
    for key in ("record_id", "patient_id", "sex"):
        val = getattr(record, key)
        if val is not None:
            meta.append(f"{key}={str(val).replace(';', '_').replace(',', '_')}")
    if record.age is not None:
        meta.append(f"age={record.age:g}")
    t = np.arange(record.n_samples) / record.fs
    table = np.column_stack([t, record.signal.T.astype(np.float64)])
    with open(p, "w", newline="\n") as fh:
        fh.write("# ecgscope-csv 1; " + "; ".join(meta) + "\n")
        fh.write(",".join(["time_s", *record.leads]) + "\n")
        np.savetxt(fh, table, delimiter=",", fmt=["%.6f"] + ["%.9g"] * record.n_leads)
    return p
