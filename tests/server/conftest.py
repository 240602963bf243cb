"""Server fixtures: a real app on a real SQLite file in tmp_path, users in two teams, real records."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ecgscope.server import Settings, create_app
from ecgscope.server.auth import create_user, issue_token


@dataclass
class Api:
    client: TestClient
    settings: Settings
    tokens: dict[str, str]

    def h(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def _make_api(tmp_path: Path, **settings_kw) -> tuple[TestClient, Settings, dict[str, str]]:
    # analyses in the test process's threads: each app would otherwise spawn worker processes that load
    # the models (seconds per test); tests/server/test_engine_pool.py covers the worker processes
    settings_kw.setdefault("analysis_processes", 0)
    settings = Settings(state_dir=tmp_path / "state", web_dist=tmp_path / "no-dashboard", workers=2, **settings_kw)
    app = create_app(settings)
    client = TestClient(app)
    client.__enter__()
    tokens = {}
    with app.state.ctx.db.session() as s:
        for name, role, team in [("admin", "admin", "cardio"), ("alice", "member", "cardio"),
                                 ("carol", "viewer", "cardio"), ("bob", "member", "other-clinic")]:
            tokens[name] = issue_token(s, create_user(s, name, role=role, team=team))
    return client, settings, tokens


@pytest.fixture
def api(tmp_path) -> Api:
    client, settings, tokens = _make_api(tmp_path)
    yield Api(client, settings, tokens)
    client.__exit__(None, None, None)


@pytest.fixture
def make_api(tmp_path):
    """``make_api(name, **settings)``: one more server with its own state dir and these settings."""
    made = []

    def make(name: str, **settings_kw) -> Api:
        client, settings, tokens = _make_api(tmp_path / name, **settings_kw)
        made.append(client)
        return Api(client, settings, tokens)

    yield make
    for client in made:
        client.__exit__(None, None, None)


@pytest.fixture
def small_api(tmp_path) -> Api:
    """A server with a 100 KiB upload limit."""
    client, settings, tokens = _make_api(tmp_path, max_upload_bytes=100 * 1024)
    yield Api(client, settings, tokens)
    client.__exit__(None, None, None)


def wfdb_files(base: Path) -> list[tuple[str, tuple[str, bytes]]]:
    """Multipart ``files`` fields for the header and signal files of a WFDB record on disk."""
    paths = sorted(p for p in base.parent.glob(base.name + "*") if p.suffix in (".hea", ".dat", ".mat"))
    return [("files", (p.name, p.read_bytes())) for p in paths]


def zip_of(files: list[tuple[str, tuple[str, bytes]]]) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for _, (name, data) in files:
            zf.writestr(f"record/{name}", data)
    return buf.getvalue()


@pytest.fixture(scope="session")
def ptbxl_upload(ptbxl_hr):
    return wfdb_files(ptbxl_hr)


@pytest.fixture(scope="session")
def cinc_upload(data_dir):
    return wfdb_files(data_dir / "cinc2017" / "A00006")


@pytest.fixture(scope="session")
def upload_of():
    """``upload_of(base)``: multipart fields for a WFDB record on disk."""
    return wfdb_files


@pytest.fixture(scope="session")
def zipped():
    """``zipped(fields)``: one zip upload holding the files of ``fields``."""
    return zip_of
