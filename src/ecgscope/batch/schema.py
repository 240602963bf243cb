"""The batch output: one Parquet row per record, its columns versioned (docs/batch.md lists each one).

A row is built from the same analysis result ``ecgscope analyze --json`` prints (DESIGN §4); a record that
could not be analysed gets a row too, with ``error_code`` and ``error_message`` set and the analysis columns
null.  The version is stored in every shard's Parquet metadata (``ecgscope_batch_schema``); a dataset of
another version is refused rather than mixed.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from ecgscope.labels import LABELS

BATCH_SCHEMA_VERSION = "1.0"
SCHEMA_METADATA_KEY = b"ecgscope_batch_schema"


def label_column(label: str) -> str:
    """``"1st degree atrioventricular block"`` -> ``"1st_degree_atrioventricular_block"``."""
    return re.sub(r"[^0-9a-z]+", "_", label.lower()).strip("_")


PROB_COLUMNS = tuple(f"p_{label_column(lab)}" for lab in LABELS)
POSITIVE_COLUMNS = tuple(f"pos_{label_column(lab)}" for lab in LABELS)
MEASUREMENTS = ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "p_axis_deg", "qrs_axis_deg", "t_axis_deg")
HRV = ("rmssd_ms", "sdnn_ms", "sd1_ms", "sd2_ms", "mean_rr_ms", "pnn50")

_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("path", pa.string(), "the record's file (absolute; a WFDB record by its .hea)"),
    ("sha256", pa.string(), "SHA-256 of the record's bytes (for WFDB: the header, then each signal file it names)"),
    ("file_size", pa.int64(), "bytes of the record's files"),
    ("file_mtime_ns", pa.int64(), "modification time of the record's main file"),
    ("patient_id", pa.string(), "from the manifest, else from the record"),
    ("record_id", pa.string(), "the record's own id"),
    ("source_format", pa.string(), "the reader that read it (wfdb, edf, aecg, dicom, scp, ...)"),
    ("fs", pa.float64(), "sampling rate of the file (Hz)"),
    ("n_leads", pa.int32(), "leads in the file"),
    ("duration_s", pa.float64(), "length of the record (s)"),
    ("model_name", pa.string(), "the model package that classified it"),
    ("model_version", pa.string(), ""),
    ("model_sha256", pa.string(), "SHA-256 of the package's weights"),
    *[(c, pa.float32(), f"calibrated probability of {lab}") for c, lab in zip(PROB_COLUMNS, LABELS, strict=True)],
    *[(c, pa.bool_(), f"{lab} called positive (probability over its threshold)")
      for c, lab in zip(POSITIVE_COLUMNS, LABELS, strict=True)],
    ("positive_labels", pa.string(), "the positive labels, '; '-separated"),
    ("reliable", pa.bool_(), "the classification is reliable (the result's classification.reliable)"),
    ("unreliable_reasons", pa.string(), "why not, '; '-separated"),
    ("quality_usable", pa.bool_(), "signal quality good enough to analyse"),
    ("quality_issues", pa.string(), "'; '-separated"),
    *[(m, pa.float64(), "global measurement (null when not measurable)") for m in MEASUREMENTS],
    *[(f"hrv_{h}", pa.float64(), "heart-rate variability over the record") for h in HRV],
    ("n_beats", pa.int32(), "beats found"),
    ("warnings", pa.string(), "the result's warnings, '; '-separated"),
    ("analysis_ms", pa.float64(), "the analysis' own time (the result's timing_ms.total)"),
    ("read_ms", pa.float64(), "reading and hashing the file"),
    ("worker", pa.string(), "host:pid of the worker process that analysed it (ray: host:pid@node id)"),
    ("engine", pa.string(), "local or ray"),
    ("analysed_at", pa.timestamp("ms", tz="UTC"), "when the row was made"),
    ("result_json", pa.string(), "the full result's file (--full-json), relative to the output dataset"),
    ("error_code", pa.string(), "null when analysed; else why not (truncated, empty_file, missing_file, ...)"),
    ("error_message", pa.string(), "the error as a user reads it, naming the file"),
]

COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in _FIELDS)
COLUMN_DOCS: dict[str, str] = {name: doc for name, _, doc in _FIELDS}


def batch_schema() -> pa.Schema:
    """The Arrow schema of a batch dataset, its version in the metadata."""
    return pa.schema([pa.field(n, t) for n, t, _ in _FIELDS],
                     metadata={SCHEMA_METADATA_KEY: BATCH_SCHEMA_VERSION.encode()})


def _joined(items) -> str | None:
    return "; ".join(str(i) for i in items) if items else None


def row_from_result(result: dict[str, Any]) -> dict[str, Any]:
    """The analysis columns of one row from a DESIGN §4 result."""
    labels = {lab["name"]: lab for lab in result["classification"]["labels"]}
    row: dict[str, Any] = {
        "model_name": result["model"]["name"],
        "model_version": result["model"]["version"],
        "model_sha256": result["model"].get("sha256"),
        "fs": result["input"]["fs"],
        "n_leads": len(result["input"]["leads"]),
        "duration_s": result["input"]["duration_s"],
        "positive_labels": _joined([n for n, lab in labels.items() if lab["positive"]]),
        "reliable": bool(result["classification"]["reliable"]),
        "unreliable_reasons": _joined(result["classification"]["unreliable_reasons"]),
        "quality_usable": bool(result["quality"]["usable"]),
        "quality_issues": _joined(result["quality"]["issues"]),
        "warnings": _joined(result["warnings"]),
        "analysis_ms": result["timing_ms"]["total"],
    }
    for lab, p, pos in zip(LABELS, PROB_COLUMNS, POSITIVE_COLUMNS, strict=True):
        found = labels.get(lab)  # a model over fewer labels leaves the others null
        row[p] = None if found is None else found["probability"]
        row[pos] = None if found is None else bool(found["positive"])
    for m in MEASUREMENTS:
        row[m] = result["measurements"].get(m)
    hrv = result["rhythm"].get("hrv") or {}
    for h in HRV:
        row[f"hrv_{h}"] = hrv.get(h)
    row["n_beats"] = hrv.get("n_beats")
    return row


def complete_row(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every column of the schema (missing ones null), in schema order."""
    return {c: row.get(c) for c in COLUMNS}
