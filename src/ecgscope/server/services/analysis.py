"""The one place the server calls the inference API (``ecgscope.inference``).

``ecgscope.inference`` is imported lazily: a server without it still stores, lists and prints
records, and the analysis endpoints answer 503 "analysis engine not installed".

Contract used (DESIGN §4)::

    list_pretrained() -> [{"name", "version", "sha256", "input", "labels", "model_card"}]
    choose_model(record) -> the shipped model's name for the record's input
    Analyzer.from_pretrained(name, backend=, threads=).analyze(record, explain=, explain_labels=).to_dict()
        -> result JSON (validated by the engine against ecgscope.inference.schema.AnalysisResult)
    ecgscope.holter.holter_analyze(record) -> HolterResult (.to_dict(), .peaks, .classes): a long recording
        beat by beat, kept as the record's analysis by HOLTER_ANALYSIS (never returned as a DESIGN §4 result)
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import math
import threading
import time
from types import ModuleType
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecgscope.errors import ECGScopeError
from ecgscope.record import Record
from ecgscope.server.auth import Principal
from ecgscope.server.context import ServerContext
from ecgscope.server.db import Analysis, AuditEntry, RecordRow, utcnow
from ecgscope.server.services.records import get_row, load_stored
from ecgscope.server.settings import DEFAULT_ANALYSIS_BACKEND

ENGINE_MODULE = "ecgscope.inference"
HOLTER_MODULE = "ecgscope.holter"
HOLTER_ANALYSIS = "ecgscope-holter"  # the Analysis rows of Holter results carry this model name
MIN_HOLTER_S = 60.0  # shorter records are one ECG: the analysis endpoint reads them


class AnalysisUnavailableError(ECGScopeError):
    code = "analysis_unavailable"
    http_status = 503


class UnknownModelError(ECGScopeError):
    code = "unknown_model"
    http_status = 404


class AnalysisNotFoundError(ECGScopeError):
    code = "analysis_not_found"
    http_status = 404


def engine_available() -> bool:
    try:
        return importlib.util.find_spec(ENGINE_MODULE) is not None
    except (ImportError, ValueError):
        return False


def engine() -> ModuleType:
    if not engine_available():
        raise AnalysisUnavailableError(
            "analysis engine not installed: the ecgscope.inference module is missing, so records can be "
            "stored, viewed and printed but not analyzed", source="analysis")
    try:
        return importlib.import_module(ENGINE_MODULE)
    except ImportError as exc:
        raise AnalysisUnavailableError(f"analysis engine failed to load: {exc}", source="analysis") from None


@functools.lru_cache(maxsize=1)
def _installed_models() -> tuple[dict, ...]:
    # read once per process: listing loads every package and hashes its weights (~20 ms), and the
    # installed packages do not change under a running server
    return tuple(engine().list_pretrained())


def list_models() -> list[dict]:
    """The installed pretrained models (name, version, sha256, input, labels, model card)."""
    return [dict(m) for m in _installed_models()]


def choose_model(record: Record, name: str | None = None, version: str | None = None) -> dict:
    """The model to run: the one named, or the engine's choice for the record's input (12-lead or single-lead)."""
    models = list_models()
    if not models:
        raise AnalysisUnavailableError("analysis engine has no pretrained models installed", source="analysis")
    wanted = name or engine().choose_model(record)
    candidates = [m for m in models if m["name"] == wanted]
    if not candidates:
        raise UnknownModelError(f"no model named {wanted!r}; installed: {', '.join(m['name'] for m in models)}",
                                source="analysis")
    if version is not None:
        matching = [m for m in candidates if str(m["version"]) == str(version)]
        if not matching:
            have = ", ".join(f"{m['name']} {m['version']}" for m in candidates)
            raise UnknownModelError(f"model version {version!r} is not installed; installed: {have}",
                                    source="analysis")
        candidates = matching
    return candidates[0]


def check_explain_labels(model: dict, labels: list[str] | None) -> None:
    """Refuse saliency labels the model does not have (before any work starts)."""
    unknown = [n for n in labels or [] if n not in model["labels"]]
    if unknown:
        raise ECGScopeError(f"explain_labels {unknown} are not labels of {model['name']}; its labels are: "
                            f"{', '.join(model['labels'])}", source="explain_labels", code="unknown_label")


# Analyzers are loaded once per process and shared by the worker threads (loading costs ~1 s; a copy per
# thread would multiply the memory).  Sharing is safe: an analysis only reads the analyzer (package,
# calibrator, thresholds, rules) and runs the network in inference mode; ONNX Runtime sessions allow
# concurrent run(); saliency attaches captum's hooks to a wrapper built per call, never to the shared
# network, so a concurrent plain analysis does not see them.  The one lazily filled state, the SSM
# layers' eval-kernel cache, is computed identically by whichever thread gets there first.
_analyzers: dict[tuple[str, str, int, bool], Any] = {}
_analyzers_lock = threading.Lock()


def load_analyzer(name: str, backend: str, threads: int, pad_short: bool = False) -> Any:
    """The shared analyzer of model ``name`` on ``backend`` (loaded on first use)."""
    key = (name, backend, threads, pad_short)
    with _analyzers_lock:
        if key not in _analyzers:
            # threads: each of the pool's workers gets its share of the cores, so concurrent analyses do not
            # oversubscribe them (the torch backend sets torch's thread count from it; the ONNX backend and the
            # ONNX delineator never import torch)
            # substitute_lead: a single-lead model given a record without its lead (a 2-lead Holter excerpt)
            # reads the record's best lead instead; the result's warnings say so and the dashboard shows them
            _analyzers[key] = engine().Analyzer.from_pretrained(name, backend=backend, threads=threads,
                                                                substitute_lead=True, pad_short=pad_short)
        return _analyzers[key]


def plain_json(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers and lists, non-finite floats as null.

    The engine's result may carry numpy types; the database's JSON column and the API need plain JSON.
    """
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain_json(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_model(record: Record, model: dict, *, backend: str = DEFAULT_ANALYSIS_BACKEND, threads: int = 1,
              explain: bool = False, explain_labels: list[str] | None = None, pad_short: bool = False) -> dict:
    """Analyze ``record`` with ``model`` (CPU work: call it from the worker pool).

    Saliency needs gradients, so an analysis with ``explain`` runs on the PyTorch analyzer whatever
    ``backend`` is.  ``pad_short`` zero-pads a record shorter than one model window instead of refusing it.
    """
    check_explain_labels(model, explain_labels)
    analyzer = load_analyzer(model["name"], "torch" if explain else backend, threads, pad_short)
    try:
        result = analyzer.analyze(record, explain=explain, explain_labels=explain_labels or None)
    except ECGScopeError:
        raise
    except Exception as exc:  # the engine's failure on this input, reported, not a traceback
        raise ECGScopeError(f"analysis failed: {type(exc).__name__}: {exc}", source="analysis",
                            code="analysis_failed") from None
    return plain_json(result.to_dict() if hasattr(result, "to_dict") else dict(result))


def _set_status(ctx: ServerContext, record_id: str, status: str, detail: str | None = None) -> None:
    with ctx.db.session() as s:
        row = s.get(RecordRow, record_id)
        if row is not None:
            row.status = status
            row.status_detail = detail
            row.updated_at = utcnow()


def analyze_record(ctx: ServerContext, principal: Principal, record_id: str, *, model_name: str | None = None,
                   version: str | None = None, explain: bool = False,
                   explain_labels: list[str] | None = None, pad_short: bool = False) -> dict:
    """Run the analysis of a visible record and keep its result (one row per record and model version)."""
    with ctx.db.session() as s:
        row = get_row(s, principal, record_id)
    record = load_stored(ctx, row)
    model = choose_model(record, model_name, version)
    check_explain_labels(model, explain_labels)
    _set_status(ctx, record_id, "analyzing")
    t0 = time.perf_counter()
    try:
        kwargs = {"backend": ctx.settings.analysis_backend, "threads": ctx.settings.analysis_threads,
                  "explain": explain, "explain_labels": explain_labels, "pad_short": pad_short}
        # in a worker process when the server has them (ECGSCOPE_ANALYSIS_PROCESSES), else in this thread
        result = (ctx.engine_pool.analyze(record, model, **kwargs) if ctx.engine_pool is not None
                  else run_model(record, model, **kwargs))
    except ECGScopeError as err:
        _set_status(ctx, record_id, "failed", err.message[:500])
        raise
    elapsed_ms = (time.perf_counter() - t0) * 1000
    audit = {"model": model["name"], "version": str(model["version"]), "explain": explain,
             "pad_short": pad_short, "elapsed_ms": round(elapsed_ms, 1)}
    _store_result(ctx, principal, record_id, model, result, audit)
    return result


def _store_result(ctx: ServerContext, principal: Principal, record_id: str, model: dict, result: dict,
                  audit: dict) -> None:
    """Keep ``result`` as the record's analysis by ``model`` (replacing an older one) and mark the record."""
    try:
        _replace_result(ctx, principal, record_id, model, result, audit)
    except IntegrityError:
        # the same record analyzed twice at once with one model (a double click): the other request stored
        # its row between our look-up and our insert; replace it, as a later analysis would
        _replace_result(ctx, principal, record_id, model, result, audit)


def _replace_result(ctx: ServerContext, principal: Principal, record_id: str, model: dict, result: dict,
                    audit: dict) -> None:
    with ctx.db.session() as s:
        old = s.scalar(select(Analysis).where(Analysis.record_id == record_id,
                                              Analysis.model_name == model["name"],
                                              Analysis.model_version == str(model["version"])))
        if old is not None:
            s.delete(old)
            s.flush()
        s.add(Analysis(record_id=record_id, model_name=model["name"], model_version=str(model["version"]),
                       model_sha256=str(model.get("sha256", "")), result=result, created_by=principal.user_id))
        s.add(AuditEntry(user_id=principal.user_id, action="analyze", record_id=record_id, detail=audit))
        row = s.get(RecordRow, record_id)
        if row is not None:
            row.status = "analyzed"
            row.status_detail = None
            row.updated_at = utcnow()


def latest_analysis(session: Session, record_id: str, model_name: str | None = None,
                    version: str | None = None) -> Analysis | None:
    """The latest DESIGN §4 analysis of a record (or of the model named); Holter results only when named."""
    q = select(Analysis).where(Analysis.record_id == record_id)
    if model_name:
        q = q.where(Analysis.model_name == model_name)
    else:
        q = q.where(Analysis.model_name != HOLTER_ANALYSIS)
    if version:
        q = q.where(Analysis.model_version == str(version))
    return session.scalar(q.order_by(Analysis.created_at.desc(), Analysis.id.desc()).limit(1))


def get_analysis(ctx: ServerContext, principal: Principal, record_id: str, model_name: str | None = None,
                 version: str | None = None) -> dict:
    """The stored result of a visible record (the latest, or that of the model named)."""
    with ctx.db.session() as s:
        get_row(s, principal, record_id)
        found = latest_analysis(s, record_id, model_name, version)
        if found is None:
            if not engine_available():
                engine()  # raises the 503 that says why there is no analysis
            which = f" with model {model_name}" + (f" {version}" if version else "") if model_name else ""
            raise AnalysisNotFoundError(f"record {record_id} has not been analyzed{which}; "
                                        f"POST /api/v1/records/{record_id}/analyze first", source="analysis")
        return found.result


# ------------------------------------------------------------------------------------------------- Holter
def _holter_engine() -> ModuleType:
    engine()  # the 503 that says why, when the engine is missing
    try:
        return importlib.import_module(HOLTER_MODULE)
    except ImportError as exc:
        raise AnalysisUnavailableError(f"Holter analysis failed to load: {exc}", source="holter") from None


def _holter_identity(module: ModuleType) -> dict:
    """Name, version and sha256 of what makes a Holter result: its schema, the AF package and the beat classifier."""
    from ecgscope.signal.beat_classes import WEIGHTS_FILE

    af = next((m for m in list_models() if m["name"] == module.analysis.AF_MODEL), {})
    digest = hashlib.sha256(str(af.get("sha256", "")).encode() + WEIGHTS_FILE.read_bytes()).hexdigest()
    return {"name": HOLTER_ANALYSIS, "version": module.HOLTER_SCHEMA_VERSION, "sha256": digest}


def holter_record(ctx: ServerContext, principal: Principal, record_id: str) -> dict:
    """Analyse a visible long record beat by beat and keep the result (its beats included, for the strips)."""
    with ctx.db.session() as s:
        row = get_row(s, principal, record_id)
    record = load_stored(ctx, row)
    if record.duration_s < MIN_HOLTER_S:
        raise ECGScopeError(f"the record is {record.duration_s:.1f} s long; Holter analysis is for recordings of "
                            f"at least {MIN_HOLTER_S:g} s (POST .../analyze reads a short ECG)", source="holter",
                            code="too_short_for_holter")
    module = _holter_engine()
    _set_status(ctx, record_id, "analyzing")
    t0 = time.perf_counter()
    try:
        res = module.holter_analyze(record)
    except ECGScopeError as err:
        _set_status(ctx, record_id, "failed", err.message[:500])
        raise
    except Exception as exc:  # the engine's failure on this input, reported, not a traceback
        _set_status(ctx, record_id, "failed", f"Holter analysis failed: {type(exc).__name__}")
        raise ECGScopeError(f"Holter analysis failed: {type(exc).__name__}: {exc}", source="holter",
                            code="analysis_failed") from None
    result = plain_json(res.to_dict())
    result["beat_list"] = {"peaks_s": np.round(res.peaks / record.fs, 3).tolist(), "classes": "".join(res.classes)}
    identity = _holter_identity(module)
    audit = {"model": HOLTER_ANALYSIS, "version": identity["version"],
             "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1)}
    _store_result(ctx, principal, record_id, identity, result, audit)
    return holter_summary(result)


def holter_summary(result: dict) -> dict:
    """A stored Holter result without its beat list (that is served a window at a time)."""
    return {k: v for k, v in result.items() if k != "beat_list"}


def get_holter(ctx: ServerContext, principal: Principal, record_id: str) -> dict:
    """The stored Holter result of a visible record."""
    with ctx.db.session() as s:
        get_row(s, principal, record_id)
        found = latest_analysis(s, record_id, HOLTER_ANALYSIS)
        if found is None:
            raise AnalysisNotFoundError(f"record {record_id} has no Holter analysis; "
                                        f"POST /api/v1/records/{record_id}/holter first", source="holter")
        return found.result


def holter_beats(ctx: ServerContext, principal: Principal, record_id: str, start_s: float, end_s: float) -> dict:
    """The beats (R-peak time, AAMI class) of a stored Holter result between ``start_s`` and ``end_s``."""
    if end_s <= start_s:
        raise ECGScopeError(f"end_s ({end_s:g}) must be after start_s ({start_s:g})", source="end_s",
                            code="bad_field")
    beats = get_holter(ctx, principal, record_id)["beat_list"]
    t = np.asarray(beats["peaks_s"], dtype=np.float64)
    a, b = np.searchsorted(t, start_s, "left"), np.searchsorted(t, end_s, "right")
    return {"start_s": start_s, "end_s": end_s, "peaks_s": t[a:b].tolist(), "classes": list(beats["classes"][a:b])}
