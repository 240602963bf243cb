"""The analysis result (DESIGN §4), defined once.

These pydantic models are the single definition of the JSON an analysis returns:

* ``analysis.schema.json`` beside this file is generated from them (``python -m ecgscope.inference.schema``
  rewrites it; a test fails when it is stale), so the JSON Schema ships in the package;
* the server declares them as its response models, so its OpenAPI document is the same schema;
* :meth:`AnalysisResult.model_validate` checks a result in Python.

Conventions: times are milliseconds from the start of the record; an absent wave or a value that cannot be
measured is ``null``, never a guess; probabilities are calibrated, in [0, 1].
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.3"
# results of earlier versions still validate: 1.1, 1.2 and 1.3 only added optional fields (quality.lead_reversal;
# classification.labels[].evidence; measurements.method and median_beat)
READABLE_SCHEMA_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
SCHEMA_PATH = Path(__file__).with_name("analysis.schema.json")

Ms = float | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ModelInfo(_Strict):
    name: str
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    input: Literal["12-lead", "single-lead"]
    labels: list[str]


class InputInfo(_Strict):
    source: str | None = Field(description="File name or record id the analysis read")
    fs: float = Field(gt=0, description="Sampling rate of the input record (Hz)")
    leads: list[str]
    duration_s: float = Field(gt=0)
    single_lead: bool = Field(description="One lead duplicated into the 12 model channels")


class WindowQuality(_Strict):
    start_s: float
    end_s: float
    usable: bool
    per_lead: dict[str, float] = Field(default_factory=dict)
    issues: list[str]


class LeadReversal(_Strict):
    probability: float | None = Field(
        ge=0, le=1, description="Probability that the limb cables were swapped (LA/RA, RA/LL or a rotation); null "
                                "when not assessed")
    likely_swap: str | None = Field(description="The most probable swap when detected, e.g. 'LA/RA (or the RA>LL>LA rotation)'")
    detected: bool
    threshold: float = Field(ge=0, le=1)
    reason: str | None = Field(default=None, description="Why it was not assessed (e.g. fewer than 12 leads)")


class Quality(_Strict):
    usable: bool
    per_lead: dict[str, float] = Field(description="Quality score per lead, 0 (unusable) to 1")
    issues: list[str]
    windows: list[WindowQuality] = Field(default_factory=list)
    lead_reversal: LeadReversal | None = Field(
        default=None, description="Limb-electrode reversal check of a 12-lead record (schema 1.1)")


class EvidenceLogOdds(_Strict):
    network: float | None = Field(description="The window network's contribution (log-odds)")
    record: float | None = Field(description="The record head's contribution: whole-record measurements")
    rhythm: float | None = Field(description="The rhythm statistics' contribution (RR irregularity, P waves)")


class LabelEvidence(_Strict):
    path: Literal["combined", "package"] = Field(
        description="'combined': one probability from every kind of evidence, fitted across sources; 'package': "
                    "the model's own calibrated path (too little multi-source data to combine the label)")
    carried_by: Literal["network", "record", "rhythm"] = Field(
        description="The kind of evidence with the largest contribution")
    log_odds: EvidenceLogOdds = Field(
        description="Each kind's contribution in log-odds relative to an average record of the fitting data "
                    "(null: that evidence does not speak to this label)")


class LabelResult(_Strict):
    name: str
    probability: float = Field(ge=0, le=1)
    threshold: float = Field(ge=0, le=1)
    positive: bool
    evidence: LabelEvidence | None = Field(
        default=None, description="Which evidence carried the label (schema 1.2; models with an evidence "
                                  "combination)")


class Suppressed(_Strict):
    name: str
    reason: str


class Adjustment(_Strict):
    name: str
    from_: float = Field(alias="from", ge=0, le=1)
    to: float = Field(ge=0, le=1)
    reason: str


class WindowProbabilities(_Strict):
    start_s: float
    probabilities: dict[str, float]


class Classification(_Strict):
    labels: list[LabelResult]
    suppressed: list[Suppressed]
    windows: list[WindowProbabilities]
    adjustments: list[Adjustment] = Field(default_factory=list)
    reliable: bool = Field(description="False when Poor data quality is above its threshold or the signal "
                                       "quality gate failed; the labels are shown, not hidden")
    unreliable_reasons: list[str] = Field(default_factory=list)


class HRV(_Strict):
    rmssd_ms: Ms
    sdnn_ms: Ms
    sd1_ms: Ms
    sd2_ms: Ms
    mean_rr_ms: Ms = None
    pnn50: float | None = None
    n_beats: int | None = None
    ectopic_handling: str | None = None


class Rhythm(_Strict):
    heart_rate_bpm: float | None
    rr_ms: list[float]
    hrv: HRV


class Beat(_Strict):
    p_on: Ms
    p_peak: Ms
    p_off: Ms
    qrs_on: Ms
    r_peak: Ms
    qrs_off: Ms
    t_peak: Ms
    t_off: Ms


class Delineation(_Strict):
    lead: str = Field(description="'global' for the multi-lead delineation, else the lead name")
    method: str | None = None
    beats: list[Beat]
    per_lead: dict[str, list[Beat]] | None = Field(default=None, description="Per-lead beats (calipers)")
    issues: list[str] = Field(default_factory=list, description="Leads left out of the delineation and why")


class Measurements(_Strict):
    heart_rate_bpm: float | None = None
    pr_ms: Ms
    qrs_ms: Ms
    qt_ms: Ms
    qtc_ms: Ms
    qtc_formula: str
    p_axis_deg: float | None
    qrs_axis_deg: float | None
    t_axis_deg: float | None
    method: Literal["beats", "median_beat"] | None = Field(
        default=None, description="How PR, QRS, QT and the axes were measured: on the median beat of the dominant "
                                  "class, or as the median of per-beat intervals (absent before schema 1.3)")


class MedianBeat(_Strict):
    """The record's median beat of the dominant class, on which the measurements were made."""

    fs: float = Field(gt=0)
    leads: list[str]
    r_index: int = Field(ge=0, description="Sample of the R peak in each lead's template")
    rr_ms: float = Field(gt=0, description="Template length: one median RR of the dominant beats")
    beat_class: Literal["N", "S", "V"]
    n_beats: int = Field(ge=1, description="Beats averaged (sample-wise median)")
    signal_uv: list[list[int]] = Field(description="Per lead, the template in microvolts")
    fiducials_ms: dict[str, float | None] | None = Field(
        default=None, description="Global P/QRS/T fiducials measured on the template, in ms from its R peak")


