"""Record-level rhythm evidence for atrial fibrillation: RR irregularity, P waves, atrial activity.

Atrial fibrillation is a rhythm diagnosis: the ventricular response is *irregularly irregular* and there
are no P waves, only fibrillatory (f) waves.  A 5-s window holds four to eight beats, too few to tell
that from a couple of premature beats; a whole wearable strip (30-60 s) holds enough.  The statistics
below are the ones the AF-detection literature relies on, computed from the record's learned delineation
(:func:`~ecgscope.signal.ecg_delineate`) and one lead of the signal:

RR irregularity (RR = successive R-peak intervals, ΔRR = |RR[i+1] - RR[i]| relative to the median RR)
    ``log_mean_rr``, ``rr_cv`` (SD / mean), ``rr_mad`` (median absolute deviation / median),
    ``drr_q10`` / ``drr_q25`` / ``drr_median`` / ``drr_mean`` / ``drr_p90`` (quantiles of ΔRR: in AF even
    the lowest quantiles are large, while a few ectopic beats only move the upper ones),
    ``share_drr_gt_50ms``, ``share_drr_gt_10pct``, ``share_drr_lt_3pct`` (regular pairs),
    ``drr_window_max`` / ``drr_window_min`` (median ΔRR over runs of 8 differences: paroxysmal AF),
    ``turning_point_ratio``, ``sd1_sd2`` (Poincaré), ``rr_autocorr`` (lag-1; bigeminy is strongly
    negative, AF near 0), ``sample_entropy`` and ``cosen`` (coefficient of sample entropy, Lake &
    Moorman 2011: SampEn(m=1, r=30 ms) + ln(2r) - ln(mean RR)), ``afev`` (occupied 40-ms bins of the
    ΔRR Lorenz plot per point, after Sarkar et al. 2008).
P waves
    ``p_wave_share``: beats whose P wave the delineator found (sinus P waves are found, f waves fall
    below its P-confidence bar); ``pr_sd_s``: spread of the PR interval (s).
Atrial activity before the QRS (250-60 ms before each R peak, 1-30 Hz)
    ``atrial_coherence``: energy of the beat-averaged segment over the mean energy of the segments (a
    P wave locked to the QRS survives the average; f waves cancel); ``atrial_template_corr``: median
    correlation of each segment with that average.
Ventricular activity
    ``qrs_odd_share``: beats whose QRS (±60 ms) correlates < 0.9 with the median QRS (ectopy, noise);
    ``beats_per_s``.

Statistics that cannot be computed (fewer than 4 RR intervals; no lead to read) are NaN: the model that
uses them decides what a missing value means.
"""

from __future__ import annotations

import numpy as np

from ecgscope.record import Record
from ecgscope.signal.delineate import FIDUCIALS, Delineation, ecg_delineate
from ecgscope.signal.filters import band_sos, sosfiltfilt

RHYTHM_FEATURES = (
    "log_mean_rr", "rr_cv", "rr_mad", "drr_q10", "drr_q25", "drr_median", "drr_mean", "drr_p90",
    "share_drr_gt_50ms", "share_drr_gt_10pct", "share_drr_lt_3pct", "drr_window_max", "drr_window_min",
    "turning_point_ratio", "sd1_sd2", "rr_autocorr", "sample_entropy", "cosen", "afev",
    "p_wave_share", "pr_sd_s", "atrial_coherence", "atrial_template_corr", "qrs_odd_share", "beats_per_s",
)
MIN_RR_INTERVALS = 4  # five beats: a 5-s strip at 60 bpm
_SAMPEN_R_S = 0.03  # CoSEn's tolerance (30 ms)
_AFEV_BIN_S = 0.04
_WINDOW_DIFFS = 8
_ATRIAL_S = (0.25, 0.06)  # the segment before each R peak that holds the P wave (or f waves)
_QRS_HALF_S = 0.06


def _sample_entropy(x: np.ndarray, r: float, segment: int = 2048) -> float:
    """SampEn(m=1, r) of a series; ln(n) when no template of length 2 matches (maximally irregular).

    Template pairs are counted within consecutive segments of at most ``segment`` points (exactly the
    textbook estimate for the strips the models were trained on), so a Holter's 10^5 beats cost
    O(segment * n) time and O(segment^2) memory instead of an n x n matrix.
    """
    n = len(x)
    pairs1 = pairs2 = 0
    for i in range(0, n - 1, segment):
        part = x[i : i + segment + 1]  # one point of overlap: every point but the last keeps its successor
        a = np.abs(part[:-1, None] - part[None, :-1]) <= r  # length-1 templates
        b = a & (np.abs(part[1:, None] - part[None, 1:]) <= r)  # ... that also match at length 2
        pairs1 += (int(a.sum()) - (len(part) - 1)) // 2
        pairs2 += (int(b.sum()) - (len(part) - 1)) // 2
    if pairs1 == 0 or pairs2 == 0:
        return float(np.log(n))
    return float(-np.log(pairs2 / pairs1))


