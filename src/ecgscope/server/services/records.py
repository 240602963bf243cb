"""Uploading, listing, loading and deleting records.

An upload is parsed with :func:`ecgscope.io.load_record` on the uploaded bytes (a mapping
``{file name: bytes}``; names are format hints, never paths), so everything a user can send is
checked by the same readers as files on disk.  Only a record that parsed and validated is
stored: its files go into the content-addressed store, then its row is committed in one
transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecgscope.errors import ECGScopeError, FileTooLargeError, MissingInputError, RecordFormatError
from ecgscope.io import load_record
from ecgscope.io._source import safe_name
from ecgscope.record import Record
from ecgscope.server.auth import Principal
from ecgscope.server.context import ServerContext
from ecgscope.server.db import STATUSES, AuditEntry, RecordFile, RecordRow

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class UploadedFile:
    name: str
    data: bytes


@dataclass(frozen=True)
class ParsedUpload:
    files: dict[str, bytes]  # safe name -> bytes
    record: Record
    options: dict[str, Any]

    @property
    def content_sha256(self) -> str:
        """The record's identity: its files and the reader options (the same array at another fs differs)."""
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        h.update(json.dumps(self.options, sort_keys=True).encode())
        return h.hexdigest()


def parse_upload(files: list[UploadedFile], *, max_bytes: int, max_files: int, fs: float | None = None,
                 units: str | None = None) -> ParsedUpload:
    """Check and parse an upload (CPU work: call it from the worker pool)."""
    label = ", ".join(safe_name(f.name) for f in files[:4]) or "upload"
    if not files:
        raise RecordFormatError("the upload holds no files (send them as multipart field 'files')",
                                source="upload", code="empty_upload")
    if len(files) > max_files:
        raise RecordFormatError(f"the upload holds {len(files)} files; at most {max_files} are accepted "
                                "(send one record at a time, or a zip of it)", source=label, code="too_many_files")
    total = sum(len(f.data) for f in files)
    if total > max_bytes:
        raise FileTooLargeError(f"upload is {total / 1024**2:.1f} MiB; the limit is {max_bytes / 1024**2:.0f} MiB",
                                source=label)
    named: dict[str, bytes] = {}
    for f in files:
        name = safe_name(f.name)
        if name in named:
            raise RecordFormatError(f"two uploaded files are both named {name!r}", source=label,
                                    code="duplicate_file_name")
        if not f.data:
            raise RecordFormatError(f"{name} is empty (0 bytes)", source=label, code="empty_file")
        named[name] = f.data
    options = {k: v for k, v in (("fs", fs), ("units", units)) if v is not None}
    record = _load(named, options, max_bytes, label)
    return ParsedUpload(named, record, options)


def _load(files: dict[str, bytes], options: dict[str, Any], max_bytes: int, label: str) -> Record:
    # the readers' errors name the upload, never their private staging directory, and a file the upload
    # lacks is a malformed upload (422) (tests/server/test_records.py checks both)
    try:
        return load_record(files, max_bytes=max_bytes, name=label, **options)
    except ECGScopeError:
        raise
    except Exception as exc:  # a reader bug must still answer as bad input, not a 500 with a traceback
        raise RecordFormatError(f"could not read the upload ({type(exc).__name__}: {exc})", source=label,
                                code="unreadable") from None


