"""What runs in every batch worker process, whichever engine started it: read, hash, analyse, make rows.

A worker loads each model it needs once (``Analyzer`` per model name, kept for the worker's life) and analyses
a chunk of records with one batched inference call per model.  Nothing a record does stops the chunk: a file
that cannot be read or analysed becomes an error row with the message a user would see from
``ecgscope analyze``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecgscope.batch.inputs import BatchInput
from ecgscope.batch.schema import row_from_result
from ecgscope.batch.store import Committed
from ecgscope.errors import ECGScopeError

SKIPPED = "_skipped"  # a row marker: the record's content already has a committed row


@dataclass(frozen=True)
class BatchOptions:
    """How each record is analysed: the same choices as ``ecgscope analyze``."""

    model: str = "auto"
    backend: str = "torch"
    fast: bool = False
    allow_single_lead: bool = False
    fs: float | None = None
    full_json: bool = False
    threads: int = 1  # intra-op threads per worker: one worker per core by default


def record_files(path: str | os.PathLike) -> list[Path]:
    """The files that make up a record: a WFDB header and the signal files it names that exist, or the file."""
    p = Path(path)
    if p.suffix.lower() != ".hea":
        return [p]
    from ecgscope.io.wfdb_format import wfdb_signal_files

    try:
        names = sorted(wfdb_signal_files(p))
    except OSError:
        return [p]
    return [p] + [p.parent / n for n in names if (p.parent / n).is_file()]


def file_state(files: list[Path]) -> tuple[int, int]:
    """(total bytes, newest modification time in ns) of a record's files (:func:`record_files`): what resuming
    compares."""
    stats = [f.stat() for f in files]
    return sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats)


def _sha256(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


class BatchWorker:
    """One worker's state: its options and the analyzers it has loaded."""

    def __init__(self, options: BatchOptions, engine: str):
        self.options, self.engine = options, engine
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._analyzers: dict[str, Any] = {}
        # one worker per core: every thread pool in the process (torch, BLAS, OpenMP) gets options.threads
        from threadpoolctl import threadpool_limits

        self._limits = threadpool_limits(options.threads)
        try:
            import torch

            torch.set_num_threads(options.threads)
        except ImportError:  # the rhythm-statistics models need no torch
            pass

    def _analyzer(self, name: str):
        if name not in self._analyzers:
            from ecgscope.inference import Analyzer

            o = self.options
            self._analyzers[name] = Analyzer.from_pretrained(
                name, backend=o.backend, threads=o.threads, allow_single_lead=o.allow_single_lead,
                substitute_lead=o.model == "auto", combine_evidence=not o.fast)
        return self._analyzers[name]

    def _base(self, item: BatchInput) -> dict[str, Any]:
        return {"path": item.path, "patient_id": item.patient_id, "worker": self.name, "engine": self.engine,
                "analysed_at": datetime.now(UTC)}

    def _error(self, row: dict[str, Any], code: str, message: str) -> dict[str, Any]:
        return {**row, "error_code": code, "error_message": message}

    def analyze(self, items: list[tuple[BatchInput, Committed | None]]) -> list[dict[str, Any]]:
        """One row per item (or a :data:`SKIPPED` marker for content that already has a committed row)."""
        from ecgscope.inference import choose_model
        from ecgscope.io import load_record

        rows: list[dict[str, Any] | None] = [None] * len(items)
        by_model: dict[str, list[tuple[int, Any]]] = {}
        for k, (item, committed) in enumerate(items):
            row = self._base(item)
            if item.error_code:
                rows[k] = self._error(row, item.error_code, item.error_message or item.error_code)
                continue
            t0 = time.perf_counter()
            try:
                files = record_files(item.path)
                row["file_size"], row["file_mtime_ns"] = file_state(files)
                row["sha256"] = _sha256(files)
            except OSError as exc:
                rows[k] = self._error(row, "read_failed", f"{item.path}: cannot read ({exc.strerror or exc})")
                continue
            if committed is not None and committed.sha256 == row["sha256"]:
                rows[k] = {SKIPPED: True, "path": item.path}
                continue
            try:
                rec = load_record(item.path, fs=self.options.fs)
                name = choose_model(rec) if self.options.model == "auto" else self.options.model
            except ECGScopeError as err:
                rows[k] = self._error(row, err.code, str(err))
                continue
            except Exception as exc:  # a reader's bug must not stop the job: the row says what happened
                rows[k] = self._error(row, "internal_error", f"{item.path}: {type(exc).__name__}: {exc}")
                continue
            row.update(record_id=rec.record_id, source_format=rec.source_format,
                       read_ms=(time.perf_counter() - t0) * 1000.0)
            if row["patient_id"] is None and rec.patient_id:
                row["patient_id"] = str(rec.patient_id)
            rows[k] = row
            by_model.setdefault(name, []).append((k, rec))
        for name, group in by_model.items():
            for k, result in zip([k for k, _ in group], self._results(name, [rec for _, rec in group]), strict=True):
                row = rows[k]
                if isinstance(result, ECGScopeError):
                    rows[k] = self._error(row, result.code, str(result.with_source(row["path"])))
                    continue
                result["input"]["source"] = Path(row["path"]).name
                row.update(row_from_result(result))
                if self.options.full_json:
                    row["_json"] = json.dumps(result)
        return rows  # type: ignore[return-value]

    def _results(self, name: str, records: list) -> list:
        """Results (dicts) for one model's records, batched; one record's failure fails only that record."""
        try:
            analyzer = self._analyzer(name)
            return [r.to_dict() for r in analyzer.analyze_many(records)]
        except ECGScopeError as err:
            if len(records) == 1:
                return [err]
        except Exception as exc:
            if len(records) == 1:
                return [ECGScopeError(f"{type(exc).__name__}: {exc}", code="internal_error")]
        out: list = []
        for rec in records:  # isolate the record that failed the batch
            out += self._results(name, [rec])
        return out
