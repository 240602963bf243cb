"""The server on a real PostgreSQL server that the test starts (Debian's ``postgresql`` package): upload, analyze,
list, delete, and a restart of the server on the same database.  Skipped, saying why, only where PostgreSQL's
binaries are not installed."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecgscope.server import Settings, create_app
from ecgscope.server.auth import create_user, issue_token

pytestmark = pytest.mark.xdist_group("postgres")


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or ([shutil.which(name)] if shutil.which(name) else [])
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL is not installed here (Debian: apt-get install postgresql); the server's PostgreSQL "
                    "tests need its initdb and pg_ctl")
    # its own directory in /tmp (pytest's are private to root, and PostgreSQL runs as its own user here)
    root = Path(tempfile.mkdtemp(prefix="ecgscope-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    # PostgreSQL refuses to run as root: as root, run it as the package's postgres user
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "ecgscope", "--no-sync"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        subprocess.run([*as_user, _bin("createdb") or "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "ecgscope",
                        "ecgscope"], check=True)
        yield f"postgresql+psycopg://ecgscope@127.0.0.1:{port}/ecgscope"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], stdout=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


def _server(url: str, state: Path) -> TestClient:
    settings = Settings(state_dir=state, database_url=url, web_dist=state / "no-dashboard", workers=2,
                        analysis_processes=0)
    assert not settings.is_sqlite
    client = TestClient(create_app(settings))
    client.__enter__()
    return client


def test_the_server_keeps_its_records_in_postgresql_across_a_restart(postgres_url, tmp_path, ptbxl_upload):
    import sqlalchemy

    client = _server(postgres_url, tmp_path / "state")
    with client.app.state.ctx.db.session() as s:
        token = issue_token(s, create_user(s, "alice", role="member", team="cardio"))
    h = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/v1/records", files=ptbxl_upload, data={"patient_id": "P-1"}, headers=h)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = client.post(f"/api/v1/records/{rid}/analyze", headers=h)
    assert r.status_code == 200, r.text
    analysis = r.json()
    second = client.post("/api/v1/records", files=[("files", ("strip.csv", b"# fs=250\nI\n" + b"0.1\n0.2\n" * 600))],
                         headers=h)
    assert second.status_code == 201, second.text
    client.__exit__(None, None, None)  # the server stops

    # the rows are in PostgreSQL itself, the analysis as JSONB
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as c:
        assert c.execute(sqlalchemy.text("select count(*) from records")).scalar() == 2
        kinds = c.execute(sqlalchemy.text(
            "select data_type from information_schema.columns where data_type = 'jsonb'")).scalars().all()
        assert kinds, "no JSONB column: the PostgreSQL variant of the schema was not used"
    engine.dispose()

    client = _server(postgres_url, tmp_path / "state")  # a restart on the same database and file store
    try:
        listed = client.get("/api/v1/records", headers=h).json()
        assert listed["total"] == 2
        row = client.get(f"/api/v1/records/{rid}?signal=false", headers=h).json()
        assert row["status"] == "analyzed" and row["patient_id"] == "P-1"
        again = client.get(f"/api/v1/records/{rid}/analysis", headers=h)
        assert again.status_code == 200, again.text
        assert again.json()["classification"] == analysis["classification"]
        assert client.delete(f"/api/v1/records/{rid}", headers=h).status_code in (200, 204)
        assert client.get(f"/api/v1/records/{rid}?signal=false", headers=h).status_code == 404
        assert client.get("/api/v1/records", headers=h).json()["total"] == 1
    finally:
        client.__exit__(None, None, None)