class Timing(_Strict):
    preprocess: float
    classify: float
    delineate: float
    total: float


class Saliency(_Strict):
    fs: float = Field(gt=0)
    method: str
    labels: dict[str, list[float]] = Field(description="Per label, one non-negative value per sample at fs, "
                                                       "aligned with the record start")


class AnalysisResult(_Strict):
    """One analysis of one record (DESIGN §4)."""

    schema_version: Literal["1.0", "1.1", "1.2", "1.3"] = SCHEMA_VERSION
    model: ModelInfo
    input: InputInfo
    quality: Quality
    classification: Classification
    rhythm: Rhythm
    delineation: Delineation
    measurements: Measurements
    median_beat: MedianBeat | None = None
    timing_ms: Timing
    warnings: list[str] = Field(default_factory=list)
    saliency: Saliency | None = None


def schema_document(model: type[BaseModel], name: str, version: str, *, by_alias: bool = False) -> dict:
    """The JSON Schema (draft 2020-12, as pydantic emits it) of ``model``, with its ``$id`` named and versioned.

    The one way the package's shipped schema files (this one and the Holter report's) are made."""
    schema = model.model_json_schema(by_alias=by_alias)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://ecgscope.dev/schema/{name}-{version}.json"
    return schema


def write_schema_file(path: Path, schema: dict) -> None:
    path.write_text(json.dumps(schema, indent=2) + "\n")
    print(f"wrote {path}")


def json_schema() -> dict:
    """The JSON Schema of :class:`AnalysisResult`."""
    return schema_document(AnalysisResult, "analysis", SCHEMA_VERSION, by_alias=True)


def load_json_schema() -> dict:
    """The schema file shipped in the package."""
    return json.loads(SCHEMA_PATH.read_text())


if __name__ == "__main__":
    write_schema_file(SCHEMA_PATH, json_schema())
