"""``/api/v1/records``: upload, the patient queue, one record (with its samples), delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.formparsers import MultiPartException

from ecgscope.errors import RecordFormatError
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


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["files"],
    "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                  "description": "the files of ONE record: .hea + .dat(s), a zip of them, .mat(+.hea), .csv, .json, "
                                 ".edf, .npy/.npz"},
        "patient_id": {"type": "string", "maxLength": 100},
        "fs": {"type": "number", "description": "sampling rate for formats that do not state it"},
        "units": {"type": "string", "description": "mV, uV or V for formats that do not state it"},
    }}}}}}


def _form_number(value: str | None, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise RecordFormatError(f"{field} must be a number; got {value!r}", source=field, code="bad_field") from None


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UploadResult, openapi_extra=_UPLOAD_BODY,
             responses={200: {"model": UploadResult, "description": "the same bytes were already stored"},
                        401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
                        413: {"model": ErrorResponse}, 415: {"model": ErrorResponse},
                        422: {"model": ErrorResponse}})
async def upload_record(request: Request, ctx: Ctx, principal: Writer, response: Response) -> dict:
    """Upload one record; it is parsed and validated before anything is stored.

    The token is checked before the body is read: an anonymous client cannot make the server parse
    an upload.
    """
    limits = {"max_bytes": ctx.settings.max_upload_bytes, "max_files": ctx.settings.max_upload_files}
    try:
        form = await request.form(max_files=limits["max_files"] + 1, max_fields=16)
    except MultiPartException as exc:
        raise RecordFormatError(f"malformed multipart upload: {exc.message}", source="upload",
                                code="bad_multipart") from None
    uploaded = []
    try:
        for f in form.getlist("files"):
            if isinstance(f, StarletteUploadFile):
                uploaded.append(UploadedFile(f.filename or "upload", await f.read()))
        patient_id = form.get("patient_id")
        options = {"fs": _form_number(form.get("fs"), "fs"), "units": form.get("units") or None}
    finally:
        await form.close()
    if isinstance(patient_id, str) and len(patient_id) > 100:
        raise RecordFormatError("patient_id is longer than 100 characters", source="patient_id", code="bad_field")
    parsed = await ctx.pool.run(parse_upload, uploaded, **options, **limits)
    row, created = await ctx.pool.run(store_upload, ctx, principal, parsed,
                                      patient_id if isinstance(patient_id, str) else None)
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
    start_s: Annotated[float, Query(ge=0, description="first second of the samples returned")] = 0.0,
    duration_s: Annotated[float | None, Query(gt=0, description="seconds of samples returned (default: to the "
                                                                 "end)")] = None,
) -> dict:
    """Metadata and samples (mV) of one record, or of a window of it (``start_s``, ``duration_s``)."""
    row = get_row(session, principal, record_id)
    out = record_summary(row)
    if signal:
        out["signal"] = signal_payload(load_stored(ctx, row), max_points, start_s, duration_s)
    return out


@router.delete("/{record_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={**_ERRORS, 403: {"model": ErrorResponse}})
def delete_record(ctx: Ctx, principal: Writer, record_id: str) -> Response:
    """Delete a record, its analyses and its files; the audit log keeps who deleted what and when."""
    delete_row(ctx, principal, record_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


__all__ = ["router", "RecordSummary"]
