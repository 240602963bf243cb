"""The Holter report (``holter_analyze(...).to_dict()``), defined once.

These pydantic models are the single definition of the Holter JSON: ``holter.schema.json`` beside this file
is generated from them (``python -m ecgscope.holter.schema`` rewrites it; a test fails when it is stale), every
report is validated against them when it is made, and the server's Holter endpoints declare them.

Conventions: times are seconds from the start of the recording (``onset_s``, ``end_s``) or ``HH:MM:SS``
strings (``onset``, ``start``); a value that cannot be measured (no valid RR interval in an hour, no episode)
is ``null``; lists of events are sorted longest (or most beats) first and cut at 100, their counts complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ecgscope.inference.schema import schema_document, write_schema_file

# 0.2: beats.classes (AAMI N/S/V counts, per hour), ventricular and supraventricular runs and couplets;
# atrial_fibrillation (episodes, burden)
HOLTER_SCHEMA_VERSION = "0.2"
SCHEMA_PATH = Path(__file__).with_name("holter.schema.json")

Bpm = float | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HolterInput(_Strict):
    fs: float = Field(gt=0)
    leads: list[str]
    record_id: str
    duration_s: float = Field(ge=0, description="What the file holds (up to the damage of a truncated one)")
    analysed_s: float = Field(ge=0, description="Duration less the unanalysable windows")
    source: str = Field(description="File name, or the record id of a recording analysed in memory")


class HolterHourCounts(_Strict):
    hour: int = Field(ge=0)
    N: int = Field(ge=0)
    S: int = Field(ge=0)
    V: int = Field(ge=0)


class HolterEctopicRun(_Strict):
    onset_s: float
    beats: int = Field(ge=3)
    rate_bpm: Bpm


class HolterEctopy(_Strict):
    couplets: int = Field(ge=0)
    runs: int = Field(ge=0, description="Runs of >= options.run_beats consecutive beats of the class")
    longest_run: HolterEctopicRun | None
    fastest_run: HolterEctopicRun | None
    run_list: list[HolterEctopicRun]


class HolterBeatClassCounts(_Strict):
    N: int = Field(ge=0)
    S: int = Field(ge=0)
    V: int = Field(ge=0)


class HolterBeatClassPercent(_Strict):
    N: float | None
    S: float | None
    V: float | None


class HolterBeatClasses(_Strict):
    method: str
    counts: HolterBeatClassCounts
    percent: HolterBeatClassPercent
    per_hour: list[HolterHourCounts]
    ventricular: HolterEctopy
    supraventricular: HolterEctopy


class HolterBeatSummary(_Strict):
    total: int = Field(ge=0)
    classes: HolterBeatClasses


class HolterHourRate(_Strict):
    hour: int = Field(ge=0)
    start: str
    beats: int = Field(ge=0)
    minutes_with_hr: int = Field(ge=0, le=60)
    min_bpm: Bpm
    mean_bpm: Bpm
    max_bpm: Bpm


class HolterHeartRate(_Strict):
    min_bpm: Bpm
    mean_bpm: Bpm
    max_bpm: Bpm
    per_hour: list[HolterHourRate]
    per_minute_bpm: list[float | None] = Field(description="Mean HR of each minute with >= 10 valid RR intervals")


class HolterPause(_Strict):
    onset_s: float
    duration_s: float = Field(gt=0)


class HolterPauses(_Strict):
    threshold_s: float = Field(gt=0)
    count: int = Field(ge=0)
    longest: HolterPause | None
    list: list[HolterPause]


class HolterRateEpisode(_Strict):
    onset_s: float
    end_s: float
    duration_s: float = Field(ge=0)
    beats: int = Field(ge=1)
    extreme_bpm: Bpm


class _HolterRateEpisodes(_Strict):
    count: int = Field(ge=0)
    total_s: float | None
    longest: HolterRateEpisode | None
    episodes: list[HolterRateEpisode]


class HolterBradycardia(_HolterRateEpisodes):
    below_bpm: float


class HolterTachycardia(_HolterRateEpisodes):
    above_bpm: float


class HolterHrv(_Strict):
    ectopic_handling: str
    n_intervals: int = Field(ge=0)
    mean_nn_ms: float | None
    sdnn_ms: float | None
    sdann_ms: float | None
    sdnn_index_ms: float | None
    rmssd_ms: float | None
    pnn50: float | None = Field(ge=0, le=1)


class HolterUnanalysable(_Strict):
    start_s: float
    end_s: float
    reason: Literal["flat", "gap", "flat or gap"]


class HolterTruncated(_Strict):
    header_s: float | None
    readable_s: float | None
    stops_at: str


class HolterReportOptions(_Strict):
    chunk_s: float = Field(gt=0)
    overlap_s: float = Field(ge=0)
    window_s: float = Field(gt=0)
    pause_s: float = Field(gt=0)
    brady_bpm: float
    tachy_bpm: float
    episode_beats: int = Field(ge=1)
    run_beats: int = Field(ge=2)
    af_window_s: float = Field(gt=0)


class HolterAfEpisode(_Strict):
    onset_s: float
    end_s: float
    duration_s: float = Field(ge=0)
    onset: str


class HolterAtrialFibrillation(_Strict):
    method: str
    lead: str
    threshold: float | None
    windows_called: int = Field(ge=0, description="Windows with a probability (none touching unanalysable signal)")
    windows: int = Field(ge=0)
    episodes: int = Field(ge=0)
    total_s: float | None
    burden_percent: float | None = Field(ge=0, le=100)
    longest: HolterAfEpisode | None
    episode_list: list[HolterAfEpisode]


class HolterTiming(_Strict):
    read: float
    detect: float
    classify: float
    af: float
    total: float


class HolterReport(_Strict):
    """One long recording analysed beat by beat (``docs/holter.md``)."""

    holter_schema_version: Literal["0.2"] = HOLTER_SCHEMA_VERSION
    input: HolterInput
    beats: HolterBeatSummary
    heart_rate: HolterHeartRate
    pauses: HolterPauses
    bradycardia: HolterBradycardia
    tachycardia: HolterTachycardia
    hrv: HolterHrv
    unanalysable: list[HolterUnanalysable]
    truncated: HolterTruncated | None
    warnings: list[str]
    options: HolterReportOptions
    atrial_fibrillation: HolterAtrialFibrillation
    timing_ms: HolterTiming


def json_schema() -> dict:
    """The JSON Schema of :class:`HolterReport`."""
    return schema_document(HolterReport, "holter", HOLTER_SCHEMA_VERSION)


def load_json_schema() -> dict:
    """The Holter schema file shipped in the package."""
    return json.loads(SCHEMA_PATH.read_text())


if __name__ == "__main__":
    write_schema_file(SCHEMA_PATH, json_schema())
