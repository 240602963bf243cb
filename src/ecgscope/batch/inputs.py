"""What a batch job reads: record files found in directory trees, globs and manifests.

* A directory is walked recursively; every file in a format ecgscope reads is a record (a WFDB record by its
  ``.hea``; ``.dat``/``.mat`` beside a header belong to it).  Files of other kinds (``RECORDS``, annotation
  files) are not records and are left out; a directory that holds no record at all is an error, not an empty job.
* A glob (``data/**/*.hea``) is expanded the same way.
* A manifest is a CSV or Parquet table with a ``path`` column (relative paths are relative to the manifest) and
  optionally ``patient_id``.  A file a manifest names that does not exist becomes that record's error row
  (``missing_file``): the manifest promised it, so it is reported, never dropped.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from ecgscope.errors import ECGScopeError, MissingInputError
from ecgscope.io._source import RECORD_FILE_EXTENSIONS

_MANIFEST_EXT = {".parquet", ".pq"}


class BatchInputError(ECGScopeError):
    """The inputs of a batch job cannot be listed (no records, an unreadable manifest)."""

    code = "batch_input"


@dataclass(frozen=True)
class BatchInput:
    """One record to analyse: its file, the patient the manifest names, and an error known before reading."""

    path: str
    patient_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


def _is_record(p: Path) -> bool:
    ext = p.suffix.lower()
    if ext not in RECORD_FILE_EXTENSIONS or p.name.startswith("."):
        return False
    if ext == ".mat" and p.with_suffix(".hea").exists():
        return False  # a Challenge record's signal file, like a .dat: read through its header
    return True


def _walk(directory: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in sorted(files) if _is_record(Path(root) / f)]
    return found


def _read_manifest(path: Path) -> list[BatchInput]:
    import pandas as pd

    try:
        table = pd.read_parquet(path) if path.suffix.lower() in _MANIFEST_EXT else pd.read_csv(path, dtype=str)
    except Exception as exc:  # pandas/pyarrow raise many kinds for a damaged table
        raise BatchInputError(f"cannot read the manifest ({type(exc).__name__}: {exc})", source=str(path)) from None
    cols = {str(c).lower(): c for c in table.columns}
    if "path" not in cols:
        raise BatchInputError(f"a manifest needs a 'path' column; it has {list(table.columns)}", source=str(path))
    out = []
    for _, r in table.iterrows():
        raw = r[cols["path"]]
        if raw is None or (isinstance(raw, float) and raw != raw) or not str(raw).strip():
            continue
        p = Path(str(raw).strip())
        p = p if p.is_absolute() else path.parent / p
        pid = r[cols["patient_id"]] if "patient_id" in cols else None
        pid = None if pid is None or (isinstance(pid, float) and pid != pid) else str(pid)
        if p.is_file() or p.with_name(p.name + ".hea").is_file():
            p = p if p.is_file() else p.with_name(p.name + ".hea")
            out.append(BatchInput(str(p.resolve()), pid))
        else:
            out.append(BatchInput(str(p.absolute()), pid, "missing_file",
                                  f"{p.absolute()}: named in the manifest {path.name}, but there is no such file"))
    return out


def is_manifest(path: Path) -> bool:
    """A Parquet table, or a CSV whose header has a ``path`` column (an ECG CSV's header names leads)."""
    ext = path.suffix.lower()
    if ext in _MANIFEST_EXT:
        return True
    if ext != ".csv":
        return False
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    return "path" in [c.strip().strip('"').lower() for c in header.split(",")]


def collect_inputs(inputs: list[str | os.PathLike]) -> list[BatchInput]:
    """Every record the inputs name, each once, in a stable order (module docstring).

    Raises
    ------
    BatchInputError
        No input names any record, or a manifest cannot be read.
    MissingInputError
        An input path that is neither a file, a directory nor a glob that matches something.
    """
    seen: dict[str, BatchInput] = {}
    for item in inputs:
        text = str(item)
        p = Path(text)
        if p.is_dir():
            found = _walk(p)
            if not found:
                raise BatchInputError("the directory holds no ECG record in a format ecgscope reads", source=text)
            items = [BatchInput(str(f.resolve())) for f in found]
        elif p.is_file():
            items = _read_manifest(p) if is_manifest(p) else [BatchInput(str(p.resolve()))]
        elif any(ch in text for ch in "*?["):
            matched = [Path(m) for m in sorted(glob.glob(text, recursive=True))]
            items = [BatchInput(str(m.resolve())) for m in matched if m.is_file() and _is_record(m)]
            if not items:
                raise BatchInputError("the pattern matches no ECG record", source=text)
        elif p.with_name(p.name + ".hea").is_file():  # a WFDB base name
            items = [BatchInput(str(p.with_name(p.name + ".hea").resolve()))]
        else:
            raise MissingInputError("no such file, directory or matching pattern", source=text)
        for it in items:
            if it.path not in seen or (seen[it.path].patient_id is None and it.patient_id is not None):
                seen[it.path] = it  # a record named twice is one record; the manifest's patient id wins
    if not seen:
        raise BatchInputError("the inputs name no records", source=", ".join(map(str, inputs)))
    return list(seen.values())
