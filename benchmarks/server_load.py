"""Server under load on loopback: the saturated server against the engine alone, and latency at a realistic load.

A real server process (`ecgscope serve`, SQLite file, content-addressed store in a temp dir); the clients
are threads of this process, the load generator, so they never share the server's interpreter.  Three runs:

1. **the engine alone**: the server's own analysis call (`run_model`, one thread each) in as many worker
   processes as the server has (`--processes`), on the same cores, records already in memory, back to back
   for `--saturation-duration` s: analyses/s that the hardware allows;
2. **the server at saturation**: 16 clients `POST …/analyze` back to back on 64 records uploaded before,
   for the same time: analyses/s through HTTP, authentication, the database and the worker pool.  The
   ratio of 2 to 1 is the server's efficiency (goal >= 0.7);
3. **a realistic load** (the main run): 16 users, each looping for `--duration` s: upload a 10-s 12-lead
   PTB-XL record (its .hea + two .dat files), analyze it, fetch it back (`GET …/records/{id}?max_points=2000`),
   then pause a random, exponentially distributed time of mean `--think-time` s (default 5: reading the
   result).  Goal: analyze p99 < 300 ms, zero errors.  Afterwards every acknowledged record is fetched again
   with its full signal.

Without `ecgscope.inference` the analyze step is skipped and the output says so: only upload and
fetch are measured then.  The machine's load average before and after each run is recorded with the figures.

Where analyze time goes: every analyze response carries the engine's own `timing_ms` (preprocess,
classify, delineate, total), so the table splits the client-side latency into the engine's work and
the rest (waiting for a worker, the database, HTTP).  `--sweep 1,2,4` adds shorter runs at those
client counts, `--think-time 0` makes the main run back to back too.

    .venv/bin/python benchmarks/server_load.py [--data-dir DIR] [--clients 16] [--duration 60]
        [--workers N] [--processes N] [--backend onnx|torch] [--think-time S] [--saturation-duration S]
        [--sweep 1,2,4 --sweep-duration 20] [--compare-backends 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from ecgscope.config import resolve_data_dir
from ecgscope.server import Settings
from ecgscope.server.auth import create_user, issue_token
from ecgscope.server.context import ServerContext
from ecgscope.server.services.analysis import engine_available

GOAL_ANALYZE_P99_MS = 300.0  # at the realistic load: 16 users, each pausing ~5 s between records
GOAL_SATURATION_RATIO = 0.7  # analyses/s of the saturated server over the engine's own rate on the same cores


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(state: Path, port: int, workers: int, backend: str, processes: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "ecgscope.cli", "serve", "--state-dir", str(state),
                             "--port", str(port), "--workers", str(workers), "--processes", str(processes)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "ECGSCOPE_WEB_DIST": str(state / "no-dashboard"),
                                 "ECGSCOPE_ANALYSIS_BACKEND": backend})
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("error: the server exited during start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("error: the server did not become ready in 60 s")


def _pct(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    a = np.asarray(values)
    return {"n": len(values), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1), "p99_ms": round(float(np.percentile(a, 99)), 1),
            "max_ms": round(float(a.max()), 1)}


ENGINE_STEPS = ("preprocess", "classify", "delineate", "total")


def run_load(url: str, headers: dict, uploads: list, clients: int, duration: float, engine: bool,
             think_s: float = 0.0, analyze_only: list[str] | None = None) -> dict:
    """``clients`` threads loop upload -> analyze -> fetch for ``duration`` s, pausing a random time of mean
    ``think_s`` after each cycle (0: back to back, the server saturated); latencies, errors, record ids.

    With ``analyze_only`` (ids of records uploaded before), each cycle is one ``POST …/analyze`` of one of
    them: the server's analysis path alone, at saturation when ``think_s`` is 0."""
    lat: dict[str, list[float]] = defaultdict(list)
    engine_ms: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    acknowledged: set[str] = set()
    lock = threading.Lock()
    t_end = time.perf_counter() + duration

    def call(c: httpx.Client, name: str, method: str, path: str, **kw) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            r = c.request(method, path, **kw)
            ok, msg = r.status_code in (200, 201), f"{r.status_code}: {r.text[:200]}"
        except httpx.HTTPError as exc:
            r, ok, msg = None, False, f"{type(exc).__name__}: {exc}"
        dt = (time.perf_counter() - t0) * 1000
        with lock:
            (lat[name].append(dt) if ok else errors[name].append(msg))
        return r if ok else None

    def client(k: int) -> None:
        mine = uploads[k::clients] or uploads
        rng = np.random.default_rng(k)  # each client's pauses: independent users, not a lockstep burst
        i = 0
        def analyze(c: httpx.Client, rid: str) -> None:
            r = call(c, "analyze", "POST", f"/api/v1/records/{rid}/analyze")
            if r is not None:
                timing = r.json()["timing_ms"]
                with lock:
                    for step in ENGINE_STEPS:
                        engine_ms[step].append(float(timing[step]))

        with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
            while time.perf_counter() < t_end:
                if analyze_only:
                    analyze(c, analyze_only[(k + i * clients) % len(analyze_only)])
                    i += 1
                else:
                    files = [("files", f) for f in mine[i % len(mine)]]
                    i += 1
                    r = call(c, "upload", "POST", "/api/v1/records", files=files)
                    if r is None:
                        continue
                    rid = r.json()["id"]
                    with lock:
                        acknowledged.add(rid)
                    if engine:
                        analyze(c, rid)
                    call(c, "fetch", "GET", f"/api/v1/records/{rid}?max_points=2000")
                if think_s > 0:  # a user reading the result before the next record (exponential, mean think_s)
                    time.sleep(min(rng.exponential(think_s), max(0.0, t_end - time.perf_counter())))

    load_before = os.getloadavg()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t_start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t_start
    ops = {name: _pct(lat[name]) for name in ("upload", "analyze", "fetch")}
    engine_cost = {step: _pct(v) for step, v in engine_ms.items()}
    if lat["analyze"] and engine_ms["total"]:
        outside = np.asarray(lat["analyze"]) - np.asarray(engine_ms["total"])
        engine_cost["outside_engine"] = _pct(list(outside))  # queueing for a worker, database, HTTP
    return {
        "clients": clients, "think_time_s": think_s, "duration_s": round(elapsed, 1), "operations": ops,
        "analyze_breakdown": engine_cost,
        "throughput": {"uploads_per_s": round(ops["upload"]["n"] / elapsed, 2),
                       "analyses_per_s": round(ops["analyze"]["n"] / elapsed, 2)},
        "errors": {k: {"count": len(v), "examples": v[:3]} for k, v in errors.items()},
        "n_errors": sum(len(v) for v in errors.values()),
        "load_average_1_5_15": {"before": [round(x, 2) for x in load_before],
                                "after": [round(x, 2) for x in os.getloadavg()]},
        "_acknowledged": acknowledged,
    }


