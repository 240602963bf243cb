"""A batch job's output: a Parquet dataset (a directory of shards) that only ever holds committed rows.

Rows are written in shards: each is written to ``_tmp/`` inside the dataset and renamed into place (the rename
is atomic on one filesystem), so a job killed at any moment leaves only whole shards; what was in flight is
redone on the next run.  Readers (pyarrow, pandas, DuckDB, Spark) read the directory as one table and never
see ``_tmp/``, whose name starts with an underscore.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from ecgscope.batch.schema import BATCH_SCHEMA_VERSION, COLUMNS, SCHEMA_METADATA_KEY, batch_schema
from ecgscope.errors import ECGScopeError


class BatchOutputError(ECGScopeError):
    """The output dataset cannot be used (another schema version, not a dataset directory)."""

    code = "batch_output"


@dataclass(frozen=True)
class Committed:
    """What a dataset already holds for one path: the content and the file state it was analysed at."""

    sha256: str | None
    file_size: int | None
    file_mtime_ns: int | None


class ShardStore:
    """The shards of one output dataset ``root`` (created when missing)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise BatchOutputError("exists and is a file; the output is a Parquet dataset directory",
                                   source=str(self.root))
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp = self.root / "_tmp"
        shutil.rmtree(self.tmp, ignore_errors=True)  # shards a killed job was writing: never committed
        self.tmp.mkdir()
        self._run = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self._seq = 0

    def shards(self) -> list[Path]:
        return sorted(p for p in self.root.glob("part-*.parquet") if p.is_file())

    def committed(self) -> dict[str, Committed]:
        """Path -> what its newest committed row says, over every committed shard."""
        out: dict[str, Committed] = {}
        for shard in self.shards():
            meta = pq.read_schema(shard).metadata or {}
            version = meta.get(SCHEMA_METADATA_KEY, b"?").decode()
            if version != BATCH_SCHEMA_VERSION:
                raise BatchOutputError(f"{shard.name} has batch schema {version}; this ecgscope writes "
                                       f"{BATCH_SCHEMA_VERSION}: write to a new output", source=str(self.root))
            t = pq.read_table(shard, columns=["path", "sha256", "file_size", "file_mtime_ns"]).to_pydict()
            for p, s, n, m in zip(t["path"], t["sha256"], t["file_size"], t["file_mtime_ns"], strict=True):
                out[p] = Committed(s, n, m)
        return out

    def commit(self, rows: list[dict]) -> Path | None:
        """Write ``rows`` as one shard, atomically; returns its path (None for no rows)."""
        if not rows:
            return None
        table = pa.Table.from_pylist([{c: r.get(c) for c in COLUMNS} for r in rows], schema=batch_schema())
        self._seq += 1
        name = f"part-{self._run}-{self._seq:05d}-{socket.gethostname()}.parquet"
        tmp = self.tmp / name
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as fh:  # the bytes reach the disk before the name says they are committed
            os.fsync(fh.fileno())
        final = self.root / name
        os.replace(tmp, final)
        return final

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def read_batch(root: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """The committed rows of a batch dataset as one Arrow table (``.to_pandas()`` for a DataFrame)."""
    root = Path(root)
    shards = sorted(root.glob("part-*.parquet"))
    if not shards:
        return batch_schema().empty_table() if columns is None else batch_schema().empty_table().select(columns)
    return pads.dataset([str(s) for s in shards], schema=batch_schema(), format="parquet").to_table(columns=columns)
