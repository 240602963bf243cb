"""Array containers without a header: MATLAB ``.mat`` (v4, v5, v7.3) and NumPy ``.npy``/``.npz``.

These carry no sampling rate of their own (except an ``fs`` entry in a ``.npz``/``.mat``), so
``fs`` must be given.  Units default to mV; the record's amplitude check refuses values that are
clearly not millivolts (raw ADC units from a Challenge ``.mat`` read without its ``.hea``).
A PhysioNet/Challenge ``.mat`` with a ``.hea`` beside it is read as WFDB instead.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.io

from ecgscope.errors import ECGScopeError, RecordFormatError
from ecgscope.io._source import source_bytes
from ecgscope.leads import STANDARD_LEADS
from ecgscope.record import Record, units_to_mv_factor

_SIGNAL_KEYS = ("signal", "val", "ecg", "ECG", "data", "sig", "x")


def _orient(arr: np.ndarray, source: str) -> np.ndarray:
    """(n_leads, n_samples) from a 1-D or 2-D array; leads are the short axis (at most 16)."""
    if arr.ndim == 1:
        return arr[None, :]
    if arr.ndim != 2:
        raise RecordFormatError(f"signal array must be 1-D or 2-D; got shape {arr.shape}", source=source,
                                code="bad_shape")
    if arr.shape[0] > arr.shape[1]:
        arr = arr.T
    if arr.shape[0] > 16:
        raise RecordFormatError(f"cannot tell leads from samples in an array of shape {arr.shape}",
                                source=source, code="bad_shape")
    return arr


def _scalar(value: object) -> object:
    arr = np.asarray(value)
    if arr.dtype.kind in "US":
        return str(arr.ravel()[0]) if arr.size else None
    return arr.ravel()[0].item() if arr.size == 1 else None


def _pick_signal(entries: dict[str, np.ndarray], source: str) -> tuple[str, np.ndarray]:
    numeric = {k: v for k, v in entries.items() if isinstance(v, np.ndarray) and v.dtype.kind in "iuf" and v.size > 1}
    for key in _SIGNAL_KEYS:
        if key in numeric:
            return key, numeric[key]
    candidates = {k: v for k, v in numeric.items() if v.ndim in (1, 2)}
    if len(candidates) == 1:
        return next(iter(candidates.items()))
    raise RecordFormatError(
        f"cannot find the signal array: expected one of {list(_SIGNAL_KEYS)}, found {sorted(entries)}",
        source=source,
        code="no_signal_array",
    )


def _load_mat(raw: bytes, source: str) -> dict[str, np.ndarray]:
    if raw[:8] == b"\x89HDF\r\n\x1a\n" or b"MATLAB 7.3" in raw[:128]:
        import h5py

        with h5py.File(io.BytesIO(raw), "r") as f:
            return {k: np.asarray(f[k]).T for k in f if isinstance(f[k], h5py.Dataset)}
    try:
        mat = scipy.io.loadmat(io.BytesIO(raw))
    except NotImplementedError:  # v7.3 without the HDF5 magic at byte 0 (it sits at 512)
        import h5py

        with h5py.File(io.BytesIO(raw), "r") as f:
            return {k: np.asarray(f[k]).T for k in f if isinstance(f[k], h5py.Dataset)}
    except Exception as exc:  # scipy raises ValueError/TypeError/MatReadError on damaged files
        raise RecordFormatError(f"not a readable MATLAB file ({exc})", source=source, code="bad_mat") from None
    return {k: v for k, v in mat.items() if not k.startswith("__")}


def read_array_file(
    data: str | Path | bytes,
    kind: str,
    fs: float | None = None,
    units: str | None = None,
    leads: list[str] | tuple[str, ...] | None = None,
    *,
    source: str | None = None,
) -> Record:
    """Read a ``.mat``, ``.npy`` or ``.npz`` array as a record (``kind`` in ``mat``/``npy``/``npz``)."""
    raw, source = source_bytes(data, source, f"<{kind}>")
    if kind == "npy":
        try:
            entries = {"signal": np.load(io.BytesIO(raw), allow_pickle=False)}
        except ValueError as exc:
            raise RecordFormatError(f"not a readable .npy array ({exc})", source=source, code="bad_npy") from None
    elif kind == "npz":
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                entries = {k: z[k] for k in z.files}
        except (ValueError, OSError) as exc:
            raise RecordFormatError(f"not a readable .npz archive ({exc})", source=source, code="bad_npz") from None
    elif kind == "mat":
        entries = _load_mat(raw, source)
    else:
        raise ValueError(f"unknown array kind {kind!r}")
    key, arr = _pick_signal(entries, source)
    signal = _orient(np.asarray(arr, dtype=np.float64), source)
    file_fs = _scalar(entries["fs"]) if "fs" in entries else None
    rate = fs if fs is not None else file_fs
    if rate is None:
        raise RecordFormatError(
            f"a {kind} file does not state its sampling rate; pass fs", source=source, code="missing_fs"
        )
    if leads is None and "leads" in entries:
        leads = [str(x).strip() for x in np.asarray(entries["leads"]).ravel()]
    if leads is None:
        if signal.shape[0] == 1:
            leads = ("I",)
        elif signal.shape[0] == 12:
            leads = STANDARD_LEADS
        else:
            raise RecordFormatError(
                f"a {signal.shape[0]}-lead {kind} file needs lead names (a 'leads' entry or the leads argument)",
                source=source,
                code="missing_leads",
            )
    unit = units or (_scalar(entries["units"]) if "units" in entries else None) or "mV"
    try:
        return Record(
            signal * units_to_mv_factor(str(unit)),
            fs=float(rate),
            leads=tuple(leads),
            record_id=Path(source).stem if not source.startswith("<") else None,
            source_format=kind,
            units=str(unit),
            metadata={"array_key": key},
        )
    except ECGScopeError as err:
        raise err.with_source(source) from None
