"""Analyses in worker processes: the engine's Python work runs beside, not under, the server's GIL.

An analysis is ~35 ms of CPU, about half of it Python (quality, beat post-processing, result
assembly) that holds the interpreter lock.  Run in the server's threads, analyses therefore share
one core with each other and with every HTTP request; in ``processes`` worker processes they use
as many cores.  The server keeps the database, the file store and HTTP; a worker gets the parsed
record and the model's description, and sends back the result JSON (a few hundred kB each way).

Each worker loads the installed models once, when it starts (the app's lifespan starts them all,
so the first analyses do not pay for it), and exits by itself if the server process dies
(a killed server leaves no orphans holding memory).  A worker that crashes (killed, out of memory)
fails only the analyses it held: the pool is rebuilt and they are answered with a 503 that says so.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ecgscope.errors import ECGScopeError


class AnalysisWorkerError(ECGScopeError):
    code = "analysis_worker_failed"
    http_status = 503


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # re-parented: the server is gone
            os._exit(0)
        time.sleep(1.0)


def _start_worker(parent: int, backend: str, threads: int) -> None:
    """Worker initializer: watch the server process, then load every installed model."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()
    from ecgscope.server.services import analysis

    try:
        for m in analysis.list_models():
            analysis.load_analyzer(m["name"], backend, threads)
    except ECGScopeError:
        pass  # no engine or no models: each analysis then answers why (503), as in-process analyses do


def _analyze_in_worker(record, model: dict, kwargs: dict) -> tuple[str, Any]:
    """Run in a worker: ("ok", result JSON) or ("error", the ECGScopeError's fields)."""
    from ecgscope.server.services.analysis import run_model

    try:
        return "ok", run_model(record, model, **kwargs)
    except ECGScopeError as err:  # sent back as data: its keyword-only constructor does not pickle
        return "error", {"message": err.message, "source": err.source, "code": err.code,
                         "http_status": err.http_status}


def _noop() -> None:
    return None


class EnginePool:
    """``processes`` analysis worker processes (spawned: no fork of a threaded server)."""

    def __init__(self, processes: int, backend: str, threads: int):
        self.processes = processes
        self.backend = backend
        self.threads = threads
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.processes, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker, initargs=(os.getpid(), self.backend, self.threads))
            return self._executor

    def start(self) -> None:
        """Start every worker now (each loads the models in the background, ~1-2 s)."""
        pool = self._pool()
        for _ in range(self.processes):  # no idle worker yet: each submission spawns one
            pool.submit(_noop)

    def analyze(self, record, model: dict, **kwargs) -> dict:
        """``services.analysis.run_model(record, model, **kwargs)`` in a worker (blocks the calling thread)."""
        pool = self._pool()
        try:
            status, value = pool.submit(_analyze_in_worker, record, model, kwargs).result()
        except BrokenProcessPool:
            with self._lock:  # the next analysis gets a fresh pool
                if self._executor is pool:
                    self._executor = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise AnalysisWorkerError("the analysis worker process stopped (killed or out of memory) during this "
                                      "analysis; try again", source="analysis") from None
        if status == "error":
            err = ECGScopeError(value["message"], source=value["source"], code=value["code"])
            err.http_status = value["http_status"]
            raise err
        return value

    def close(self) -> None:
        with self._lock:
            pool, self._executor = self._executor, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
