"""R-peak detection for 1 to 12 leads at any sampling rate, with multi-lead fusion.

``ecg_peaks(signal, fs, method=...)`` is the one entry point.  Methods:

``"ecgscope"`` (default)
    1. each lead is band-passed to the QRS band (5-20 Hz, zero phase) and turned into a slope
       envelope: the RMS of the first difference over a 100 ms window (polarity-free, so inverted
       QRS complexes and either pacing polarity count the same);
    2. each envelope is divided by its own running QRS level (the median, over ±6 s, of the 2-s
       maxima), so every lead's typical QRS is ≈ 1 whatever its amplitude or gain drift;
    3. leads are fused by a weighted mean, each weighted by its running signal-to-noise ratio (the
       2-s maximum over the envelope's 2-s median), so a noisy lead, or one that lost its signal, does
       not add or hide beats;
    4. candidate peaks of the fused envelope at least 200 ms apart (300 bpm) are accepted above
       0.5 x the level of the recent beats, with a T-wave check (a candidate within 360 ms of a beat
       and under half its height) and a search-back at half the threshold when an RR gap is over 1.5
       times the recent RR;
    5. second pass: each lead is re-normalised by its own height at those beats (30th percentile of
       the nearest 17, so frequent large ectopic beats, as in bigeminy, do not make the normal beats
       look small) and re-weighted by its height over its between-beat noise (the running median of
       the largest envelope peak per second away from the beats); step 4 runs again on this fusion
       with a threshold of 0.7;
    6. each beat is placed on the largest deflection from the local baseline of the best lead
       (band-passed 0.5-40 Hz) within ±60 ms of the envelope peak.

    The thresholds were set on MIT-BIH (the benchmark's records), CPSC 2019 and CPSC 2021 together:
    MIT-BIH is a development set here, not an unseen test set.

``"neurokit"``
    NeuroKit2's default pipeline (``ecg_clean`` then ``ecg_peaks``, method ``"neurokit"``) on one
    lead (II when present, else the first): NeuroKit2 has no multi-lead detector.

Input that holds no detectable beats (flat, too short, pure noise below threshold) gives an empty
array, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.signal import find_peaks

from ecgscope.record import Record
from ecgscope.signal.filters import butter_sos, sosfiltfilt

PEAK_METHODS = ("ecgscope", "neurokit")

_MIN_RR_S = 0.20  # 300 bpm: no two beats closer than this
_ENVELOPE_WINDOW_S = 0.10
_LEVEL_WINDOW_S = 2.0  # every 2-s window holds a beat down to 30 bpm
_LEVEL_SPAN_S = 6.0  # the running level is a median over ±6 s
_REFINE_S = 0.06
_THRESHOLD_PASS1 = 0.5  # fraction of the running QRS level
_THRESHOLD_PASS2 = 0.7  # fraction of the beat-relative level (30th percentile of the beats' heights)


def signal_array(signal: Record | np.ndarray, fs: float | None) -> tuple[np.ndarray, float, tuple[str, ...] | None]:
    """(n_leads, n_samples) float64 samples (non-finite ones as 0), fs and lead names of a Record or an array;
    an array needs a positive ``fs`` and one or two dimensions."""
    if isinstance(signal, Record):
        return np.asarray(signal.signal, dtype=np.float64), float(signal.fs), signal.leads
    if fs is None:
        raise ValueError("fs is required when signal is an array")
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"signal must be (n_samples,) or (n_leads, n_samples); got shape {x.shape}")
    fs = float(fs)
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"fs must be a positive number; got {fs!r}")
    if not np.all(np.isfinite(x)):
        x = np.where(np.isfinite(x), x, 0.0)
    return x, fs, None


def _sos_filter(x: np.ndarray, fs: float, low: float, high: float, order: int = 2) -> np.ndarray:
    padlen = min(x.shape[-1] - 1, int(fs))
    sos = butter_sos(order, (float(low), float(min(high, 0.9 * (fs / 2.0)))), "bandpass", float(fs))
    return sosfiltfilt(sos, x, axis=-1, padlen=padlen)


def _running_level(env: np.ndarray, fs: float) -> np.ndarray:
    """Per lead, the typical QRS height of ``env`` (L, N) around each sample."""
    n = env.shape[-1]
    win = max(1, int(_LEVEL_WINDOW_S * fs))
    step = max(1, int(fs / 2))  # one value every 0.5 s
    mx = maximum_filter1d(env, size=win, axis=-1, mode="nearest")[:, ::step]  # (L, B)
    half = max(1, int(round(_LEVEL_SPAN_S * fs / step)))
    b = mx.shape[-1]
    level = np.median(_sliding(mx, min(2 * half + 1, b)), axis=-1)
    return _interp_rows(n, np.arange(b) * float(step), level)


def slope_envelope(x: np.ndarray, fs: float) -> np.ndarray:
    """RMS slope (mV/s) of the QRS band over 100 ms, per lead: (L, N) -> (L, N)."""
    band = _sos_filter(x, fs, 5.0, 20.0)
    d = np.diff(band, axis=-1, prepend=band[:, :1]) * fs
    win = max(1, int(round(_ENVELOPE_WINDOW_S * fs)))
    # the running mean of squares can dip a rounding error below zero on a flat stretch
    return np.sqrt(np.maximum(uniform_filter1d(d * d, size=win, axis=-1, mode="nearest"), 0.0))


def fused_envelope(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The normalised, SNR-weighted mean envelope (N,), the per-lead weights (L, N) and the per-lead
    normalised envelopes (L, N)."""
    env = slope_envelope(x, fs)
    level = _running_level(env, fs)
    live = np.ptp(x, axis=-1) > 0.02  # flat / disconnected leads carry nothing
    safe = np.where(level > 1e-9, level, np.inf)
    norm = env / safe
    # noise floor: the envelope's median over a running 2-s window is between-beat activity
    step = max(1, int(fs / 4))
    coarse = norm[:, ::step]
    k = max(1, int(round(2.0 * fs / step)))
    floor_c = np.median(_sliding(coarse, k), axis=-1)
    peak_c = maximum_filter1d(norm, size=max(1, int(_LEVEL_WINDOW_S * fs)), axis=-1, mode="nearest")[:, ::step]
    snr_c = peak_c / np.maximum(floor_c, 0.02)
    snr = _interp_rows(x.shape[-1], np.arange(coarse.shape[-1]) * float(step), snr_c)
    weights = np.where(live[:, None], snr, 0.0)
    wsum = weights.sum(axis=0)
    wsum = np.where(wsum > 0, wsum, 1.0)
    return (weights * norm).sum(axis=0) / wsum, weights, norm


