"""Everything one running server shares: settings, database, file store, worker pool, caches."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import select, update

from ecgscope.record import Record
from ecgscope.server.db import Database, RecordFile, RecordRow
from ecgscope.server.engine_pool import EnginePool, RayEnginePool
from ecgscope.server.settings import Settings
from ecgscope.server.storage import BlobStore

T = TypeVar("T")


class WorkerPool:
    """CPU work runs in a pool like this, never on the event loop.

    A capacity limiter keeps at most ``size`` such jobs running at once, so a burst of them cannot
    starve the threads that serve light requests (listing, fetching records).
    """

    def __init__(self, size: int):
        self.size = size
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if self._limiter is None:  # created lazily: it belongs to the running event loop
            self._limiter = anyio.CapacityLimiter(self.size)
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self._limiter)


class RecordCache:
    """Parsed records by content digest (an upload is parsed once, analyses reuse it)."""

    def __init__(self, max_items: int = 64):
        self.max_items = max_items
        self._items: OrderedDict[str, Record] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Record | None:
        with self._lock:
            rec = self._items.get(key)
            if rec is not None:
                self._items.move_to_end(key)
            return rec

    def put(self, key: str, record: Record) -> None:
        with self._lock:
            self._items[key] = record
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class ServerContext:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.db = Database(settings.database_url)
        self.store = BlobStore(settings.storage_dir)
        # two pools, each ``workers`` wide: uploads (~10-50 ms of parsing and writing) must not queue
        # behind analyses and reports (100 ms to seconds each) when many clients analyze at once
        self.pool = WorkerPool(settings.workers)  # parsing and storing uploads
        self.analysis_pool = WorkerPool(settings.workers)  # analyses and PDF reports
        self.records = RecordCache()
        # the analyses themselves run in worker processes when configured (started by the app's lifespan)
        self.engine_pool: EnginePool | RayEnginePool | None = None
        if settings.analysis_processes > 0 and settings.analysis_engine == "ray":
            self.engine_pool = RayEnginePool(settings.analysis_processes, settings.analysis_backend,
                                             settings.analysis_threads, settings.ray_address or None)
        elif settings.analysis_processes > 0:
            self.engine_pool = EnginePool(settings.analysis_processes, settings.analysis_backend,
                                          settings.analysis_threads)

    def start(self, sweep_min_age_s: float = 0.0) -> dict[str, int]:
        """Create tables and clear what a crash may have left (temporary files, orphan blobs)."""
        self.db.create_all()
        with self.db.session() as s:
            referenced = set(s.scalars(select(RecordFile.sha256)).all())
            if self.settings.is_sqlite:  # one process owns a SQLite file: an "analyzing" record was cut off
                s.execute(update(RecordRow).where(RecordRow.status == "analyzing")
                          .values(status="failed", status_detail="analysis interrupted by a server restart"))
        with self.store.lock:
            return self.store.sweep(referenced, sweep_min_age_s)

    def close(self) -> None:
        if self.engine_pool is not None:
            self.engine_pool.close()
        self.db.dispose()
