"""``/api/v1/records``: upload, the patient queue, one record (with its samples), delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from ecgscope.server.deps import Ctx, CurrentUser, DbSession, Writer
from ecgscope.server.schemas import ErrorResponse, RecordDetail, RecordPage, RecordSummary, UploadResult
from ecgscope.server.services.records import (
    UploadedFile,
    delete_row,
    get_row,
    list_rows,
    load_stored,
    parse_upload,
    record_summary,
    signal_payload,
    store_upload,
)

router = APIRouter(prefix="/api/v1/records", tags=["records"])

_ERRORS = {401: {"model": ErrorResponse}, 404: {"model": ErrorResponse}}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UploadResult,
             responses={200: {"model": UploadResult, "description": "the same bytes were already stored"},
                        401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
                        413: {"model": ErrorResponse}, 415: {"model": ErrorResponse},
                        422: {"model": ErrorResponse}})
async def upload_record(
    ctx: Ctx,
    principal: Writer,
    response: Response,
    files: Annotated[list[UploadFile] | None, File(description=".hea+.dat(s), a zip of them, .mat(+.hea), .csv, "
                                                               ".json, .edf, .npy/.npz")] = None,
    patient_id: Annotated[str | None, Form(max_length=100)] = None,
    fs: Annotated[float | None, Form(description="sampling rate for formats that do not state it")] = None,
    units: Annotated[str | None, Form(description="mV, uV or V for formats that do not state it")] = None,
) -> dict:
    """Upload one record; it is parsed and validated before anything is stored."""
    uploaded = []
    for f in files or []:
        uploaded.append(UploadedFile(f.filename or "upload", await f.read()))
        await f.close()
    limits = {"max_bytes": ctx.settings.max_upload_bytes, "max_files": ctx.settings.max_upload_files}
    parsed = await ctx.pool.run(parse_upload, uploaded, fs=fs, units=units, **limits)
    row, created = await ctx.pool.run(store_upload, ctx, principal, parsed, patient_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return {**record_summary(row), "duplicate": not created}


@router.get("", response_model=RecordPage, responses=_ERRORS)
def list_records(
    session: DbSession,
    principal: CurrentUser,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Annotated[str | None, Query(description="uploaded | analyzing | analyzed | failed")] = None,
    patient_id: Annotated[str | None, Query(description="one patient's history")] = None,
) -> dict:
    """The records this user may see, newest first (the patient queue and history)."""
    rows, total = list_rows(session, principal, page=page, page_size=page_size, status=status, patient_id=patient_id)
    return {"items": [record_summary(r) for r in rows], "total": total, "page": page, "page_size": page_size}


@router.get("/{record_id}", response_model=RecordDetail, responses=_ERRORS)
def get_record(
    ctx: Ctx,
    session: DbSession,
    principal: CurrentUser,
    record_id: str,
    signal: Annotated[bool, Query(description="include the samples")] = True,
    max_points: Annotated[int | None, Query(ge=100, le=10_000_000,
                                            description="decimate to at most this many samples per lead")] = None,
) -> dict:
    """Metadata and samples (mV) of one record."""
    row = get_row(session, principal, record_id)
    out = record_summary(row)
    if signal:
        out["signal"] = signal_payload(load_stored(ctx, row), max_points)
    return out


@router.delete("/{record_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={**_ERRORS, 403: {"model": ErrorResponse}})
def delete_record(ctx: Ctx, principal: Writer, record_id: str) -> Response:
    """Delete a record, its analyses and its files; the audit log keeps who deleted what and when."""
    delete_row(ctx, principal, record_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


__all__ = ["router", "RecordSummary"]