def _print_run(run: dict, errors_by_op: dict) -> None:
    print(f"-- {run['clients']} clients, think time {run['think_time_s']:g} s, {run['duration_s']:.0f} s; "
          f"{run['throughput']['analyses_per_s']} analyses/s; load average before "
          f"{run['load_average_1_5_15']['before']}, after {run['load_average_1_5_15']['after']}")
    print(f"{'operation':<16}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}{'errors':>8}")
    rows = [(name, o, errors_by_op.get(name, {}).get("count", 0)) for name, o in run["operations"].items()]
    rows += [(f"  engine {step}", o, "") for step, o in run["analyze_breakdown"].items()]
    for name, o, err in rows:
        cells = [f"{o[k]:>10.1f}" if o[k] is not None else f"{'—':>10}" for k in ("p50_ms", "p95_ms", "p99_ms",
                                                                                 "max_ms")]
        print(f"{name:<16}{o['n']:>7}{''.join(cells)}{err!s:>8}")


_ENGINE: dict = {}


def _engine_init(bases: list[str], backend: str) -> None:
    from ecgscope.io import load_record
    from ecgscope.server.services.analysis import choose_model, run_model

    _ENGINE["records"] = [load_record(b) for b in bases]
    _ENGINE["model"] = choose_model(_ENGINE["records"][0])
    _ENGINE["backend"] = backend
    run_model(_ENGINE["records"][0], _ENGINE["model"], backend=backend, threads=1)  # the model loaded


def _engine_analyze(i: int) -> float:
    from ecgscope.server.services.analysis import run_model

    t0 = time.perf_counter()
    recs = _ENGINE["records"]
    run_model(recs[i % len(recs)], _ENGINE["model"], backend=_ENGINE["backend"], threads=1)
    return time.perf_counter() - t0


