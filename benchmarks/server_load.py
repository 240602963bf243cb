"""Server under load on loopback: 16 concurrent clients upload real PTB-XL records and analyze them.

A real server process (`ecgscope serve`, SQLite file, content-addressed store in a temp dir) and
16 client threads, each looping for `--duration` s: upload a 10-s 12-lead PTB-XL record (its
.hea + two .dat files), analyze it (`POST …/analyze`) when the analysis engine is installed, fetch
it back (`GET …/records/{id}?max_points=2000`).  Afterwards every acknowledged record is fetched
again with its full signal.  Goal: analyze p99 < 300 ms, zero errors, every record retrievable.

Without `ecgscope.inference` the analyze step is skipped and the output says so: only upload and
fetch are measured then.  Clients and server share this machine's cores (loopback).

    .venv/bin/python benchmarks/server_load.py [--data-dir DIR] [--clients 16] [--duration 60]
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
from pathlib import Path

import httpx
import numpy as np

from ecgscope.config import resolve_data_dir
from ecgscope.server import Settings
from ecgscope.server.auth import create_user, issue_token
from ecgscope.server.context import ServerContext

GOAL_ANALYZE_P99_MS = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(state: Path, port: int, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "ecgscope.cli", "serve", "--state-dir", str(state),
                             "--port", str(port), "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "ECGSCOPE_WEB_DIST": str(state / "no-dashboard")})
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="server worker threads")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "server_load.json"))
    args = ap.parse_args()

    data = resolve_data_dir(args.data_dir)
    bases = sorted(p.with_suffix("") for p in (data / "ptbxl" / "records500").glob("*/*_hr.hea"))
    uploads = [[(p.name, p.read_bytes()) for p in sorted(b.parent.glob(b.name + "*"))] for b in bases]
    if not uploads:
        raise SystemExit(f"error: no PTB-XL 500 Hz records under {data / 'ptbxl' / 'records500'}")

    with tempfile.TemporaryDirectory(prefix="ecgscope-load-") as tmp:
        state = Path(tmp)
        ctx = ServerContext(Settings(state_dir=state))
        ctx.start()
        with ctx.db.session() as s:
            token = issue_token(s, create_user(s, "load", team="bench"))
        ctx.close()
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = _start_server(state, port, args.workers)
        try:
            headers = {"Authorization": f"Bearer {token}"}
            engine = httpx.get(f"{url}/readyz").json()["checks"]["analysis_engine"] == "ok"
            lat: dict[str, list[float]] = defaultdict(list)
            errors: dict[str, list[str]] = defaultdict(list)
            acknowledged: set[str] = set()
            lock = threading.Lock()
            t_end = time.perf_counter() + args.duration

            def client(k: int) -> None:
                mine = uploads[k :: args.clients] or uploads
                i = 0
                with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
                    while time.perf_counter() < t_end:
                        files = [("files", f) for f in mine[i % len(mine)]]
                        i += 1
                        steps = [("upload", lambda files=files: c.post("/api/v1/records", files=files))]
                        rid = None
                        for name, call in steps:
                            t0 = time.perf_counter()
                            try:
                                r = call()
                                ok = r.status_code in (200, 201)
                            except httpx.HTTPError as exc:
                                r, ok = None, False
                                msg = f"{type(exc).__name__}: {exc}"
                            dt = (time.perf_counter() - t0) * 1000
                            with lock:
                                if ok:
                                    lat[name].append(dt)
                                    rid = r.json()["id"]
                                    acknowledged.add(rid)
                                else:
                                    errors[name].append(msg if r is None else f"{r.status_code}: {r.text[:200]}")
                        if rid is None:
                            continue
                        for name, method, path in ([("analyze", "POST", f"/api/v1/records/{rid}/analyze")] if engine
                                                   else []) + [("fetch", "GET", f"/api/v1/records/{rid}?max_points=2000")]:
                            t0 = time.perf_counter()
                            try:
                                r = c.request(method, path)
                                ok, msg = r.status_code == 200, f"{r.status_code}: {r.text[:200]}"
                            except httpx.HTTPError as exc:
                                ok, msg = False, f"{type(exc).__name__}: {exc}"
                            dt = (time.perf_counter() - t0) * 1000
                            with lock:
                                (lat[name].append(dt) if ok else errors[name].append(msg))

            threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
            t_start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t_start

            # every acknowledged record reads back whole
            missing = []
            with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
                for rid in sorted(acknowledged):
                    r = c.get(f"/api/v1/records/{rid}")
                    if r.status_code != 200 or len(r.json()["signal"]["data"][0]) != r.json()["n_samples"]:
                        missing.append(rid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)

    ops = {name: _pct(lat[name]) for name in ("upload", "analyze", "fetch")}
    n_errors = sum(len(v) for v in errors.values())
    analyze_p99 = ops["analyze"]["p99_ms"]
    result = {
        "benchmark": "server_load",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "clients": args.clients, "duration_s": round(elapsed, 1), "server_workers": args.workers,
        "analysis_engine": "installed" if engine else "not installed: analyze was NOT measured",
        "operations": ops,
        "throughput_uploads_per_s": round(ops["upload"]["n"] / elapsed, 2),
        "errors": {k: {"count": len(v), "examples": v[:3]} for k, v in errors.items()},
        "records_acknowledged": len(acknowledged), "records_not_retrievable": len(missing),
        "goal": {"analyze_p99_ms_below": GOAL_ANALYZE_P99_MS,
                 "met": None if analyze_p99 is None else bool(analyze_p99 < GOAL_ANALYZE_P99_MS and n_errors == 0
                                                             and not missing)},
    }
    print(f"server_load: {args.clients} clients x {elapsed:.0f} s on loopback, {os.cpu_count()} CPUs shared "
          f"with the clients; analysis engine {result['analysis_engine']}")
    print(f"{'operation':<10}{'n':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}{'errors':>8}")
    for name, o in ops.items():
        cells = [f"{o[k]:>10.1f}" if o[k] is not None else f"{'—':>10}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
        print(f"{name:<10}{o['n']:>8}{''.join(cells)}{len(errors.get(name, [])):>8}")
    print(f"records acknowledged {len(acknowledged)}, not retrievable afterwards {len(missing)}; "
          f"goal analyze p99 < {GOAL_ANALYZE_P99_MS:.0f} ms: "
          f"{'not measurable (no analysis engine)' if analyze_p99 is None else result['goal']['met']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if n_errors == 0 and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
