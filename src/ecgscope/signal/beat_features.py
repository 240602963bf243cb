"""Features of each beat for AAMI beat classification: its RR context and its shape against the record's own
dominant beat.

Beat classes are told apart by two things a cardiologist looks at (de Chazal et al. 2004, Llamedo & Martínez
2011): *timing* (an S or V beat comes early, a compensatory pause follows a V beat; in AF every beat is
irregular) and *shape* (a V beat is wide and unlike the beats around it; an S beat has a normal QRS).  Every
feature here is relative to the same record, so it carries across patients, leads and devices: RR intervals
are divided by the local and the long-term RR of the same record, and a beat's shape is compared with the
**dominant template** of its stretch of the record, not with any absolute morphology.  A record with bundle
branch block has wide normal beats; what makes a V beat there is that it differs from them.

* :func:`rr_features` — from the R-peak times alone (``RR_FEATURES``);
* :func:`morphology_features` — from the signal around each beat (``MORPHOLOGY_FEATURES``);
* :func:`beat_features` — both, for a record or an array held in memory.

Long recordings (:mod:`ecgscope.holter`) compute the morphology chunk by chunk and the RR context over the whole
day, so the two are separate functions.

>>> import neurokit2 as nk
>>> x = nk.ecg_simulate(duration=30, sampling_rate=360, heart_rate=70, random_state=0)
>>> from ecgscope.signal.peaks import ecg_peaks
>>> p = ecg_peaks(x, 360)
>>> beat_features(x, 360, p).shape == (len(p), len(BEAT_FEATURES))
True
"""

from __future__ import annotations

import warnings

import numpy as np

from ecgscope.record import Record
from ecgscope.signal.filters import bandpass
from ecgscope.signal.peaks import signal_array

RR_FEATURES = (
    "pre_local", "post_local", "pre_post", "post_minus_pre_local", "pre_long", "local_long",
    "local_irregularity", "next_pre_local",
)
_LEAD_FEATURES = ("corr_qrs", "corr_beat", "corr_p", "corr_t", "log_amp_ratio", "diff_rms", "width_ratio",
                  "r_sign_agreement", "late_area")
MORPHOLOGY_FEATURES = (
    *(f"dominant_{f}" for f in _LEAD_FEATURES),  # on the lead whose dominant QRS is largest
    *(f"worst_{f}" for f in _LEAD_FEATURES),  # the value furthest from the template over the leads
    "template_width_ms", "beat_width_ms",
    # the beat's distance from the template in units of the template beats' own spread: what is "different"
    # depends on the record (noise, lead placement), so it is measured against that record's regular beats
    "qrs_outlier", "rms_outlier",
)
BEAT_FEATURES = RR_FEATURES + MORPHOLOGY_FEATURES

STEP_S = 0.005  # the beat grid: 200 Hz whatever the record's rate
WINDOW_S = (-0.25, 0.45)  # around the R peak
_QRS = (-0.10, 0.10)
_P = (-0.25, -0.09)
_T = (0.15, 0.45)
_LATE = (0.05, 0.15)
LOCAL_BEATS = 10  # RR intervals each side for the local rhythm
LONG_BEATS = 150  # each side, about 4 min at 70 bpm
TEMPLATE_BEATS = 31  # pool beats in a running template
_GRID = np.arange(round(WINDOW_S[0] / STEP_S), round(WINDOW_S[1] / STEP_S) + 1) * STEP_S


def _sl(span: tuple[float, float]) -> slice:
    a = int(round((span[0] - WINDOW_S[0]) / STEP_S))
    b = int(round((span[1] - WINDOW_S[0]) / STEP_S)) + 1
    return slice(a, b)


def _running_median(v: np.ndarray, half: int, block: int = 4096) -> np.ndarray:
    """Median of ``v[i - half : i + half + 1]`` (clipped to the array), NaNs ignored.  Rows are taken
    ``block`` at a time so memory stays bounded on a day of beats."""
    n = v.size
    out = np.empty(n, dtype=np.float64)
    pad = np.concatenate([np.full(half, np.nan), v, np.full(half, np.nan)])
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN, which callers fill
        for a in range(0, n, block):
            out[a:a + block] = np.nanmedian(win[a:a + block], axis=1)
    return out


