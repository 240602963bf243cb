"""Long recordings (Holters, patches) analysed in chunks: beats, heart-rate trend, pauses, brady/tachycardia
episodes, 24-h HRV, and what could not be analysed.

The record is read ``chunk_s`` at a time with ``overlap_s`` on each side (:func:`ecgscope.holter.source.
open_long_record`: WFDB, EDF/BDF, or a Record in memory), so memory holds one chunk of samples, never the day.
R peaks are detected on the chunk with
its overlap (the detector's thresholds settle before the chunk's own samples) and kept only inside the chunk's own
span: every beat is kept by exactly one chunk.

What cannot be analysed is said, never guessed: each ``window_s`` window is *unanalysable* when every lead is flat
(an electrode off, a recorder writing zeros) or a gap (samples the file marks invalid).  No beat is kept there, no
RR interval spans one (a flat hour is never read as asystole: a pause is an RR interval between two analysable
beats), and the spans are listed.  A signal file shorter than its header promises is analysed up to its damage and
the result says where it stops.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ecgscope.errors import RecordFormatError
from ecgscope.holter.af import episodes as af_episodes
from ecgscope.holter.af import window_probabilities
from ecgscope.holter.schema import HOLTER_SCHEMA_VERSION, HolterReport
from ecgscope.holter.source import open_long_record
from ecgscope.inference import Analyzer
from ecgscope.leads import normalize_lead_name
from ecgscope.record import FLAT_PTP_MV, Record
from ecgscope.signal.beat_classes import BEAT_CLASSES, classify_features
from ecgscope.signal.beat_features import morphology_features, rr_features
from ecgscope.signal.hrv import ECTOPIC_RULE, normal_intervals
from ecgscope.signal.peaks import ecg_peaks

AF_MODEL = "ecgscope-af-1lead"
MAX_LISTED = 100  # episodes and pauses listed in full in the JSON (counts are always complete)


@dataclass(frozen=True)
class HolterOptions:
    chunk_s: float = 300.0
    overlap_s: float = 5.0
    window_s: float = 10.0  # analysability is judged per window
    pause_s: float = 2.0  # an RR interval longer than this is a pause
    brady_bpm: float = 50.0
    tachy_bpm: float = 100.0
    episode_beats: int = 8  # running-mean length, and the fewest beats an episode has
    run_beats: int = 3  # the fewest consecutive ectopic beats that make a run
    af_window_s: float = 30.0  # AF is called per window of this length (ecgscope.holter.af)


@dataclass
class HolterResult:
    """``to_dict()`` is the versioned JSON; ``peaks`` are the R-peak sample indices of the whole record and
    ``classes`` their AAMI beat classes (N, S, V)."""

    data: dict[str, Any]
    peaks: np.ndarray
    classes: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return self.data


def hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _r(v: float | None, nd: int = 1) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def _window_state(x: np.ndarray) -> str | None:
    """None when a window can be analysed; else why not (``gap`` or ``flat``)."""
    usable, gap = False, False
    for lead in x:
        finite = np.isfinite(lead)
        if not finite.all():
            gap = True
            lead = lead[finite]
        if lead.size and np.ptp(lead) >= FLAT_PTP_MV:
            usable = True
    if usable:
        return None
    return "gap" if gap else "flat"


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where ``mask`` is True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def _episodes(peaks_s: np.ndarray, hr_run: np.ndarray, inside: np.ndarray, min_beats: int, extreme) -> dict:
    """Maximal runs of beats where the running heart rate is inside the band (``inside``), of >= ``min_beats``."""
    found = []
    for a, b in _runs(inside):
        if b - a < min_beats:
            continue
        found.append({"onset_s": _r(peaks_s[a], 2), "end_s": _r(peaks_s[b - 1], 2),
                      "duration_s": _r(peaks_s[b - 1] - peaks_s[a], 2), "beats": int(b - a),
                      "extreme_bpm": _r(extreme(hr_run[a:b]))})
    longest = max(found, key=lambda e: e["duration_s"], default=None)
    return {"count": len(found), "total_s": _r(sum(e["duration_s"] for e in found), 1), "longest": longest,
            "episodes": sorted(found, key=lambda e: -e["duration_s"])[:MAX_LISTED]}


def holter_analyze(path: str | os.PathLike | Record, options: HolterOptions | None = None) -> HolterResult:
    """Analyse a long recording in chunks (module docstring).

    Parameters
    ----------
    path : path or Record
        A single-segment WFDB record (its ``.hea`` or base name) or an EDF/BDF file, of any length, read chunk
        by chunk; or a :class:`~ecgscope.record.Record` already in memory (an upload of any format), analysed
        chunk by chunk the same way.
    options : HolterOptions

    Returns
    -------
    HolterResult

    Examples
    --------
    >>> from ecgscope.holter import holter_analyze
    >>> res = holter_analyze("../shared/data/mitdb/100")  # doctest: +SKIP
    >>> res.to_dict()["beats"]["total"], res.to_dict()["heart_rate"]["mean_bpm"]  # doctest: +SKIP
    (2272, 75.6)
    """
    o = options or HolterOptions()
    t0 = time.perf_counter()
    source = open_long_record(path)
    extent, read = source.extent, source.read
    fs, n = extent.fs, extent.readable_samples
    if n == 0:
        raise RecordFormatError("the signal file holds no samples", source=source.name, code="truncated_data")
    chunk, overlap, win = int(o.chunk_s * fs), int(o.overlap_s * fs), int(round(o.window_s * fs))
    n_windows = math.ceil(n / win)
    state: list[str | None] = [None] * n_windows
    kept: list[np.ndarray] = []
    shapes: list[np.ndarray] = []
    af_win = int(round(o.af_window_s * fs))
    af_lead = _af_lead(extent.leads)
    af_probs = np.full(n // af_win, np.nan)
    detector = Analyzer.from_pretrained(AF_MODEL)
    t_read = t_detect = t_classify = t_af = 0.0
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        lo, hi = max(0, a - overlap), min(n, b + overlap)
        t = time.perf_counter()
        x = read(lo, hi)
        t_read += time.perf_counter() - t
        for w in range(a // win, math.ceil(b / win)):
            state[w] = _window_state(x[:, w * win - lo:min((w + 1) * win, n) - lo])
        if all(state[w] for w in range(a // win, math.ceil(b / win))):
            continue  # nothing to detect in this chunk
        t = time.perf_counter()
        clean = np.nan_to_num(x, nan=0.0)  # gaps as 0 mV: detection and beat shapes read the same samples
        p = ecg_peaks(clean, fs) + lo
        t_detect += time.perf_counter() - t
        own = (p >= a) & (p < b)  # the chunk's own span only: each beat is kept once
        own[own] = [state[int(q // win)] is None for q in p[own]]
        kept.append(p[own])
        # beat shapes against the chunk's running template (the overlap's beats give context at the edges)
        t = time.perf_counter()
        shapes.append(morphology_features(clean, fs, p - lo)[own])
        t_classify += time.perf_counter() - t
        # AF windows that start in this chunk; one with any unanalysable part is not called
        t = time.perf_counter()
        for k in range(-(-a // af_win), min(af_probs.size, -(-b // af_win))):
            s0, s1 = k * af_win, (k + 1) * af_win
            if any(state[w] for w in range(s0 // win, math.ceil(s1 / win))):
                continue
            seg = x[af_lead, s0 - lo:s1 - lo] if s1 <= hi else read(s0, s1)[af_lead]
            af_probs[k] = window_probabilities(detector, seg, fs, af_win)[0]
        t_af += time.perf_counter() - t
    peaks = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    bad = np.array([s is not None for s in state])
    # an RR interval is measured only between two beats with no unanalysable window between them
    bad_before = np.concatenate([[0], np.cumsum(bad)])
    pw = peaks // win
    rr_valid = (bad_before[pw[1:] + 1] - bad_before[pw[:-1]]) == 0 if peaks.size > 1 else np.zeros(0, bool)
    rr_s = np.diff(peaks) / fs
    peaks_s = peaks / fs
    t = time.perf_counter()
    # the RR context over the whole record (no interval across an unanalysable window), the shapes per chunk
    feats = np.concatenate([rr_features(peaks_s, rr_valid),
                            np.concatenate(shapes) if shapes else np.zeros((0, 0), np.float32)], axis=1)
    classes, _ = classify_features(feats)
    t_classify += time.perf_counter() - t
    data = _summaries(o, fs, n, extent, peaks_s, rr_s, rr_valid, state, win)
    data["beats"]["classes"] = _beat_classes(o, peaks_s, rr_valid, classes, data["input"]["duration_s"])
    t = time.perf_counter()
    threshold = float(detector.thresholds[0])
    found = af_episodes(peaks, af_probs, threshold, af_win, n, fs)
    t_af += time.perf_counter() - t
    data["atrial_fibrillation"] = _af_summary(o, found, af_probs, threshold, fs, extent.leads[af_lead],
                                              data["input"]["analysed_s"])
    data["timing_ms"] = {"read": round(t_read * 1000, 1), "detect": round(t_detect * 1000, 1),
                         "classify": round(t_classify * 1000, 1), "af": round(t_af * 1000, 1),
                         "total": round((time.perf_counter() - t0) * 1000, 1)}
    data["input"]["source"] = source.name
    HolterReport.model_validate(data)  # the shipped schema is a contract: never emit what breaks it
    return HolterResult(data, peaks, classes)


def _af_lead(leads: tuple[str, ...]) -> int:
    """The lead AF windows are read on: I where the record has it (the detector learned on handheld lead-I
    strips), else II (MLII), else its first lead."""
    names = [normalize_lead_name(str(v))[0] for v in leads]  # MLII is II
    for want in ("I", "II"):
        if want in names:
            return names.index(want)
    return 0


def _af_summary(o: HolterOptions, found: list[tuple[int, int]], probs: np.ndarray, threshold: float, fs: float,
                lead: str, analysed_s: float) -> dict:
    eps = [{"onset_s": _r(a / fs, 2), "end_s": _r(b / fs, 2), "duration_s": _r((b - a) / fs, 2),
            "onset": hms(a / fs)} for a, b in found]
    total = sum((b - a) / fs for a, b in found)
    return {"method": f"{AF_MODEL} per {o.af_window_s:g}-s window, edges placed on beats (ecgscope.holter.af)",
            "lead": lead, "threshold": _r(threshold, 4), "windows_called": int(np.isfinite(probs).sum()),
            "windows": int(probs.size), "episodes": len(eps), "total_s": _r(total, 1),
            "burden_percent": _r(min(100.0, 100.0 * total / analysed_s), 2) if analysed_s else None,
            "longest": max(eps, key=lambda e: e["duration_s"], default=None),
            "episode_list": sorted(eps, key=lambda e: -e["duration_s"])[:MAX_LISTED]}


def _ectopic_runs(o: HolterOptions, peaks_s: np.ndarray, rr_valid: np.ndarray, is_class: np.ndarray) -> dict:
    """Couplets (2 consecutive beats of the class) and runs (>= ``run_beats``), never across an unanalysable
    window.  A run's rate is from its own RR intervals."""
    breaks = np.flatnonzero(~rr_valid) + 1  # a beat after an invalid interval starts a new sequence
    couplets, runs = 0, []
    for a, b in _runs(is_class):
        cuts = [a, *breaks[(breaks > a) & (breaks < b)].tolist(), b]
        for first, end in zip(cuts[:-1], cuts[1:], strict=True):
            k = end - first
            if k == 2:
                couplets += 1
            elif k >= o.run_beats:
                rate = 60.0 * (k - 1) / (peaks_s[end - 1] - peaks_s[first])
                runs.append({"onset_s": _r(peaks_s[first], 2), "beats": int(k), "rate_bpm": _r(rate)})
    fastest = max(runs, key=lambda r: r["rate_bpm"], default=None)
    longest = max(runs, key=lambda r: r["beats"], default=None)
    return {"couplets": couplets, "runs": len(runs), "longest_run": longest, "fastest_run": fastest,
            "run_list": sorted(runs, key=lambda r: -r["beats"])[:MAX_LISTED]}


