"""Where a long recording's samples come from, a range at a time: a WFDB record or an EDF/BDF file on disk (read
chunk by chunk, never whole), or a :class:`~ecgscope.record.Record` already in memory (an upload of any format).

:func:`open_long_record` is the one way the Holter analysis and its PDF read samples.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgscope.errors import UnsupportedFormatError
from ecgscope.io.edf_format import edf_extent, read_edf_segment
from ecgscope.io.wfdb_format import RecordExtent, read_wfdb_segment, wfdb_extent
from ecgscope.record import Record

_EDF_SUFFIXES = (".edf", ".bdf", ".rec")
_WFDB_SUFFIXES = ("", ".hea", ".dat", ".mat")


@dataclass(frozen=True)
class LongRecord:
    """A long recording's extent and a reader of samples ``start:stop`` as (n_leads, n) float32 mV (NaN: gap)."""

    extent: RecordExtent
    read: Callable[[int, int], np.ndarray]
    name: str


def open_long_record(source: str | os.PathLike | Record) -> LongRecord:
    """The chunked reader of ``source`` (module docstring).

    Raises
    ------
    UnsupportedFormatError
        For a file that is neither WFDB nor EDF/BDF (load it, and pass the Record).
    """
    if isinstance(source, Record):
        rec = source
        extent = RecordExtent(float(rec.fs), tuple(rec.leads), rec.n_samples, rec.n_samples, rec.record_id or "record")
        return LongRecord(extent, lambda a, b: np.asarray(rec.signal[:, a:b], dtype=np.float32), extent.record_id)
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in _EDF_SUFFIXES:
        return LongRecord(edf_extent(path), lambda a, b: read_edf_segment(path, a, b), path.name)
    if suffix in _WFDB_SUFFIXES or Path(str(path) + ".hea").exists():
        return LongRecord(wfdb_extent(path), lambda a, b: read_wfdb_segment(path, a, b), path.name)
    raise UnsupportedFormatError(f"long recordings are read in chunks from WFDB records (.hea + .dat) and EDF/BDF "
                                 f"files; convert this {suffix} file first (ecgscope convert FILE --to wfdb), or "
                                 "load it and pass the Record", source=str(path))
