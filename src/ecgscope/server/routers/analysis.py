"""``/api/v1/records/{id}/analyze``, ``…/analysis``, ``…/report.pdf`` and the Holter view's ``…/holter``."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from ecgscope.server.auth import Principal
from ecgscope.server.context import ServerContext
from ecgscope.server.db import AuditEntry
from ecgscope.server.deps import Ctx, CurrentUser, Writer
from ecgscope.server.schemas import AnalyzeRequest, ErrorResponse, HolterBeatWindow
from ecgscope.server.services.analysis import (
    analyze_record,
    get_analysis,
    get_holter,
    holter_beats,
    holter_record,
    holter_summary,
    latest_analysis,
)
from ecgscope.server.services.records import get_row, load_stored

try:  # the engine's own pydantic models document the results: OpenAPI and the shipped JSON Schemas are one
    from ecgscope.holter.schema import HolterReport
    from ecgscope.inference.schema import AnalysisResult
except ImportError:  # no engine: the endpoints answer 503 (services.analysis) and the schema is not documented
    AnalysisResult = HolterReport = None

router = APIRouter(prefix="/api/v1/records", tags=["analysis"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse}, 404: {"model": ErrorResponse}, 422: {"model": ErrorResponse},
    503: {"model": ErrorResponse, "description": "analysis engine not installed"},
}


def _json(result: dict) -> Response:
    """The result as a JSON response.  The engine validated it against ``AnalysisResult`` when it made it,
    so it is sent as it is, not validated again (``response_model`` still documents it in OpenAPI)."""
    return Response(json.dumps(result, separators=(",", ":"), allow_nan=False), media_type="application/json")


def _analyze(ctx: ServerContext, principal: Principal, record_id: str, req: AnalyzeRequest) -> Response:
    return _json(analyze_record(ctx, principal, record_id, model_name=req.model, version=req.version,
                                explain=req.explain, explain_labels=req.explain_labels, pad_short=req.pad_short))


@router.post("/{record_id}/analyze", response_model=AnalysisResult,
             responses={**_ERRORS, 403: {"model": ErrorResponse}})
async def analyze(ctx: Ctx, principal: Writer, record_id: str,
                  body: Annotated[AnalyzeRequest | None, Body()] = None) -> Response:
    """Run a model on the record and keep the result; returns the DESIGN §4 analysis JSON."""
    # the analysis, its storage and the JSON encoding all run in the worker pool, off the event loop
    return await ctx.analysis_pool.run(_analyze, ctx, principal, record_id, body or AnalyzeRequest())


@router.get("/{record_id}/analysis", response_model=AnalysisResult, responses=_ERRORS)
def analysis(ctx: Ctx, principal: CurrentUser, record_id: str,
             model: Annotated[str | None, Query(description="model name; default the latest analysis")] = None,
             version: Annotated[str | None, Query()] = None) -> Response:
    """The stored analysis JSON (DESIGN §4) of the record."""
    return _json(get_analysis(ctx, principal, record_id, model, version))


def _report(ctx: ServerContext, principal: Principal, record_id: str, model: str | None) -> tuple[bytes, str]:
    from ecgscope.report import render_report  # matplotlib is imported on the first report only

    with ctx.db.session() as s:
        row = get_row(s, principal, record_id)
        found = latest_analysis(s, record_id, model)
        result = found.result if found is not None else None
        patient = {"patient_id": row.patient_id, "record_name": row.record_name, "age": row.age, "sex": row.sex,
                   "acquired": f"uploaded {row.created_at:%Y-%m-%d %H:%M}"}
        s.add(AuditEntry(user_id=principal.user_id, action="report", record_id=record_id,
                         detail={"analysis": f"{found.model_name} {found.model_version}" if found else None}))
        name = row.record_name or row.id
    pdf = render_report(load_stored(ctx, row), result, patient)
    return pdf, name


@router.get("/{record_id}/report.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}, **_ERRORS})
async def report(ctx: Ctx, principal: CurrentUser, record_id: str,
                 model: Annotated[str | None, Query(description="whose analysis to print; default the latest")] = None
                 ) -> Response:
    """The printable report: true-scale 12-lead, and findings when the record has been analyzed."""
    pdf, name = await ctx.analysis_pool.run(_report, ctx, principal, record_id, model)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "record"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="ecg-report-{safe}.pdf"'})


def _holter(ctx: ServerContext, principal: Principal, record_id: str) -> Response:
    return _json(holter_record(ctx, principal, record_id))


@router.post("/{record_id}/holter", response_model=HolterReport, responses={**_ERRORS, 403: {"model": ErrorResponse}})
async def holter(ctx: Ctx, principal: Writer, record_id: str) -> Response:
    """Analyse a long recording (>= 60 s) beat by beat: beat classes per hour, AF episodes and burden, pauses,
    brady/tachycardia, the heart-rate trend and long-term HRV (the Holter JSON, ``holter_schema_version``)."""
    return await ctx.analysis_pool.run(_holter, ctx, principal, record_id)


@router.get("/{record_id}/holter", response_model=HolterReport, responses=_ERRORS)
def holter_result(ctx: Ctx, principal: CurrentUser, record_id: str) -> Response:
    """The stored Holter analysis of the record (without its beat list: see ``…/holter/beats``)."""
    return _json(holter_summary(get_holter(ctx, principal, record_id)))


@router.get("/{record_id}/holter/beats", response_model=HolterBeatWindow, responses=_ERRORS)
def holter_beat_window(ctx: Ctx, principal: CurrentUser, record_id: str,
                       start_s: Annotated[float, Query(ge=0)], end_s: Annotated[float, Query(gt=0)]) -> dict:
    """The beats of the stored Holter analysis in a window: R-peak times (s) and AAMI classes (N, S, V)."""
    return holter_beats(ctx, principal, record_id, start_s, end_s)
