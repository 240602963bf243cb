"""Time-domain heart-rate variability from R peaks: mean RR, SDNN, RMSSD, pNN50, Poincaré SD1/SD2.

Ectopic-beat handling (stated in every result as ``ectopic_handling``): an RR interval is *not normal*
when it differs from the median of the RR intervals around it (up to 5 on each side) by more than
20 % (the 20 % rule of Malik et al.), or is outside 250–2000 ms (240–30 bpm, and a
missed-beat gap).  Mean RR and SDNN use the normal intervals only; RMSSD, pNN50 and SD1/SD2 use only
*successive pairs* of normal intervals, so an ectopic beat removes the two differences around it instead
of creating one long gap.  The intervals are never interpolated.

SD1/SD2 are computed from the same pairs: SD1 = SD(RR[i+1] - RR[i]) / √2, SD2 = SD(RR[i+1] + RR[i]) / √2
(ddof=1), so SD1² + SD2² = 2·SDNN² holds up to the end effects.  These are NeuroKit2's definitions; the
numbers equal ``neurokit2.hrv_time``/``hrv_nonlinear`` on ectopic-free input.

Each measure is ``None`` when there is too little to compute it: mean RR needs one normal interval,
SDNN two, RMSSD and pNN50 one successive pair, SD1/SD2 two pairs (a 5-s window at 45 bpm has three
beats: mean RR, SDNN, RMSSD and pNN50, no SD1/SD2).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

ECTOPIC_RULE = "RR differing >20% from the median of up to 10 neighbouring RR, or outside 250-2000 ms, excluded"
_RR_MIN_MS = 250.0
_RR_MAX_MS = 2000.0


def normal_intervals(rr_ms: np.ndarray) -> np.ndarray:
    """Boolean mask of the RR intervals that pass the ectopic rule (see the module docstring)."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    ok = (rr >= _RR_MIN_MS) & (rr <= _RR_MAX_MS)
    if rr.size >= 3:
        local = median_filter(rr, size=min(11, rr.size | 1), mode="nearest")
        ok &= np.abs(rr - local) <= 0.2 * local
    return ok


def _round(v: float | None) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 2)


def ecg_hrv(rpeaks: np.ndarray, fs: float) -> dict:
    """Time-domain HRV and Poincaré descriptors of R peaks at ``fs`` Hz.

    Returns ``mean_rr_ms, sdnn_ms, rmssd_ms, pnn50, sd1_ms, sd2_ms`` (``None`` where too few beats),
    ``heart_rate_bpm`` (60000 / mean normal RR), ``n_beats``, ``n_intervals``, ``n_excluded`` (RR
    intervals dropped as ectopic or implausible) and ``ectopic_handling`` (the rule, in words).
    ``pnn50`` is a percentage.

    Examples
    --------
    >>> import numpy as np
    >>> peaks = np.cumsum([0, 400, 410, 390, 400, 405, 395, 200, 600, 400])  # one premature beat
    >>> h = ecg_hrv(peaks, fs=500)
    >>> h["mean_rr_ms"], h["n_excluded"]
    (800.0, 2)
    """
    peaks = np.unique(np.asarray(rpeaks, dtype=np.int64).ravel())
    fs = float(fs)
    rr = np.diff(peaks) * 1000.0 / fs
    ok = normal_intervals(rr)
    nn = rr[ok]
    pair = ok[:-1] & ok[1:]
    d = (rr[1:] - rr[:-1])[pair]
    s = (rr[1:] + rr[:-1])[pair]
    mean_rr = float(nn.mean()) if nn.size else None
    out = {
        "mean_rr_ms": _round(mean_rr),
        "heart_rate_bpm": _round(60000.0 / mean_rr) if mean_rr else None,
        "sdnn_ms": _round(float(nn.std(ddof=1))) if nn.size >= 2 else None,
        "rmssd_ms": _round(float(np.sqrt(np.mean(d * d)))) if d.size else None,
        "pnn50": _round(float(np.mean(np.abs(d) > 50.0) * 100.0)) if d.size else None,
        "sd1_ms": _round(float(np.std(d, ddof=1) / np.sqrt(2))) if d.size >= 2 else None,
        "sd2_ms": _round(float(np.std(s, ddof=1) / np.sqrt(2))) if d.size >= 2 else None,
        "n_beats": int(peaks.size),
        "n_intervals": int(rr.size),
        "n_excluded": int((~ok).sum()),
        "ectopic_handling": ECTOPIC_RULE,
    }
    return out
