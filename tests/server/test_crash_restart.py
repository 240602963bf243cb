"""Kill the server (SIGKILL) while uploads are in flight, restart it: no partial record survives.

Every upload the server acknowledged is complete after the restart, every listed record reads
back, no stored file lacks its row or row its file, and the temporary area is empty.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ecgscope.server import Settings
from ecgscope.server.auth import create_user, issue_token
from ecgscope.server.context import ServerContext

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(state: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "ecgscope.cli", "serve", "--state-dir", str(state), "--port",
                             str(port), "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "ECGSCOPE_WEB_DIST": str(state / "no-dashboard")})
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("server did not become ready")


def _multipart(paths: list[Path]) -> tuple[bytes, str]:
    boundary = "crashtestboundary"
    parts = []
    for p in paths:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{p.name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + p.read_bytes() + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def test_kill_during_uploads_leaves_no_partial_record(tmp_path, data_dir):
    state = tmp_path / "state"
    ctx = ServerContext(Settings(state_dir=state))
    ctx.start()
    with ctx.db.session() as s:
        token = issue_token(s, create_user(s, "nurse", team="ward"))
    ctx.close()
    headers = {"Authorization": f"Bearer {token}"}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(state, port)

    records = sorted(p.with_suffix("") for p in (data_dir / "cinc2017").glob("A0*.hea"))[:200]
    acknowledged: dict[str, Path] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def uploader(k: int) -> None:
        with httpx.Client(timeout=10) as client:
            for base in records[k::4]:
                if stop.is_set():
                    return
                files = [("files", (p.name, p.read_bytes())) for p in (base.with_suffix(".hea"), base.with_suffix(".mat"))]
                try:
                    r = client.post(f"{url}/api/v1/records", files=files, headers=headers)
                except httpx.HTTPError:
                    return  # the server died under us
                if r.status_code == 201:
                    with lock:
                        acknowledged[r.json()["id"]] = base

    # one upload is certainly mid-body when the server dies: half of it sent, the connection held open
    half_base = data_dir / "ptbxl" / "records500" / "00000" / "00002_hr"
    body, boundary = _multipart(sorted(half_base.parent.glob(half_base.name + "*")))
    raw = socket.create_connection(("127.0.0.1", port))
    raw.sendall((f"POST /api/v1/records HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                 f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n"
                 ).encode() + body[: len(body) // 2])

    threads = [threading.Thread(target=uploader, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while len(acknowledged) < 12 and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    raw.close()
    assert len(acknowledged) >= 12, "the uploads did not get going before the kill"

    proc = _start(state, port)
    try:
        with httpx.Client(timeout=10) as client:
            listed = client.get(f"{url}/api/v1/records?page_size=200", headers=headers).json()
            ids = {item["id"] for item in listed["items"]}
            assert listed["total"] == len(ids)
            # everything acknowledged survived; nothing else appeared (the half upload left no trace)
            assert set(acknowledged) <= ids
            assert len(ids) - len(acknowledged) <= 4  # at most the uploads whose answer the kill swallowed
            assert "00002_hr" not in {item["record_name"] for item in listed["items"]}
            for rid in ids:
                r = client.get(f"{url}/api/v1/records/{rid}", headers=headers)
                assert r.status_code == 200, r.text
                sig = r.json()["signal"]
                assert len(sig["data"][0]) == r.json()["n_samples"] > 0
        # the store holds exactly the referenced, intact files, and nothing half-written
        db = sqlite3.connect(state / "ecgscope.db")
        referenced = {row[0] for row in db.execute("SELECT sha256 FROM record_files")}
        db.close()
        storage = state / "storage"
        blobs = {p.parent.name + p.name: p for p in storage.glob("??/*")}
        assert set(blobs) == referenced
        for digest, path in blobs.items():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
        assert list((storage / "tmp").iterdir()) == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_failure_between_file_write_and_commit_leaves_no_row_and_restart_sweeps(tmp_path, ptbxl_hr, monkeypatch):
    from ecgscope.server.services import records as records_service

    settings = Settings(state_dir=tmp_path / "state")
    ctx = ServerContext(settings)
    ctx.start()
    with ctx.db.session() as s:
        user = create_user(s, "nurse", team="ward")
    from ecgscope.server.auth import principal_of

    principal = principal_of(user)
    files = [records_service.UploadedFile(p.name, p.read_bytes()) for p in sorted(ptbxl_hr.parent.glob("00002_hr*"))]
    parsed = records_service.parse_upload(files, max_bytes=settings.max_upload_bytes, max_files=8)

    def crash(*_a, **_k):
        raise RuntimeError("simulated crash after the files were written, before the commit")

    monkeypatch.setattr(records_service, "AuditEntry", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        records_service.store_upload(ctx, principal, parsed)
    monkeypatch.undo()
    db = sqlite3.connect(settings.state_dir / "ecgscope.db")
    assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM record_files").fetchone()[0] == 0
    db.close()
    assert len(list(settings.storage_dir.glob("??/*"))) == 3  # durable files, no row: invisible
    ctx.close()
    swept = ServerContext(settings).start()
    assert swept["orphans"] == 3 and list(settings.storage_dir.glob("??/*")) == []


def test_restart_marks_interrupted_analyses_failed(api, ptbxl_upload):
    rid = api.client.post("/api/v1/records", files=ptbxl_upload, headers=api.h("alice")).json()["id"]
    db = sqlite3.connect(api.settings.state_dir / "ecgscope.db")
    db.execute("UPDATE records SET status = 'analyzing' WHERE id = ?", (rid,))
    db.commit()
    db.close()
    ServerContext(api.settings).start()
    row = api.client.get(f"/api/v1/records/{rid}?signal=false", headers=api.h("alice")).json()
    assert row["status"] == "failed" and "interrupted" in row["status_detail"]