def rr_features(peaks_s: np.ndarray, rr_valid: np.ndarray | None = None) -> np.ndarray:
    """RR context of every beat, as ratios to the same record's rhythm (``RR_FEATURES``).

    Parameters
    ----------
    peaks_s : array (n_beats,)
        R-peak times in seconds, sorted.
    rr_valid : bool array (n_beats - 1,), optional
        False for an RR interval that spans a gap or unanalysable signal (it is then treated as unknown).

    Returns
    -------
    np.ndarray (n_beats, len(RR_FEATURES)) float32
        ``pre_local`` = RR before the beat / the local median RR (the median of the ``LOCAL_BEATS`` intervals
        each side), ``post_local`` the RR after it likewise, ``pre_post`` their ratio, ``post_minus_pre_local``
        the compensatory pause, ``pre_long``/``local_long`` against the median over ``LONG_BEATS`` each side,
        ``local_irregularity`` the median absolute successive RR difference around the beat over the local RR
        (high in AF), ``next_pre_local`` the next beat's ``pre_local``.  Unknown values are 1 (0 for the
        difference and irregularity): a beat with no context looks regular.
    """
    t = np.asarray(peaks_s, dtype=np.float64)
    n = t.size
    out = np.zeros((n, len(RR_FEATURES)), np.float32)
    if n < 2:
        out[:, [0, 1, 2, 4, 5, 7]] = 1.0
        return out
    rr = np.diff(t)
    if rr_valid is not None:
        rr = np.where(np.asarray(rr_valid, bool), rr, np.nan)
    pre = np.concatenate([[np.nan], rr])  # RR ending at beat i
    post = np.concatenate([rr, [np.nan]])  # RR starting at beat i
    local = _running_median(pre, LOCAL_BEATS)
    long = _running_median(pre, LONG_BEATS)
    dd = np.abs(np.diff(pre))
    irr = _running_median(np.concatenate([[np.nan], dd]), LOCAL_BEATS)
    with np.errstate(all="ignore"):
        f = np.stack([pre / local, post / local, pre / post, (post - pre) / local, pre / long, local / long,
                      irr / local, np.concatenate([pre[1:], [np.nan]]) / np.concatenate([local[1:], [np.nan]])],
                     axis=1)
    fill = np.array([1, 1, 1, 0, 1, 1, 0, 1], np.float64)
    f = np.where(np.isfinite(f), f, fill)
    return np.clip(f, -10.0, 10.0).astype(np.float32)


