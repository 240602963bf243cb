"""Health probes, CORS (closed by default), security headers, OpenAPI, the dashboard mount, settings."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ecgscope.errors import ECGScopeError
from ecgscope.server import Settings, create_app


def test_health_and_readiness(api):
    assert api.client.get("/healthz").json()["status"] == "ok"
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_cors_closed_by_default(api):
    r = api.client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = api.client.options("/api/v1/records", headers={"Origin": "https://evil.example",
                                                         "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allow_list(tmp_path):
    settings = Settings(state_dir=tmp_path, web_dist=tmp_path / "none", cors_origins=("https://ward.example",))
    with TestClient(create_app(settings)) as client:
        ok = client.options("/api/v1/records", headers={"Origin": "https://ward.example",
                                                        "Access-Control-Request-Method": "POST"})
        assert ok.headers["access-control-allow-origin"] == "https://ward.example"
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_security_headers_and_openapi(api):
    r = api.client.get("/openapi.json")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    paths = r.json()["paths"]
    for p in ("/api/v1/records", "/api/v1/records/{record_id}", "/api/v1/records/{record_id}/analyze",
              "/api/v1/records/{record_id}/analysis", "/api/v1/records/{record_id}/report.pdf", "/api/v1/models"):
        assert p in paths


def test_dashboard_served_or_explained(tmp_path, api):
    missing = api.client.get("/")
    assert missing.status_code == 200 and "make web" in missing.text
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>ecgscope dashboard</title>")
    with TestClient(create_app(Settings(state_dir=tmp_path / "s2", web_dist=dist))) as client:
        assert "ecgscope dashboard" in client.get("/").text
        assert client.get("/api/v1/records").status_code == 401  # the API is not shadowed by the mount


def test_settings_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ECGSCOPE_STATE_DIR", str(tmp_path / "st"))
    monkeypatch.setenv("ECGSCOPE_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("ECGSCOPE_CORS_ORIGINS", "https://a.example, https://b.example")
    s = Settings.from_env()
    assert s.database_url == f"sqlite:///{tmp_path / 'st' / 'ecgscope.db'}"
    assert s.storage_dir == tmp_path / "st" / "storage"
    assert s.max_upload_bytes == 1234 and s.cors_origins == ("https://a.example", "https://b.example")
    moved = Settings.from_env(state_dir=tmp_path / "other")
    assert moved.storage_dir == tmp_path / "other" / "storage" and "other" in moved.database_url
    monkeypatch.setenv("ECGSCOPE_DATABASE_URL", "postgresql+psycopg://u:p@db/ecg")
    assert Settings.from_env().database_url == "postgresql+psycopg://u:p@db/ecg"
    monkeypatch.setenv("ECGSCOPE_WORKERS", "many")
    with pytest.raises(ECGScopeError, match="ECGSCOPE_WORKERS"):
        Settings.from_env()


def test_schema_compiles_for_postgresql():
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    from ecgscope.server.db import Base

    ddl = "\n".join(str(CreateTable(t).compile(dialect=postgresql.dialect())) for t in Base.metadata.sorted_tables)
    assert "JSONB" in ddl and "TIMESTAMP WITH TIME ZONE" in ddl


def test_analysis_settings(monkeypatch, tmp_path):
    import os

    cpus = os.cpu_count() or 2
    s = Settings(state_dir=tmp_path, workers=1)
    assert s.analysis_backend == "onnx" and s.analysis_threads == cpus  # one worker: all the cores
    assert Settings(state_dir=tmp_path, workers=cpus * 2).analysis_threads == 1
    monkeypatch.setenv("ECGSCOPE_ANALYSIS_BACKEND", "Torch")
    monkeypatch.setenv("ECGSCOPE_WORKERS", "1")
    env = Settings.from_env(state_dir=tmp_path)
    assert env.analysis_backend == "torch" and env.analysis_threads == cpus
    assert Settings.from_env(state_dir=tmp_path, workers=cpus * 4).analysis_threads == 1  # follows --workers
    with pytest.raises(ECGScopeError, match="analysis_backend"):
        Settings(state_dir=tmp_path, analysis_backend="tensorrt")


def test_analysis_processes_setting(monkeypatch, tmp_path):
    import ecgscope.server.settings as settings_module

    monkeypatch.setattr(settings_module, "_cpus", lambda: 64)
    assert Settings(state_dir=tmp_path).analysis_processes == 8  # one per CPU, capped: each holds the models
    monkeypatch.setattr(settings_module, "_cpus", lambda: 2)
    assert Settings(state_dir=tmp_path).analysis_processes == 2
    monkeypatch.setenv("ECGSCOPE_ANALYSIS_PROCESSES", "0")
    assert Settings.from_env(state_dir=tmp_path).analysis_processes == 0
    assert Settings.from_env(state_dir=tmp_path, analysis_processes=3).analysis_processes == 3  # --processes
    with pytest.raises(ECGScopeError, match="analysis_processes must be >= 0"):
        Settings(state_dir=tmp_path, analysis_processes=-1)