def _sliding(v: np.ndarray, k: int) -> np.ndarray:
    """(..., n, k) windows of ``v`` (..., n) centred on each element of the last axis (edges repeated)."""
    half = k // 2
    pad = [(0, 0)] * (v.ndim - 1) + [(half, k - 1 - half)]
    return np.lib.stride_tricks.sliding_window_view(np.pad(v, pad, mode="edge"), k, axis=-1)


def _interp_rows(n: int, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp(arange(n), xp, row)`` for every row of ``fp`` (L, len(xp)), all rows at once.

    The same arithmetic as NumPy's ``interp`` (slope * (t - xp[j]) + fp[j], the end values outside
    ``xp``, fp[-1] at xp[-1]), so the same numbers; the positions are searched once for every row.
    """
    t = np.arange(n, dtype=np.float64)
    xp = np.asarray(xp, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    if xp.size == 1:
        return np.repeat(fp, n, axis=1)
    j = np.clip(np.searchsorted(xp, t, side="right") - 1, 0, xp.size - 2)  # xp[j] <= t < xp[j + 1]
    slope = (fp[:, 1:] - fp[:, :-1]) / (xp[1:] - xp[:-1])  # (L, len(xp) - 1)
    out = slope[:, j] * (t - xp[j]) + fp[:, j]
    out[:, t < xp[0]] = fp[:, :1]
    out[:, t >= xp[-1]] = fp[:, -1:]
    return out


def _median_of(values: list) -> float:
    """``np.median`` of a short list (the same value), without NumPy's per-call overhead: the beat
    loops below take one per candidate peak."""
    v = sorted(values)
    n = len(v)
    return float(v[n // 2]) if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def _select(fused: np.ndarray, fs: float, threshold: float) -> np.ndarray:
    """Accept candidate peaks of the normalised fused envelope as beats."""
    min_rr = max(1, int(_MIN_RR_S * fs))
    cand, props = find_peaks(fused, distance=min_rr, height=0.08)
    if cand.size == 0:
        return cand.astype(np.int64)
    h = props["peak_heights"]
    accepted: list[int] = []
    acc_h: list[float] = []
    t_wave_s = int(0.36 * fs)
    for c, hc in zip(cand.tolist(), h.tolist(), strict=True):
        ref = _median_of(acc_h[-8:]) if acc_h else 1.0
        thr = threshold * min(1.0, max(ref, 0.5))
        if hc < thr:
            continue
        if accepted and c - accepted[-1] < t_wave_s and hc < 0.5 * acc_h[-1]:
            continue
        accepted.append(c)
        acc_h.append(hc)
    beats = np.asarray(accepted, dtype=np.int64)
    # search-back: long gaps are re-scanned at half the threshold
    if beats.size >= 3:
        extra = []
        rr = np.diff(beats).tolist()
        for k in range(len(rr)):
            recent = _median_of(rr[max(0, k - 8): k + 1])
            if rr[k] > 1.5 * recent:
                a = beats[k] + t_wave_s
                inside = (cand > beats[k] + min_rr) & (cand < beats[k + 1] - min_rr)
                if inside.any():
                    j = np.flatnonzero(inside)[np.argmax(h[inside])]
                    if h[j] > 0.5 * threshold and (cand[j] >= a or h[j] > 0.5 * acc_h[k]):
                        extra.append(int(cand[j]))
        if extra:
            beats = np.sort(np.concatenate([beats, np.asarray(extra, np.int64)]))
    return beats


def _beat_relative_envelope(norm: np.ndarray, live: np.ndarray, beats: np.ndarray,
                            fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Second pass: re-normalise each lead by its own height at the first-pass beats.

    Per lead, the reference height is the 30th percentile of its envelope at the nearest 17 beats
    (so frequent large ectopic beats, as in bigeminy, do not make the normal beats look small), and
    the weight is that height over the lead's between-beat noise (the running median of the largest
    envelope peak per second away from any beat).
    """
    n_leads, n = norm.shape
    half = max(1, int(0.05 * fs))
    idx = np.clip(beats[:, None] + np.arange(-half, half + 1)[None, :], 0, n - 1)
    h = norm[:, idx].max(axis=-1)  # (L, B) each lead's height at each beat
    k = min(17, beats.size)
    ref = np.percentile(_sliding(h, k), 30, axis=-1)  # (L, B)
    ref = np.maximum(ref, 1e-6)
    level = _interp_rows(n, beats.astype(np.float64), ref)  # (L, N)
    rel = norm / level
    # between-beat noise: the largest peak per 1-s bin outside ±150 ms of the beats
    guard = int(0.15 * fs)
    marks = np.zeros(n + 1, np.int64)
    np.add.at(marks, np.clip(beats - guard, 0, n), 1)
    np.add.at(marks, np.clip(beats + guard + 1, 0, n), -1)
    away = np.cumsum(marks[:n]) == 0
    sec = max(1, int(fs))
    n_bins = max(1, n // sec)
    masked = np.where(away[None, : n_bins * sec], rel[:, : n_bins * sec], 0.0)
    bin_max = masked.reshape(n_leads, n_bins, sec).max(axis=-1)  # (L, bins)
    kb = min(11, n_bins)
    noise = np.median(_sliding(bin_max, kb), axis=-1)
    noise = _interp_rows(n, (np.arange(n_bins) + 0.5) * sec, noise)
    weights = np.where(live[:, None], 1.0 / np.maximum(noise, 0.05), 0.0)
    wsum = weights.sum(axis=0)
    wsum = np.where(wsum > 0, wsum, 1.0)
    return (weights * rel).sum(axis=0) / wsum, weights


def _refine(x: np.ndarray, fs: float, beats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Move each beat to the largest deflection of its best lead within ±60 ms."""
    if beats.size == 0:
        return beats
    half = max(1, int(_REFINE_S * fs))
    n = x.shape[-1]
    lead_of = np.argmax(weights[:, beats], axis=0)
    used = np.unique(lead_of)  # each lead is filtered on its own: only the leads some beat uses
    wide = np.zeros_like(x)
    wide[used] = _sos_filter(x[used], fs, 0.5, 40.0)
    out = np.empty_like(beats)
    # beats whose ±3 half-widths fit inside the record: all at once (baseline median, argmax)
    inner = (beats >= 3 * half) & (beats + 3 * half + 1 <= n)
    if inner.any():
        b, li = beats[inner], lead_of[inner]
        ctx = wide[li[:, None], b[:, None] + np.arange(-3 * half, 3 * half + 1)[None, :]]  # (B, 6h+1)
        base = np.median(ctx, axis=1, keepdims=True)
        seg = ctx[:, 2 * half: 4 * half + 1]  # b - half .. b + half
        out[inner] = b - half + np.argmax(np.abs(seg - base), axis=1)
    for k in np.flatnonzero(~inner):  # near the record's ends: clipped windows
        b, li = beats[k], lead_of[k]
        a, e = max(0, b - half), min(n, b + half + 1)
        base = np.median(wide[li, max(0, b - 3 * half): min(n, b + 3 * half + 1)])
        out[k] = a + int(np.argmax(np.abs(wide[li, a:e] - base)))
    out = np.unique(out)
    if out.size > 1:  # two refined beats can land on the same wave only if they were too close
        keep = np.concatenate([[True], np.diff(out) >= int(_MIN_RR_S * fs)])
        out = out[keep]
    return out


def _peaks_ecgscope(x: np.ndarray, fs: float, leads: tuple[str, ...] | None) -> np.ndarray:
    if x.shape[-1] < int(0.5 * fs) or fs < 20:
        return np.zeros(0, np.int64)
    fused, weights, norm = fused_envelope(x, fs)
    live = np.ptp(x, axis=-1) > 0.02
    beats = _select(fused, fs, _THRESHOLD_PASS1)
    if beats.size >= 4:
        fused, weights = _beat_relative_envelope(norm, live, beats, fs)
        beats = _select(fused, fs, _THRESHOLD_PASS2)
    return _refine(x, fs, beats, weights)


def _peaks_neurokit(x: np.ndarray, fs: float, leads: tuple[str, ...] | None) -> np.ndarray:
    import neurokit2 as nk

    lead = leads.index("II") if leads and "II" in leads else 0
    try:
        clean = nk.ecg_clean(x[lead], sampling_rate=int(round(fs)))
        _, info = nk.ecg_peaks(clean, sampling_rate=int(round(fs)))
    except (ValueError, IndexError, ZeroDivisionError):
        return np.zeros(0, np.int64)  # NeuroKit2 raises on flat or very short input
    return np.unique(np.asarray(info["ECG_R_Peaks"], dtype=np.int64))


_METHODS: dict[str, Callable[[np.ndarray, float, tuple[str, ...] | None], np.ndarray]] = {
    "ecgscope": _peaks_ecgscope,
    "neurokit": _peaks_neurokit,
}


def ecg_peaks(signal: Record | np.ndarray, fs: float | None = None, *, method: str = "ecgscope") -> np.ndarray:
    """R-peak sample indices of a record or an array (multi-lead fused).

    Parameters
    ----------
    signal : Record or array
        A :class:`~ecgscope.record.Record`, or an array (n_samples,) / (n_leads, n_samples) in mV
        (any scale works: the detector normalises each lead).
    fs : float
        Sampling rate in Hz; required for an array, ignored for a Record.
    method : {"ecgscope", "neurokit"}
        See the module docstring.

    Returns
    -------
    np.ndarray
        Sorted int64 sample indices of the R peaks (empty when none are found).

    Examples
    --------
    >>> import neurokit2 as nk
    >>> x = nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=72, random_state=0)
    >>> len(ecg_peaks(x, 500))
    12
    """
    if method not in _METHODS:
        raise ValueError(f"unknown R-peak method {method!r}; valid methods: {', '.join(PEAK_METHODS)}")
    x, fs_, leads = signal_array(signal, fs)
    return np.sort(_METHODS[method](x, fs_, leads)).astype(np.int64)