def _beat_classes(o: HolterOptions, peaks_s: np.ndarray, rr_valid: np.ndarray, classes: np.ndarray,
                  duration_s: float) -> dict:
    counts = {c: int((classes == c).sum()) for c in BEAT_CLASSES}
    hours = max(1, math.ceil(duration_s / 3600))
    hour = (peaks_s // 3600).astype(int)
    per_hour = [{"hour": h, **{c: int(((hour == h) & (classes == c)).sum()) for c in BEAT_CLASSES}}
                for h in range(hours)]
    total = max(1, classes.size)
    return {"method": "ecgscope.signal.beat_classes (AAMI N/S/V; F and Q not classified)",
            "counts": counts, "percent": {c: _r(100.0 * v / total, 2) for c, v in counts.items()},
            "per_hour": per_hour,
            "ventricular": _ectopic_runs(o, peaks_s, rr_valid, classes == "V"),
            "supraventricular": _ectopic_runs(o, peaks_s, rr_valid, classes == "S")}


def _summaries(o: HolterOptions, fs: float, n: int, extent, peaks_s, rr_s, rr_valid, state, win) -> dict:
    duration = n / fs
    warnings: list[str] = []
    truncated = None
    if extent.readable_samples < extent.header_samples:
        truncated = {"header_s": _r(extent.header_samples / fs, 2), "readable_s": _r(n / fs, 2),
                     "stops_at": hms(n / fs)}
        warnings.append(f"the signal file ends at {hms(n / fs)} of the {hms(extent.header_samples / fs)} its header "
                        "promises (truncated): analysed up to there")
    spans = []
    for a, b in _runs(np.array([s is not None for s in state])):
        reasons = {state[w] for w in range(a, b)}
        spans.append({"start_s": _r(a * win / fs, 2), "end_s": _r(min(b * win, n) / fs, 2),
                      "reason": "gap" if reasons == {"gap"} else "flat" if reasons == {"flat"} else "flat or gap"})
    analysed_s = sum(min((w + 1) * win, n) - w * win for w, s in enumerate(state) if s is None) / fs
    if analysed_s == 0:
        warnings.append("no analysable signal: every window is flat or a gap")
    elif peaks_s.size == 0:
        warnings.append("no beats found in the analysable signal")
    valid_rr = rr_s[rr_valid]
    end_s = peaks_s[1:][rr_valid]  # each valid RR dated by the beat that ends it
    # heart rate per minute: from the valid RR intervals ending in the minute (>= 10 of them)
    n_min = math.ceil(duration / 60)
    minute = np.minimum((end_s // 60).astype(int), n_min - 1) if end_s.size else np.zeros(0, int)
    counts = np.bincount(minute, minlength=n_min)
    sums = np.bincount(minute, weights=valid_rr, minlength=n_min)
    hr_min = np.where(counts >= 10, 60.0 / np.where(counts > 0, sums / np.maximum(counts, 1), np.nan), np.nan)
    per_hour = []
    beat_hour = (peaks_s // 3600).astype(int)
    for h in range(math.ceil(duration / 3600)):
        m = hr_min[h * 60:(h + 1) * 60]
        ok = m[np.isfinite(m)]
        per_hour.append({"hour": h, "start": hms(h * 3600), "beats": int((beat_hour == h).sum()),
                         "minutes_with_hr": int(ok.size), "min_bpm": _r(ok.min()) if ok.size else None,
                         "mean_bpm": _r(ok.mean()) if ok.size else None, "max_bpm": _r(ok.max()) if ok.size else None})
    finite = hr_min[np.isfinite(hr_min)]
    # pauses: long RR intervals between two analysable beats
    long_rr = np.flatnonzero(rr_valid & (rr_s > o.pause_s))
    pauses = sorted(({"onset_s": _r(peaks_s[i], 2), "duration_s": _r(rr_s[i], 3)} for i in long_rr),
                    key=lambda p: -p["duration_s"])
    # brady/tachycardia: the running mean heart rate over episode_beats valid RR intervals
    k = o.episode_beats
    hr_run = np.full(peaks_s.size, np.nan)
    if rr_s.size >= k:
        csum = np.concatenate([[0.0], np.cumsum(np.where(rr_valid, rr_s, 0.0))])
        cval = np.concatenate([[0], np.cumsum(rr_valid)])
        ends = np.arange(k, rr_s.size + 1)
        full = (cval[ends] - cval[ends - k]) == k
        hr_run[ends[full]] = 60.0 * k / (csum[ends[full]] - csum[ends[full] - k])
    with np.errstate(invalid="ignore"):
        brady = _episodes(peaks_s, hr_run, hr_run < o.brady_bpm, k, np.nanmin)
        tachy = _episodes(peaks_s, hr_run, hr_run > o.tachy_bpm, k, np.nanmax)
    return {
        "holter_schema_version": HOLTER_SCHEMA_VERSION,
        "input": {"fs": fs, "leads": list(extent.leads), "record_id": extent.record_id,
                  "duration_s": _r(duration, 2), "analysed_s": _r(analysed_s, 1)},
        "beats": {"total": int(peaks_s.size), "classes": None},
        "heart_rate": {"min_bpm": _r(finite.min()) if finite.size else None,
                       "mean_bpm": _r(60.0 / valid_rr.mean()) if valid_rr.size else None,
                       "max_bpm": _r(finite.max()) if finite.size else None,
                       "per_hour": per_hour, "per_minute_bpm": [_r(v) for v in hr_min]},
        "pauses": {"threshold_s": o.pause_s, "count": len(pauses), "longest": pauses[0] if pauses else None,
                   "list": pauses[:MAX_LISTED]},
        "bradycardia": {"below_bpm": o.brady_bpm, **brady},
        "tachycardia": {"above_bpm": o.tachy_bpm, **tachy},
        "hrv": _hrv(valid_rr * 1000.0, end_s),
        "unanalysable": spans,
        "truncated": truncated,
        "warnings": warnings,
        "options": asdict(o),
    }


def _hrv(rr_ms: np.ndarray, end_s: np.ndarray) -> dict:
    """Long-term time-domain HRV over the valid RR intervals: SDNN, SDANN and SDNN index over 5-min segments,
    RMSSD and pNN50 over successive normal intervals (ecgscope's ectopic rule)."""
    out: dict[str, Any] = {"ectopic_handling": ECTOPIC_RULE, "n_intervals": int(rr_ms.size)}
    if rr_ms.size < 3:
        return {**out, "mean_nn_ms": None, "sdnn_ms": None, "sdann_ms": None, "sdnn_index_ms": None,
                "rmssd_ms": None, "pnn50": None}
    normal = normal_intervals(rr_ms)
    nn = rr_ms[normal]
    pairs = normal[1:] & normal[:-1]
    diffs = np.diff(rr_ms)[pairs]
    seg = (end_s[normal] // 300).astype(int)
    means, sds = [], []
    for s in np.unique(seg):
        v = nn[seg == s]
        if v.size >= 20:
            means.append(v.mean())
            sds.append(v.std(ddof=1))
    return {**out, "mean_nn_ms": _r(nn.mean()), "sdnn_ms": _r(nn.std(ddof=1)) if nn.size > 1 else None,
            "sdann_ms": _r(np.std(means, ddof=1)) if len(means) > 1 else None,
            "sdnn_index_ms": _r(np.mean(sds)) if sds else None,
            "rmssd_ms": _r(np.sqrt(np.mean(diffs ** 2))) if diffs.size else None,
            "pnn50": _r(float(np.mean(np.abs(diffs) > 50.0)), 4) if diffs.size else None}
