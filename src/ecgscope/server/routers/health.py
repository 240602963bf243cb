"""Liveness and readiness probes (no token needed; they reveal no records)."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

import ecgscope
from ecgscope.server.deps import Ctx
from ecgscope.server.services.analysis import engine_available

router = APIRouter(tags=["health"])


@router.get("/healthz")
def live() -> dict:
    """The process answers."""
    return {"status": "ok", "version": ecgscope.__version__}


@router.get("/readyz")
def ready(ctx: Ctx) -> JSONResponse:
    """Ready to take uploads: the database answers and the store is writable (503 otherwise)."""
    checks: dict[str, str] = {}
    try:
        with ctx.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # a probe reports, it does not raise
        checks["database"] = f"error: {type(exc).__name__}"
    checks["storage"] = "ok" if os.access(ctx.store.root, os.W_OK) else "error: not writable"
    checks["analysis_engine"] = "ok" if engine_available() else "not installed"
    ok = checks["database"] == "ok" and checks["storage"] == "ok"
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)