def _rr_statistics(rr: np.ndarray) -> dict[str, float]:
    med = float(np.median(rr))
    drr = np.diff(rr)
    d = np.abs(drr) / med
    windows = np.median(np.lib.stride_tricks.sliding_window_view(d, _WINDOW_DIFFS), axis=1) \
        if d.size >= _WINDOW_DIFFS else np.array([np.median(d)])
    s1 = np.std(drr / np.sqrt(2))
    s2 = np.std((rr[1:] + rr[:-1]) / np.sqrt(2))
    lorenz = np.stack([drr[1:], drr[:-1]], axis=1)
    sampen = _sample_entropy(rr, _SAMPEN_R_S)
    return {
        "log_mean_rr": float(np.log(rr.mean())),
        "rr_cv": float(rr.std() / rr.mean()),
        "rr_mad": float(np.median(np.abs(rr - med)) / med),
        "drr_q10": float(np.percentile(d, 10)),
        "drr_q25": float(np.percentile(d, 25)),
        "drr_median": float(np.median(d)),
        "drr_mean": float(d.mean()),
        "drr_p90": float(np.percentile(d, 90)),
        "share_drr_gt_50ms": float(np.mean(d * med > 0.05)),
        "share_drr_gt_10pct": float(np.mean(d > 0.10)),
        "share_drr_lt_3pct": float(np.mean(d < 0.03)),
        "drr_window_max": float(windows.max()),
        "drr_window_min": float(windows.min()),
        "turning_point_ratio": float(np.mean((rr[1:-1] - rr[:-2]) * (rr[1:-1] - rr[2:]) > 0)),
        "sd1_sd2": float(s1 / (s2 + 1e-9)),
        "rr_autocorr": float(np.corrcoef(rr[1:], rr[:-1])[0, 1]) if rr.std() > 0 else 1.0,
        "sample_entropy": sampen,
        "cosen": float(sampen + np.log(2 * _SAMPEN_R_S) - np.log(rr.mean())),
        "afev": float(len(np.unique(np.floor(lorenz / _AFEV_BIN_S).astype(np.int64), axis=0)) / len(lorenz)),
    }


def _segments(x: np.ndarray, centres: np.ndarray, before: int, after: int) -> np.ndarray:
    """(n, before + after) rows of ``x`` around each centre that fits, each with its mean removed."""
    keep = centres[(centres - before >= 0) & (centres + after <= len(x))]
    if keep.size == 0:
        return np.zeros((0, before + after))
    rows = x[keep[:, None] + np.arange(-before, after)[None, :]]
    return rows - rows.mean(axis=1, keepdims=True)


def _template_corr(rows: np.ndarray, template: np.ndarray) -> np.ndarray:
    rc = rows - rows.mean(axis=1, keepdims=True)
    tc = template - template.mean()
    den = np.sqrt((rc * rc).sum(axis=1) * (tc * tc).sum())
    return np.where(den > 0, (rc @ tc) / np.where(den > 0, den, 1.0), 0.0)


def _reading_lead(record: Record, delineation: Delineation) -> str | None:
    """Lead II when it was delineated (P waves show best there), else the first delineated lead."""
    usable = [name for name, table in delineation.per_lead.items() if len(table)] or \
        ([record.leads[0]] if record.n_leads == 1 else [])
    if not usable:
        return None
    return "II" if "II" in usable else usable[0]


def ecg_rhythm_features(record: Record, delineation: Delineation | None = None) -> dict[str, float]:
    """Rhythm statistics of a whole record for AF detection (see the module docstring).

    Parameters
    ----------
    record : Record
        Any number of leads, sampled at >= 100 Hz; a whole strip (the longer, the more beats).
    delineation : Delineation, optional
        The record's delineation (learned method) if already computed; otherwise it is computed here.

    Returns
    -------
    dict
        One float per name in :data:`RHYTHM_FEATURES`, in that order; NaN where it cannot be computed.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> from ecgscope.record import Record
    >>> x = nk.ecg_simulate(duration=30, sampling_rate=300, heart_rate=70, random_state=2)
    >>> f = ecg_rhythm_features(Record.from_array(x, fs=300, leads=["I"]))
    >>> f["drr_median"] < 0.05, f["p_wave_share"] > 0.9
    (True, True)
    """
    if not isinstance(record, Record):
        raise TypeError(f"ecg_rhythm_features needs a Record; got {type(record).__name__} (use Record.from_array)")
    delineation = delineation if delineation is not None else ecg_delineate(record)
    out = dict.fromkeys(RHYTHM_FEATURES, float("nan"))
    beats = delineation.table()
    r_s = beats[:, FIDUCIALS.index("r_peak")] / 1000.0
    has_r = np.isfinite(r_s)
    r_s = r_s[has_r]
    rr = np.diff(r_s)
    if rr.size < MIN_RR_INTERVALS:
        return out
    out.update(_rr_statistics(rr))
    p_on = beats[has_r, FIDUCIALS.index("p_on")]
    out["p_wave_share"] = float(np.mean(np.isfinite(p_on)))
    pr = beats[has_r, FIDUCIALS.index("qrs_on")] - p_on
    pr = pr[np.isfinite(pr)] / 1000.0
    out["pr_sd_s"] = float(pr.std()) if pr.size >= 3 else float("nan")
    out["beats_per_s"] = float(r_s.size / record.duration_s)
    lead = _reading_lead(record, delineation)
    if lead is None:
        return out
    fs = record.fs
    x = sosfiltfilt(band_sos(2, 1.0, min(30.0, 0.45 * fs), fs), record.lead(lead).astype(np.float64))
    centres = np.round(r_s * fs).astype(np.int64)
    atrial = _segments(x, centres, int(round(_ATRIAL_S[0] * fs)), -int(round(_ATRIAL_S[1] * fs)))
    if len(atrial) >= 3:
        template = atrial.mean(axis=0)
        out["atrial_coherence"] = float((template**2).mean() / ((atrial**2).mean() + 1e-12))
        out["atrial_template_corr"] = float(np.median(_template_corr(atrial, template)))
    half = int(round(_QRS_HALF_S * fs))
    qrs = _segments(x, centres, half, half)
    if len(qrs) >= 3:
        out["qrs_odd_share"] = float(np.mean(_template_corr(qrs, np.median(qrs, axis=0)) < 0.9))
    return out
