"""Where a batch job's chunks run: worker processes on this machine, or the actors of a Ray cluster.

Both engines take chunks of records and hand back each chunk's rows as it finishes; both run the same
:class:`~ecgscope.batch.worker.BatchWorker` (one per process, models loaded once), so they give the same rows.
A worker that dies (killed, out of memory) loses only what it held: the local engine rebuilds its pool and
resubmits the chunks in flight, Ray restarts the actor and retries its call.  A chunk that has lost its worker
:data:`MAX_ATTEMPTS` times is answered with error rows (``worker_died``) instead of stopping the job.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

from ecgscope._ray import connect_ray
from ecgscope.batch.worker import BatchOptions, BatchWorker
from ecgscope.errors import ECGScopeError

MAX_ATTEMPTS = 3
Chunk = list  # [(BatchInput, Committed | None), ...]
OnRows = Callable[[list[dict[str, Any]]], None]

ENGINES = ("local", "ray")


class BatchEngineError(ECGScopeError):
    code = "batch_engine"


def _chunk_errors(chunk: Chunk, engine: str, code: str, why: str) -> list[dict[str, Any]]:
    """Error rows for every record of a chunk that could not be analysed at all."""
    return [{"path": item.path, "patient_id": item.patient_id, "engine": engine, "analysed_at": datetime.now(UTC),
             "error_code": code, "error_message": f"{item.path}: {why}"} for item, _ in chunk]


def _died(chunk: Chunk, engine: str, how: str) -> list[dict[str, Any]]:
    return _chunk_errors(chunk, engine, "worker_died", f"the worker analysing it died {MAX_ATTEMPTS} times ({how})")


# --- local: a process pool ---------------------------------------------------------------------------------

_worker: BatchWorker | None = None


def _init_local(options: BatchOptions) -> None:
    global _worker
    _worker = BatchWorker(options, "local")


def _run_local(chunk: Chunk) -> list[dict[str, Any]]:
    assert _worker is not None
    return _worker.analyze(chunk)


class LocalEngine:
    """``workers`` spawned processes on this machine (default: one per core)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)

    @property
    def workers_used(self) -> int:
        return self.workers

    def _pool(self, options: BatchOptions) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_local, initargs=(options,))

    def run(self, chunks: Iterable[Chunk], options: BatchOptions, on_rows: OnRows) -> None:
        source: Iterator[Chunk] = iter(chunks)
        pool = self._pool(options)
        in_flight: dict[Any, tuple[Chunk, int]] = {}  # future -> (chunk, attempt)
        retry: list[tuple[Chunk, int]] = []
        try:
            while True:
                while len(in_flight) < 2 * self.workers:  # bounded: an archive is never all in memory
                    if retry:
                        chunk, attempt = retry.pop()
                    else:
                        chunk = next(source, None)
                        attempt = 1
                        if chunk is None:
                            break
                    in_flight[pool.submit(_run_local, chunk)] = (chunk, attempt)
                if not in_flight:
                    return
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    chunk, attempt = in_flight.pop(fut)
                    try:
                        on_rows(fut.result())
                    except BrokenProcessPool:
                        broken = True
                        if attempt >= MAX_ATTEMPTS:
                            on_rows(_died(chunk, self.name, "process pool broken"))
                        else:
                            retry.append((chunk, attempt + 1))
                if broken:  # every chunk still in the broken pool is lost with it: resubmit them to a new one
                    retry += in_flight.values()
                    in_flight.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool(options)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


# --- ray: actors on a cluster ------------------------------------------------------------------------------

class _RayWorker:
    """The actor: one BatchWorker in a Ray worker process."""

    def __init__(self, options: BatchOptions):
        import ray

        self.worker = BatchWorker(options, "ray")
        self.worker.name += f"@{ray.get_runtime_context().get_node_id()[:12]}"  # host:pid@node

    def analyze(self, chunk: Chunk) -> list[dict[str, Any]]:
        return self.worker.analyze(chunk)


class RayEngine:
    """Ray actors, one per CPU of the cluster (or ``workers``).

    ``address``: a running cluster (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``); None starts a Ray instance
    on this machine for the job and stops it at the end.  Every node must have ecgscope installed and see the
    records at the same paths (a shared or replicated filesystem).
    """

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None):
        self.workers, self.address = workers, address
        self.workers_used = workers or 0  # the actors of the last run (one per cluster CPU by default)
        self.actors: list[Any] = []

    def run(self, chunks: Iterable[Chunk], options: BatchOptions, on_rows: OnRows) -> None:
        ray, started = connect_ray(self.address, self.workers)
        from ray.exceptions import RayActorError, RayTaskError

        try:
            n = self.workers_used = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            actor_class = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=MAX_ATTEMPTS - 1)(_RayWorker)
            self.actors = [actor_class.remote(options) for _ in range(n)]
            source = iter(chunks)
            pending: dict[Any, tuple[Chunk, Any]] = {}  # object ref -> (chunk, actor)
            load = {a: 0 for a in self.actors}
            while True:
                for actor in self.actors:
                    while load[actor] < 2:
                        chunk = next(source, None)
                        if chunk is None:
                            break
                        pending[actor.analyze.remote(chunk)] = (chunk, actor)
                        load[actor] += 1
                if not pending:
                    return
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    chunk, actor = pending.pop(ref)
                    load[actor] -= 1
                    try:
                        on_rows(ray.get(ref))
                    except RayActorError as exc:  # the actor died more often than its retries allow
                        on_rows(_died(chunk, self.name, type(exc).__name__))
                    except RayTaskError as exc:  # a bug inside the worker: the job goes on, the rows say so
                        on_rows(_chunk_errors(chunk, self.name, "internal_error", repr(exc.cause)))
        finally:
            for a in self.actors:
                ray.kill(a)
            self.actors = []
            if started:
                ray.shutdown()


def make_engine(name: str, workers: int | None = None, address: str | None = None):
    """The engine called ``name`` (``local`` or ``ray``)."""
    if name == "local":
        if address:
            raise BatchEngineError("--address is for --engine ray")
        return LocalEngine(workers)
    if name == "ray":
        return RayEngine(workers, address)
    raise BatchEngineError(f"unknown engine {name!r}; valid engines: {', '.join(ENGINES)}")
