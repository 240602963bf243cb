"""The driver of a batch job: plan what is left, run it on an engine, commit rows in shards, summarise."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgscope.batch.engines import make_engine
from ecgscope.batch.inputs import BatchInput, collect_inputs
from ecgscope.batch.store import Committed, ShardStore
from ecgscope.batch.worker import SKIPPED, BatchOptions, file_state, record_files


@dataclass
class BatchSummary:
    """What a job did: ``analysed`` rows written (errors included), ``skipped`` already committed."""

    total: int
    analysed: int = 0
    skipped: int = 0
    failed: Counter = field(default_factory=Counter)  # error code -> rows
    elapsed_s: float = 0.0
    shards: int = 0
    engine: str = ""
    workers: int = 0

    @property
    def records_per_s(self) -> float:
        return self.analysed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "analysed": self.analysed, "skipped": self.skipped,
                "failed": dict(self.failed), "elapsed_s": round(self.elapsed_s, 3),
                "records_per_s": round(self.records_per_s, 2), "shards": self.shards, "engine": self.engine,
                "workers": self.workers}


Progress = Callable[[BatchSummary], None]


def _unchanged(item: BatchInput, committed: Committed) -> bool:
    """A committed row stands for this input as it is now (no file read: a stat only)."""
    if item.error_code:  # still missing: its error row is already there
        return committed.sha256 is None
    try:
        size, mtime = file_state(record_files(item.path))
    except OSError:
        return False
    return committed.file_size == size and committed.file_mtime_ns == mtime


def _chunks(items: list[tuple[BatchInput, Committed | None]], size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _write_json(directory: Path, sha: str, text: str) -> str:
    target = directory / sha[:2] / f"{sha}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, target)
    return str(target)


def run_batch(inputs: list[str | os.PathLike], out: str | os.PathLike, *, engine: str = "local",
              workers: int | None = None, address: str | None = None, options: BatchOptions | None = None,
              full_json: str | os.PathLike | None = None, chunk_size: int = 8, shard_rows: int = 256,
              progress: Progress | None = None) -> BatchSummary:
    """Analyse every record ``inputs`` name into the Parquet dataset ``out``; resumable, one row per record.

    Parameters
    ----------
    inputs : list of paths
        Directories (walked), globs, record files, manifests (CSV/Parquet with a ``path`` column).
    out : path
        The output dataset directory (``results.parquet/``); a re-run into it skips committed records.
    engine : {"local", "ray"}
    workers : int, optional
        Worker processes (local) or actors (ray); default one per core of the machine or the cluster.
    address : str, optional
        Ray cluster to join; default: a Ray instance started for the job.
    options : BatchOptions
        Model, backend, fast mode, ...: the choices of ``ecgscope analyze``.
    full_json : path, optional
        Also write each record's full result JSON under this directory (``<sha[:2]>/<sha>.json``).
    chunk_size, shard_rows : int
        Records per task sent to a worker; rows per committed shard.
    progress : callable, optional
        Called with the running :class:`BatchSummary` after every chunk.

    Returns
    -------
    BatchSummary

    Examples
    --------
    >>> from ecgscope.batch import run_batch, read_batch
    >>> summary = run_batch(["../shared/data/ludb"], "ludb.parquet")  # doctest: +SKIP
    >>> read_batch("ludb.parquet").to_pandas()[["path", "p_atrial_fibrillation"]].head()  # doctest: +SKIP
    """
    options = options or BatchOptions()
    if full_json is not None:
        options = BatchOptions(**{**options.__dict__, "full_json": True})
        json_dir = Path(full_json)
        json_dir.mkdir(parents=True, exist_ok=True)
    items = collect_inputs(inputs)
    store = ShardStore(out)
    committed = store.committed()
    todo: list[tuple[BatchInput, Committed | None]] = []
    summary = BatchSummary(total=len(items), engine=engine)
    for item in items:
        c = committed.get(item.path)
        if c is not None and _unchanged(item, c):
            summary.skipped += 1
        else:
            todo.append((item, c))
    runner = make_engine(engine, workers, address)
    pending: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def commit() -> None:
        if pending:
            store.commit(pending)
            summary.shards += 1
            pending.clear()

    def on_rows(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row.get(SKIPPED):
                summary.skipped += 1
                continue
            text = row.pop("_json", None)
            if text is not None and row.get("sha256"):
                row["result_json"] = _write_json(json_dir, row["sha256"], text)
            if row.get("error_code"):
                summary.failed[row["error_code"]] += 1
            summary.analysed += 1
            pending.append(row)
        if len(pending) >= shard_rows:
            commit()
        summary.elapsed_s = time.perf_counter() - t0
        if progress is not None:
            progress(summary)

    try:
        if todo:
            runner.run(_chunks(todo, chunk_size), options, on_rows)
    finally:
        commit()  # every row in hand is a whole analysis: an interrupted job keeps them
        store.close()
        summary.elapsed_s = time.perf_counter() - t0
        summary.workers = runner.workers_used
    return summary


def summary_text(summary: BatchSummary) -> str:
    failed = ", ".join(f"{code} {n}" for code, n in summary.failed.most_common()) or "none"
    return (f"{summary.total} records: {summary.analysed} analysed ({summary.records_per_s:.1f} records/s on "
            f"{summary.engine}, {summary.workers or '?'} workers), {summary.skipped} already done, failed: {failed}; "
            f"{summary.shards} shard(s) written")


def summary_json(summary: BatchSummary) -> str:
    return json.dumps(summary.to_dict())
