"""Atrial fibrillation episodes over a long recording: ``ecgscope-af-1lead`` on 30-s windows, edges found by beat.

1. Every ``window_s`` (30 s) window of one lead is scored by the AF detector ecgscope ships (``ecgscope-af-1lead``:
   RR irregularity, P-wave presence and atrial activity from the learned delineation; trained on CinC 2017 only)
   and called AF at the package's own threshold.  Windows too short or with too few beats for the detector are
   not AF.
2. Consecutive AF windows make a candidate episode; its onset and end are then placed on beats: inside the window
   before and after each edge, the beat where the running RR irregularity (median over 8 beats of
   |RR[i+1] - RR[i]| / RR[i]) crosses the level halfway between the record's AF and non-AF windows' medians.
3. Episodes shorter than 5 beats are dropped (CPSC 2021's definition of an AF event); an episode that reaches both
   ends of the record is the whole record (persistent AF).

Nothing here was tuned on CPSC 2021: the detector and its threshold come from CinC 2017, the edge level from each
record's own windows.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

MIN_EPISODE_BEATS = 5
_RUN = 8  # beats in the running irregularity


def window_probabilities(analyzer, x: np.ndarray, fs: float, window: int) -> np.ndarray:
    """AF probability of each whole ``window``-sample window of the one-lead signal ``x`` (NaN where the detector
    cannot read it)."""
    from ecgscope.errors import ECGScopeError
    from ecgscope.record import Record

    out = np.full(len(x) // window, np.nan)
    for k in range(out.size):
        seg = np.nan_to_num(x[k * window:(k + 1) * window], nan=0.0)
        try:
            rec = Record(seg[None, :], fs=fs, leads=("I",), units="mV")
            out[k] = float(analyzer.classify_many([rec])[0, 0])
        except (ECGScopeError, ValueError):
            continue  # flat, too few beats: no call for this window
    return out


def irregularity(peaks: np.ndarray) -> np.ndarray:
    """Per beat: the running median (8 beats) of |RR[i+1] - RR[i]| / RR[i]; NaN for the last two beats."""
    out = np.full(peaks.size, np.nan)
    if peaks.size < 3:
        return out
    rr = np.diff(peaks).astype(np.float64)
    d = np.abs(np.diff(rr)) / rr[:-1]
    out[1:-1] = median_filter(d, size=min(_RUN, d.size), mode="nearest")
    return out


def episodes(peaks: np.ndarray, probs: np.ndarray, threshold: float, window: int, n: int, fs: float
             ) -> list[tuple[int, int]]:
    """AF episodes as (first sample, last sample) from window probabilities and the record's R peaks (samples)."""
    if peaks.size < MIN_EPISODE_BEATS or probs.size == 0:
        return []
    af = np.nan_to_num(probs, nan=0.0) >= threshold
    irr = irregularity(peaks)
    beat_window = np.minimum(peaks // window, probs.size - 1)
    in_af, in_non = af[beat_window], ~af[beat_window] & np.isfinite(probs[beat_window])
    level = None
    if in_af.any() and in_non.any():
        level = 0.5 * (np.nanmedian(irr[in_af]) + np.nanmedian(irr[in_non]))
    margin = int(round(0.15 * fs))  # CPSC 2021 places an onset 0.15 s before its R peak, an end 0.15 s after
    out: list[tuple[int, int]] = []
    d = np.diff(np.concatenate([[0], af.astype(np.int8), [0]]))
    for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
        first = int(np.searchsorted(peaks, a * window))
        last = int(np.searchsorted(peaks, min(b * window, n))) - 1
        if level is not None:
            if a > 0:
                first = _edge(irr, peaks, (a - 1) * window, (a + 1) * window, level, True, first)
            if b < probs.size:
                last = min(peaks.size - 1, _edge(irr, peaks, (b - 1) * window, (b + 1) * window, level, False, last))
        if last - first + 1 < MIN_EPISODE_BEATS:
            continue
        start = 0 if a == 0 else max(0, int(peaks[first]) - margin)
        end = n - 1 if b >= probs.size else min(n - 1, int(peaks[last]) + margin)
        out.append((start, end))
    return out


def _edge(irr: np.ndarray, peaks: np.ndarray, lo: int, hi: int, level: float, rising: bool, default: int) -> int:
    """The beat in [lo, hi) samples where the running irregularity crosses ``level`` (upwards at an onset,
    downwards at an end); ``default`` where it does not cross there."""
    idx = np.flatnonzero((peaks >= lo) & (peaks < hi) & np.isfinite(irr))
    if idx.size < 2:
        return default
    above = irr[idx] >= level
    if rising:
        # the first beat from which the irregularity stays above the level to the end of the search span
        stays = np.flatnonzero(above[::-1].cumprod()[::-1].astype(bool))
        return int(idx[stays[0]]) if stays.size else default
    # the last beat up to which it has stayed above the level since the span's start
    stays = np.flatnonzero(above.cumprod().astype(bool))
    return int(idx[stays[-1]]) + 1 if stays.size else default
