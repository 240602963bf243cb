"""The FastAPI application: API routers, the dashboard at ``/``, error mapping, middleware."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

import ecgscope
from ecgscope.errors import ECGScopeError
from ecgscope.server.context import ServerContext
from ecgscope.server.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from ecgscope.server.routers import admin, analysis, health, models, records
from ecgscope.server.settings import MULTIPART_OVERHEAD_BYTES, Settings

log = logging.getLogger("ecgscope.server")

# a second server process sharing the store may hold uncommitted blobs younger than this
SHARED_STORE_SWEEP_AGE_S = 3600.0

_NOT_BUILT = """<!doctype html><html><head><meta charset="utf-8"><title>ecgscope</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>ecgscope server</h1><p>The API is running (<a href="/docs">/docs</a>), but the dashboard is not built:
<code>{dist}</code> is missing. Run <code>make web</code> (or <code>npm ci &amp;&amp; npm run build</code> in
<code>web/</code>) and reload.</p></body></html>"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The server application for ``settings`` (default: from the environment)."""
    settings = settings or Settings.from_env()
    ctx = ServerContext(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        swept = ctx.start(0.0 if settings.is_sqlite else SHARED_STORE_SWEEP_AGE_S)
        if any(swept.values()):
            log.warning("removed what an interrupted upload left behind: %s", swept)
        if ctx.engine_pool is not None:
            ctx.engine_pool.start()  # the workers load the models while the server already answers
        yield
        ctx.close()

    app = FastAPI(title="ecgscope", version=ecgscope.__version__, lifespan=lifespan,
                  description="Upload ECG records, analyze them with ECG foundation models, print reports.")
    app.state.ctx = ctx

    @app.exception_handler(ECGScopeError)
    async def _ecgscope_error(_request: Request, err: ECGScopeError) -> JSONResponse:
        return JSONResponse({"detail": err.to_dict()}, status_code=err.http_status)

    for router in (records.router, analysis.router, models.router, admin.router, health.router):
        app.include_router(router)

    dist = Path(settings.web_dist)
    if (dist / "index.html").is_file():
        app.mount("/", StaticFiles(directory=dist, html=True), name="dashboard")
    else:
        @app.get("/", include_in_schema=False)
        def _dashboard_missing() -> HTMLResponse:
            return HTMLResponse(_NOT_BUILT.format(dist=dist))

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
