"""Response bodies of the API (they document the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable error code")
    message: str = Field(description="what was wrong, in a sentence")
    source: str | None = Field(None, description="the upload, file or field concerned")


class ErrorResponse(BaseModel):
    detail: ErrorBody


class StoredFile(BaseModel):
    name: str = Field(description="the uploaded name reduced to a safe basename (a format hint only)")
    sha256: str
    size: int


class RecordSummary(BaseModel):
    id: str
    record_name: str | None
    patient_id: str | None
    status: str = Field(description="uploaded | analyzing | analyzed | failed")
    status_detail: str | None
    source_format: str
    fs: float
    n_leads: int
    n_samples: int
    duration_s: float
    leads: list[str]
    age: float | None
    sex: str | None
    created_at: datetime
    updated_at: datetime
    files: list[StoredFile]


class RecordPage(BaseModel):
    items: list[RecordSummary]
    total: int
    page: int
    page_size: int


class UploadResult(RecordSummary):
    duplicate: bool = Field(description="true when the same bytes were already stored as this record")


class SignalPayload(BaseModel):
    units: str
    fs: float = Field(description="sampling rate of `data` (after decimation)")
    source_fs: float
    n_samples: int
    decimation: str = Field(description="none | minmax (each bucket's minimum and maximum in time order: peaks kept)")
    leads: list[str]
    single_lead: bool
    start_s: float = Field(default=0.0, description="where `data` begins in the record (a window of a long one)")
    data: list[list[float]] = Field(description="one list of mV values per lead")


class RecordDetail(RecordSummary):
    signal: SignalPayload | None = None


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    team: str | None


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    role: str = Field("member", description="admin | member | viewer")
    team: str | None = Field(None, description="team name (created on first use); teammates see each other's records")


class TokenOut(BaseModel):
    user: UserOut
    token: str = Field(description="shown once; only its hash is stored")


class AnalyzeRequest(BaseModel):
    model: str | None = Field(None, description="model name; default: the installed model for the record's input")
    version: str | None = Field(None, description="model version; default: the installed one")
    explain: bool = Field(False, description="add per-label saliency to the result (runs on PyTorch: slower)")
    explain_labels: list[str] | None = Field(
        None, description="labels to explain; default the positive labels (or the most probable one)")
    pad_short: bool = Field(False, description="zero-pad a record shorter than one model window (5 s) instead "
                                               "of refusing it; the result then rests on padding")


class AuditOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    action: str
    record_id: str | None
    detail: dict


class HolterBeatWindow(BaseModel):
    """The beats of a stored Holter analysis inside a window."""

    start_s: float
    end_s: float
    peaks_s: list[float] = Field(description="R-peak times, seconds from the start of the recording")
    classes: list[Literal["N", "S", "V"]] = Field(description="AAMI class of each beat")