def _beats_on_grid(y: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
    """(n_leads, n_beats, n_grid) samples of the band-passed signal on the fixed beat grid (linear interp)."""
    pos = peaks[:, None] / 1.0 + _GRID[None, :] * fs  # (n_beats, n_grid) fractional sample positions
    pos = np.clip(pos, 0, y.shape[1] - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, y.shape[1] - 1)
    w = (pos - i0).astype(np.float32)
    return y[:, i0] * (1 - w) + y[:, i1] * w


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of a (..., k) with b (k,) broadcast as (..., k)."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    return np.where(den > 1e-12, (a * b).sum(-1) / np.maximum(den, 1e-12), 0.0)


def _qrs_width(w: np.ndarray) -> np.ndarray:
    """QRS width (s) of each beat row: the span where the slope exceeds 25 % of its largest value in the QRS
    region."""
    seg = w[..., _sl((-0.15, 0.15))]
    d = np.abs(np.diff(seg, axis=-1))
    above = d >= 0.25 * d.max(axis=-1, keepdims=True).clip(1e-9)
    first = above.argmax(axis=-1)
    last = above.shape[-1] - 1 - above[..., ::-1].argmax(axis=-1)
    return (last - first + 1) * STEP_S


def _running_templates(beats: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """(L, n, G) template of every beat: the median of the ``TEMPLATE_BEATS`` pool beats nearest to it."""
    n = beats.shape[1]
    idx = np.flatnonzero(pool)
    if idx.size < 3:
        idx = np.arange(n)
    h = min(TEMPLATE_BEATS // 2, (idx.size - 1) // 2)
    k = 2 * h + 1
    # the window of pool beats centred on each pool beat, clipped at the ends
    start = np.clip(np.arange(idx.size) - h, 0, idx.size - k)
    sel = idx[start[:, None] + np.arange(k)[None, :]]  # (n_pool, k)
    tpl_pool = np.median(beats[:, sel], axis=2)  # (L, n_pool, G)
    nearest = np.clip(np.searchsorted(idx, np.arange(n)), 0, idx.size - 1)
    left = np.clip(nearest - 1, 0, idx.size - 1)
    nearest = np.where(np.abs(idx[left] - np.arange(n)) < np.abs(idx[nearest] - np.arange(n)), left, nearest)
    return tpl_pool[:, nearest]


def morphology_features(x: np.ndarray, fs: float, peaks: np.ndarray, rr: np.ndarray | None = None) -> np.ndarray:
    """Shape of every beat against the dominant template around it (``MORPHOLOGY_FEATURES``).

    The template of a beat is the median of the nearest ``TEMPLATE_BEATS`` *template beats*: beats not early
    against the local rhythm (``pre_local >= 1``: ectopic beats come early, so in bigeminy these are the sinus
    beats) that are, in a first pass, most like the template around them.  A running template follows the
    slow changes of a long recording (posture, electrode drift) that a single template would call ectopy.

    Parameters
    ----------
    x : array (n_leads, n_samples) or (n_samples,), mV
    fs : float
    peaks : int array (n_beats,)
        R-peak samples in ``x``.
    rr : array (n_beats, len(RR_FEATURES)), optional
        The beats' :func:`rr_features` (default: computed from ``peaks``).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    peaks = np.asarray(peaks, dtype=np.int64)
    n = peaks.size
    out = np.zeros((n, len(MORPHOLOGY_FEATURES)), np.float32)
    if n == 0:
        return out
    y = bandpass(x, fs, 0.5, 40.0)
    b = _beats_on_grid(y, fs, peaks)  # (L, n, G)
    rr = rr if rr is not None else rr_features(peaks / fs)
    q = _sl(_QRS)
    pool = rr[:, 0] >= 1.0
    tpl = _running_templates(b, pool)  # (L, n, G)
    like = _corr(b[..., q], tpl[..., q]).sum(axis=0)  # (n,)
    if pool.sum() >= 6:
        # second pass: of the template beats, the 80 % most like the first template
        pool = pool & (like >= np.quantile(like[pool], 0.2))
        tpl = _running_templates(b, pool)
    tq = tpl[..., q]
    tp2p = np.ptp(tq, axis=-1).clip(1e-3)  # (L, n)
    bp2p = np.ptp(b[..., q], axis=-1).clip(1e-4)
    tw = _qrs_width(tpl)  # (L, n)
    bw = _qrs_width(b)
    r_t = tpl[..., _sl((-0.01, 0.01))].mean(-1)
    r_b = b[..., _sl((-0.01, 0.01))].mean(-1)
    la = _sl(_LATE)
    diff_rms = np.sqrt(((b[..., q] - tq) ** 2).mean(-1)) / tp2p
    feats = np.stack([
        _corr(b[..., q], tq),
        _corr(b, tpl),
        _corr(b[..., _sl(_P)], tpl[..., _sl(_P)]),
        _corr(b[..., _sl(_T)], tpl[..., _sl(_T)]),
        np.log(bp2p / tp2p),
        diff_rms,
        bw / tw.clip(STEP_S),
        np.sign(r_b) * np.sign(r_t) * np.minimum(np.abs(r_b) / np.abs(r_t).clip(1e-3), 3.0),
        (b[..., la].mean(-1) - tpl[..., la].mean(-1)) / tp2p,
    ], axis=-1).astype(np.float32)  # (L, n, F)
    dom_lead = np.argmax(tp2p, axis=0)  # (n,)
    cols = np.arange(n)
    out[:, -4] = tw[dom_lead, cols] * 1000.0
    out[:, -3] = bw[dom_lead, cols] * 1000.0
    dis = (1 - feats[..., 0]).mean(0)  # (n,)
    rms = feats[..., 5].mean(0)
    ref = pool if pool.any() else np.ones(n, bool)
    out[:, -2] = dis / (np.median(dis[ref]) + 0.01)
    out[:, -1] = rms / (np.median(rms[ref]) + 0.02)
    k = len(_LEAD_FEATURES)
    out[:, :k] = feats[dom_lead, cols]
    # worst over leads: least correlation, largest deviation (signed features keep the sign of the larger one)
    worst = np.empty((n, k), np.float32)
    worst[:, :4] = feats[..., :4].min(axis=0)
    for j in (4, 6, 8):
        v = feats[..., j] if j != 6 else np.log(feats[..., j].clip(1e-3))
        pick = np.abs(v).argmax(axis=0)
        worst[:, j] = feats[pick, cols, j]
    worst[:, 5] = feats[..., 5].max(axis=0)
    worst[:, 7] = feats[..., 7].min(axis=0)
    out[:, k:2 * k] = worst
    out[:, -2:] = np.log1p(out[:, -2:].clip(0))
    return np.nan_to_num(out, nan=0.0, posinf=10.0, neginf=-10.0)


def beat_features(signal: Record | np.ndarray, fs: float | None, peaks: np.ndarray) -> np.ndarray:
    """RR and morphology features of every beat of a record held in memory (``BEAT_FEATURES``).

    Parameters
    ----------
    signal : Record or array (n_leads, n_samples) / (n_samples,) in mV
    fs : float
        Required for an array, ignored for a Record.
    peaks : int array
        R-peak samples (e.g. :func:`~ecgscope.signal.peaks.ecg_peaks`).

    Returns
    -------
    np.ndarray (n_beats, len(BEAT_FEATURES)) float32
    """
    x, fs, _ = signal_array(signal, fs)
    peaks = np.asarray(peaks, dtype=np.int64)
    rr = rr_features(peaks / float(fs))
    return np.concatenate([rr, morphology_features(x, float(fs), peaks, rr)], axis=1)
