"""Analyses in worker processes (or Ray actors): the engine's Python work runs beside, not under, the server's GIL.

An analysis is ~35 ms of CPU, about half of it Python (quality, beat post-processing, result
assembly) that holds the interpreter lock.  Run in the server's threads, analyses therefore share
one core with each other and with every HTTP request; in ``processes`` worker processes they use
as many cores.  The server keeps the database, the file store and HTTP; a worker gets the parsed
record and the model's description, and sends back the result JSON (a few hundred kB each way).

Each worker loads the installed models once, when it starts (the app's lifespan starts them all,
so the first analyses do not pay for it), and exits by itself if the server process dies
(a killed server leaves no orphans holding memory).  A worker that crashes (killed, out of memory)
fails only the analyses it held: the pool is rebuilt and they are answered with a 503 that says so.

:class:`RayEnginePool` (``ECGSCOPE_ANALYSIS_ENGINE=ray``) is the same pool on a Ray cluster: one actor per
analysis slot, each loading the models once, placed wherever the cluster has a free CPU, so a deployment adds
analysis capacity by adding Ray nodes.  A lost actor fails only its analysis (503); a new actor takes its place
and the next analysis works.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
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


def _load_models(backend: str, threads: int) -> None:
    """Load every installed model into this worker (process or actor) before its first analysis."""
    from ecgscope.server.services import analysis

    try:
        for m in analysis.list_models():
            analysis.load_analyzer(m["name"], backend, threads)
    except ECGScopeError:
        pass  # no engine or no models: each analysis then answers why (503), as in-process analyses do


def _start_worker(parent: int, backend: str, threads: int) -> None:
    """Worker initializer: watch the server process, then load every installed model."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()
    _load_models(backend, threads)


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
        return _unpack(status, value)

    def close(self) -> None:
        with self._lock:
            pool, self._executor = self._executor, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _unpack(status: str, value: Any) -> dict:
    """A worker's answer: the result, or its ECGScopeError raised again here with its status and message."""
    if status == "error":
        err = ECGScopeError(value["message"], source=value["source"], code=value["code"])
        err.http_status = value["http_status"]
        raise err
    return value


class _AnalysisActor:
    """A Ray actor holding the installed models (loaded once, when it starts or restarts)."""

    def __init__(self, backend: str, threads: int):
        _load_models(backend, threads)

    def analyze(self, record, model: dict, kwargs: dict) -> tuple[str, Any]:
        return _analyze_in_worker(record, model, kwargs)

    def pid(self) -> int:
        return os.getpid()

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()


class RayEnginePool:
    """``actors`` analysis actors on the Ray cluster at ``address`` (None: a Ray instance started on this machine).

    Each request takes an idle actor (waiting while all are busy, as a process pool's queue does) and gives it
    back after its analysis."""

    def __init__(self, actors: int, backend: str, threads: int, address: str | None = None):
        self.actors = max(1, actors)
        self.backend, self.threads, self.address = backend, threads, address or None
        self._lock = threading.Lock()
        self._idle: queue.Queue | None = None
        self._handles: list[Any] = []
        self._started = False

    def start(self) -> None:
        with self._lock:
            if self._idle is not None:
                return
            from ecgscope._ray import connect_ray

            ray, self._started = connect_ray(self.address, self.actors)
            # a lost actor is replaced by a new one (calls to a new actor wait for its start; calls to an actor that
            # Ray is restarting would fail)
            self._actor_class = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(_AnalysisActor)
            self._handles = [self._new_actor() for _ in range(self.actors)]
            idle: queue.Queue = queue.Queue()
            for h in self._handles:
                idle.put(h)
            self._idle = idle

    def _new_actor(self):
        return self._actor_class.remote(self.backend, self.threads)

    def analyze(self, record, model: dict, **kwargs) -> dict:
        """``services.analysis.run_model(record, model, **kwargs)`` on an actor (blocks the calling thread)."""
        import ray
        from ray.exceptions import RayActorError

        self.start()
        idle = self._idle
        assert idle is not None
        actor = idle.get()
        try:
            status, value = ray.get(actor.analyze.remote(record, model, kwargs))
        except RayActorError:  # the actor died during this analysis: a new one takes its place for the next
            with self._lock:
                replacement = self._new_actor()
                self._handles = [replacement if h == actor else h for h in self._handles]
            actor = replacement
            raise AnalysisWorkerError("the analysis worker (Ray actor) stopped (killed, out of memory or its node "
                                      "lost) during this analysis; try again", source="analysis") from None
        finally:
            idle.put(actor)
        return _unpack(status, value)

    def close(self) -> None:
        with self._lock:
            handles, self._handles, self._idle = self._handles, [], None
        if not handles:
            return
        import ray

        for h in handles:
            ray.kill(h)
        if self._started:
            ray.shutdown()