def store_upload(ctx: ServerContext, principal: Principal, parsed: ParsedUpload,
                 patient_id: str | None = None) -> tuple[RecordRow, bool]:
    """Write the files and the row; returns ``(row, created)``.  The same bytes again are the same record."""
    rec = parsed.record
    content = parsed.content_sha256
    # the slow part (writing and fsyncing the files) runs outside the lock; under it, a file that a
    # concurrent delete removed meanwhile is written again, so the row never points at a missing file
    digests = {name: ctx.store.put(data) for name, data in parsed.files.items()}  # durable before the row
    with ctx.store.lock, ctx.db.session() as s:
        existing = s.scalar(select(RecordRow).where(RecordRow.owner_id == principal.user_id,
                                                    RecordRow.content_sha256 == content))
        if existing is not None:
            return existing, False
        for name, digest in digests.items():
            if not ctx.store.exists(digest):
                ctx.store.put(parsed.files[name])
        pid = (patient_id or "").strip() or (str(rec.patient_id) if rec.patient_id else None)
        row = RecordRow(
            owner_id=principal.user_id, team_id=principal.team_id, content_sha256=content,
            record_name=(rec.record_id or next(iter(parsed.files)))[:200], patient_id=pid[:100] if pid else None,
            source_format=rec.source_format, fs=rec.fs, n_leads=rec.n_leads, n_samples=rec.n_samples,
            duration_s=rec.duration_s, leads=list(rec.leads), parse_options=parsed.options, age=rec.age,
            sex=rec.sex, status="uploaded",
            files=[RecordFile(name=n, sha256=d, size=len(parsed.files[n])) for n, d in digests.items()],
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError:
            # another server process stored the same bytes for this user a moment ago (PostgreSQL
            # deployments run several); the unique constraint makes it one record
            s.rollback()
            existing = s.scalar(select(RecordRow).where(RecordRow.owner_id == principal.user_id,
                                                        RecordRow.content_sha256 == content))
            if existing is None:
                raise
            return existing, False
        s.add(AuditEntry(user_id=principal.user_id, action="upload", record_id=row.id,
                         detail={"files": {n: d for n, d in digests.items()}, "patient_id": row.patient_id}))
    ctx.records.put(content, rec)
    return row, True


def visible(principal: Principal):
    """SQL condition: records the principal may see (own, or the own team's)."""
    team_clause = and_(RecordRow.team_id == principal.team_id) if principal.team_id is not None else false()
    return or_(RecordRow.owner_id == principal.user_id, team_clause)


def get_row(session: Session, principal: Principal, record_id: str) -> RecordRow:
    """A visible record or 404 (another team's record is indistinguishable from a missing one)."""
    row = None
    if len(record_id) == 32 and all(c in "0123456789abcdef" for c in record_id):
        row = session.scalar(select(RecordRow).where(RecordRow.id == record_id, visible(principal)))
    if row is None:
        raise MissingInputError(f"no record {record_id!r}", source="records", code="record_not_found")
    return row


def list_rows(session: Session, principal: Principal, *, page: int = 1, page_size: int = 50,
              status: str | None = None, patient_id: str | None = None) -> tuple[list[RecordRow], int]:
    if status is not None and status not in STATUSES:
        raise ECGScopeError(f"unknown status {status!r}; one of {', '.join(STATUSES)}", code="bad_status")
    page = max(1, page)
    page_size = min(max(1, page_size), MAX_PAGE_SIZE)
    cond = [visible(principal)]
    if status:
        cond.append(RecordRow.status == status)
    if patient_id:
        cond.append(RecordRow.patient_id == patient_id)
    total = session.scalar(select(func.count()).select_from(RecordRow).where(*cond)) or 0
    rows = session.scalars(select(RecordRow).where(*cond).order_by(RecordRow.created_at.desc(), RecordRow.id)
                           .offset((page - 1) * page_size).limit(page_size)).all()
    return list(rows), int(total)


def load_stored(ctx: ServerContext, row: RecordRow) -> Record:
    """The parsed record of a stored row (from the cache, or re-read from its blobs)."""
    rec = ctx.records.get(row.content_sha256)
    if rec is None:
        files = {f.name: ctx.store.get(f.sha256) for f in row.files}
        rec = _load(files, dict(row.parse_options or {}), ctx.settings.max_upload_bytes, row.record_name or row.id)
        ctx.records.put(row.content_sha256, rec)
    return rec


def delete_row(ctx: ServerContext, principal: Principal, record_id: str) -> dict:
    """Delete a record, its analyses and its files no other record shares; the audit entry stays."""
    with ctx.store.lock, ctx.db.session() as s:
        row = get_row(s, principal, record_id)
        detail = {"record_name": row.record_name, "patient_id": row.patient_id, "content_sha256": row.content_sha256,
                  "owner_id": row.owner_id, "files": {f.name: f.sha256 for f in row.files}}
        digests = [f.sha256 for f in row.files]
        content = row.content_sha256
        s.delete(row)
        s.add(AuditEntry(user_id=principal.user_id, action="delete", record_id=record_id, detail=detail))
        s.flush()
        still_used = set(s.scalars(select(RecordFile.sha256).where(RecordFile.sha256.in_(digests))).all())
        s.commit()
        for d in digests:
            if d not in still_used:
                ctx.store.delete(d)
    ctx.records.drop(content)
    return detail


def decimate_for_display(signal: np.ndarray, fs: float, max_points: int) -> tuple[np.ndarray, float, str]:
    """At most ``max_points`` samples per lead for drawing; returns ``(signal, fs_out, method)``.

    ``minmax``: each bucket of ``k`` samples becomes its minimum and maximum in time order, drawn as
    2 samples at ``2 * fs / k`` Hz, so R peaks and pacing spikes survive; an extreme is drawn at most
    one bucket (``k / fs`` s) from its true time.  ``none``: the record already fits.
    """
    n_leads, n = signal.shape
    if max_points >= n:
        return signal, fs, "none"
    k = max(3, int(np.ceil(2 * n / max(2, max_points))))  # k >= 3: fewer points than samples
    n_buckets = n // k
    body = signal[:, : n_buckets * k].reshape(n_leads, n_buckets, k)
    i_min, i_max = body.argmin(axis=2), body.argmax(axis=2)
    first = np.minimum(i_min, i_max)[..., None]
    second = np.maximum(i_min, i_max)[..., None]
    out = np.empty((n_leads, 2 * n_buckets), dtype=signal.dtype)
    out[:, 0::2] = np.take_along_axis(body, first, axis=2)[..., 0]
    out[:, 1::2] = np.take_along_axis(body, second, axis=2)[..., 0]
    return out, 2 * fs / k, "minmax"


def record_summary(row: RecordRow) -> dict:
    return {
        "id": row.id, "record_name": row.record_name, "patient_id": row.patient_id, "status": row.status,
        "status_detail": row.status_detail, "source_format": row.source_format, "fs": row.fs,
        "n_leads": row.n_leads, "n_samples": row.n_samples, "duration_s": round(row.duration_s, 4),
        "leads": list(row.leads), "age": row.age, "sex": row.sex,
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
        "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in row.files],
    }


def signal_payload(record: Record, max_points: int | None, start_s: float = 0.0,
                   duration_s: float | None = None) -> dict:
    """The samples for display (mV, rounded to 0.1 µV), decimated when ``max_points`` asks for it.

    ``start_s`` / ``duration_s`` cut a window out of a long record first (a strip of a Holter at full rate);
    ``start_s`` in the payload says where the window begins.
    """
    if start_s < 0 or start_s >= record.duration_s:
        raise RecordFormatError(f"start_s {start_s:g} is outside the record (0 to {record.duration_s:.3f} s)",
                                source="start_s", code="bad_field")
    if duration_s is not None and duration_s <= 0:
        raise RecordFormatError(f"duration_s must be positive; got {duration_s:g}", source="duration_s",
                                code="bad_field")
    a = int(round(start_s * record.fs))
    b = record.n_samples if duration_s is None else min(record.n_samples, a + int(round(duration_s * record.fs)))
    sig, fs_out, method = record.signal[:, a:b], record.fs, "none"
    if max_points is not None:
        sig, fs_out, method = decimate_for_display(sig, record.fs, max_points)
    return {
        "units": "mV", "fs": fs_out, "source_fs": record.fs, "n_samples": int(sig.shape[1]),
        "decimation": method, "leads": list(record.leads), "single_lead": record.single_lead,
        "start_s": a / record.fs, "data": np.round(sig.astype(np.float64), 4).tolist(),
    }