def engine_rate(bases: list[Path], processes: int, backend: str, duration: float) -> dict:
    """The engine's own rate on these cores: the server's analysis call (``run_model``, one thread each) in
    ``processes`` worker processes, records already in memory, back to back for ``duration`` s; what the
    server's analyses/s at saturation is held against."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    n = max(1, processes)
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"), initializer=_engine_init,
                             initargs=([str(b) for b in bases[:64]], backend)) as pool:
        list(pool.map(_engine_analyze, range(4 * n)))  # every worker started and warm
        times: list[float] = []
        t0 = time.perf_counter()
        i = 0
        while time.perf_counter() - t0 < duration:
            times += pool.map(_engine_analyze, range(i, i + 8 * n))
            i += 8 * n
        wall = time.perf_counter() - t0
    rate = len(times) / wall
    print(f"-- engine alone: {n} processes x 1 thread, {len(times)} analyses in {wall:.1f} s: {rate:.1f} analyses/s "
          f"(p50 {1000 * float(np.median(times)):.1f} ms each)")
    return {"processes": n, "threads_each": 1, "analyses": len(times), "duration_s": round(wall, 1),
            "analyses_per_s": round(rate, 2), "analysis": _pct([1000 * t for t in times])}


def compare_backends(bases: list[Path], n: int) -> dict:
    """Per-analysis time of the server's analysis call on each backend, single-threaded, in this process:
    the two backends alternate on the same records, so a change of the machine's load hits both alike."""
    from ecgscope.io import load_record
    from ecgscope.server.services.analysis import choose_model, run_model

    records = [load_record(b) for b in bases[:n]]
    model = choose_model(records[0])
    times: dict[str, list[float]] = {"torch": [], "onnx": []}
    classify: dict[str, list[float]] = {"torch": [], "onnx": []}
    for b in times:  # load both analyzers before timing
        run_model(records[0], model, backend=b, threads=1)
    for rec in records:
        for b in times:
            t0 = time.perf_counter()
            res = run_model(rec, model, backend=b, threads=1)
            times[b].append((time.perf_counter() - t0) * 1000)
            classify[b].append(res["timing_ms"]["classify"])
    ratio = np.asarray(times["onnx"]) / np.asarray(times["torch"])
    out = {b: {"analysis": _pct(times[b]), "classify_p50_ms": round(float(np.median(classify[b])), 1)} for b in times}
    out["onnx_over_torch_paired_median"] = round(float(np.median(ratio)), 3)
    out["records"] = len(records)
    out["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    print(f"-- backends, {len(records)} records alternating, 1 thread: torch p50 {out['torch']['analysis']['p50_ms']} ms "
          f"(classify {out['torch']['classify_p50_ms']}), onnx p50 {out['onnx']['analysis']['p50_ms']} ms "
          f"(classify {out['onnx']['classify_p50_ms']}); onnx/torch paired median {out['onnx_over_torch_paired_median']}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="server worker threads")
    ap.add_argument("--backend", choices=("torch", "onnx"), default="onnx", help="the server's analysis backend")
    ap.add_argument("--processes", type=int, default=None,
                    help="the server's analysis worker processes (0: analyses in the server's threads; "
                         "default the server's own default)")
    ap.add_argument("--think-time", type=float, default=5.0, metavar="S",
                    help="each client pauses after each upload-analyze-fetch cycle, for an exponentially "
                         "distributed time of mean S s (default 5: users reading their results; 0: back to back)")
    ap.add_argument("--saturation-duration", type=float, default=30.0, metavar="S",
                    help="the analyze-only run at saturation (clients back to back on uploaded records) and the "
                         "engine-alone run it is held against, each S s (0: skip both)")
    ap.add_argument("--sweep", default="", help="also run these client counts first (comma separated)")
    ap.add_argument("--sweep-duration", type=float, default=20.0)
    ap.add_argument("--compare-backends", type=int, default=0, metavar="N",
                    help="also time the analysis on torch and onnx, alternating, on N records (in this process)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "server_load.json"))
    args = ap.parse_args()
    if args.think_time < 0:
        ap.error(f"--think-time must be >= 0 s; got {args.think_time:g}")

    data = resolve_data_dir(args.data_dir)
    bases = sorted(p.with_suffix("") for p in (data / "ptbxl" / "records500").glob("*/*_hr.hea"))
    uploads = [[(p.name, p.read_bytes()) for p in sorted(b.parent.glob(b.name + "*"))] for b in bases]
    if not uploads:
        raise SystemExit(f"error: no PTB-XL 500 Hz records under {data / 'ptbxl' / 'records500'}")
    sweep = [int(x) for x in args.sweep.split(",") if x.strip()]
    backends = compare_backends(bases, args.compare_backends) if args.compare_backends else None
    if args.processes is None:  # what `ecgscope serve` will use: its settings from the environment
        args.processes = Settings.from_env(state_dir=Path(tempfile.gettempdir())).analysis_processes
    alone = engine_rate(bases, args.processes, args.backend, args.saturation_duration) \
        if args.saturation_duration > 0 and engine_available() else None

    with tempfile.TemporaryDirectory(prefix="ecgscope-load-") as tmp:
        state = Path(tmp)
        ctx = ServerContext(Settings(state_dir=state))
        ctx.start()
        with ctx.db.session() as s:
            token = issue_token(s, create_user(s, "load", team="bench"))
        ctx.close()
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = _start_server(state, port, args.workers, args.backend, args.processes)
        try:
            headers = {"Authorization": f"Bearer {token}"}
            engine = httpx.get(f"{url}/readyz").json()["checks"]["analysis_engine"] == "ok"
            if engine:  # the first analyses load the model (~1-2 s): a running server has done that already
                with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
                    rid = c.post("/api/v1/records", files=[("files", f) for f in uploads[-1]]).json()["id"]

                    def warm(_: int) -> None:
                        c.post(f"/api/v1/records/{rid}/analyze").raise_for_status()

                    # as many at once as the server has workers, so every worker (process) has loaded
                    with ThreadPoolExecutor(max(args.workers, args.processes)) as pool:
                        list(pool.map(warm, range(2 * max(args.workers, args.processes))))
            saturated = None
            if engine and alone is not None:
                with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
                    ids = [c.post("/api/v1/records", files=[("files", f) for f in up]).json()["id"]
                           for up in uploads[:64]]
                saturated = run_load(url, headers, uploads, args.clients, args.saturation_duration, engine,
                                     0.0, analyze_only=ids)
                saturated.pop("_acknowledged")
            runs = [run_load(url, headers, uploads, n, args.sweep_duration, engine, args.think_time) for n in sweep]
            main_run = run_load(url, headers, uploads, args.clients, args.duration, engine, args.think_time)
            acknowledged = set().union(*(r.pop("_acknowledged") for r in [*runs, main_run]))

            # every acknowledged record reads back whole, and its analysis with it
            missing, no_analysis = [], []
            with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
                for rid in sorted(acknowledged):
                    r = c.get(f"/api/v1/records/{rid}")
                    if r.status_code != 200 or len(r.json()["signal"]["data"][0]) != r.json()["n_samples"]:
                        missing.append(rid)
                    elif engine and r.json()["status"] == "analyzed" and \
                            c.get(f"/api/v1/records/{rid}/analysis").status_code != 200:
                        no_analysis.append(rid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)

    analyze_p99 = main_run["operations"]["analyze"]["p99_ms"]
    n_errors = main_run["n_errors"] + sum(r["n_errors"] for r in runs) + (saturated["n_errors"] if saturated else 0)
    ratio = (round(saturated["throughput"]["analyses_per_s"] / alone["analyses_per_s"], 3)
             if saturated and alone else None)
    result = {
        "benchmark": "server_load",
        "command": "benchmarks/server_load.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "note": "clients and server share the machine's cores (loopback); the machine is shared with "
                            "other work: see load_average_1_5_15"},
        "server": {"workers": args.workers, "analysis_backend": args.backend, "analysis_processes": args.processes,
                   "analysis_threads": max(1, (os.cpu_count() or 2) // args.workers)},
        "analysis_engine": "installed" if engine else "not installed: analyze was NOT measured",
        "record": "PTB-XL 500 Hz, 10 s, 12 leads (.hea + 2 .dat per upload)",
        **{k: v for k, v in main_run.items()},
        "sweep": runs,
        "engine_alone": alone,
        "saturation": saturated,
        "saturation_ratio": ratio,
        "backend_comparison": backends,
        "records_acknowledged": len(acknowledged), "records_not_retrievable": len(missing),
        "analyzed_records_without_analysis": len(no_analysis),
        "goal": {"analyze_p99_ms_below": GOAL_ANALYZE_P99_MS,
                 "met": None if analyze_p99 is None else bool(analyze_p99 < GOAL_ANALYZE_P99_MS and n_errors == 0
                                                             and not missing),
                 "saturation_ratio_at_least": GOAL_SATURATION_RATIO,
                 "ratio_met": None if ratio is None else bool(ratio >= GOAL_SATURATION_RATIO)},
    }
    print(f"server_load: loopback, {os.cpu_count()} CPUs shared by clients and server; server workers "
          f"{args.workers}, analysis processes {args.processes}, backend {args.backend}; analysis engine "
          f"{result['analysis_engine']}")
    if saturated:
        print("saturation (analyze only, back to back):")
        _print_run(saturated, saturated["errors"])
        print(f"server at saturation {saturated['throughput']['analyses_per_s']} analyses/s against the engine alone "
              f"{alone['analyses_per_s']} on the same cores: ratio {ratio} (goal >= {GOAL_SATURATION_RATIO})")
    for run in [*runs, main_run]:
        _print_run(run, run["errors"])
    print(f"records acknowledged {len(acknowledged)}, not retrievable afterwards {len(missing)}, analyzed without "
          f"a retrievable analysis {len(no_analysis)}; errors {n_errors}; goal analyze p99 < "
          f"{GOAL_ANALYZE_P99_MS:.0f} ms at {args.clients} clients: "
          f"{'not measurable (no analysis engine)' if analyze_p99 is None else result['goal']['met']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if n_errors == 0 and not missing and not no_analysis else 1


if __name__ == "__main__":
    sys.exit(main())
