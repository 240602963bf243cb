"""Signal quality per lead and per window: a usable/unusable flag with the reasons.

Checks, each on one lead (or one lead inside one window) in mV:

* ``flatline``: no signal (peak-to-peak under 20 µV), or most one-second segments flat (SD < 5 µV);
* ``lead off``: an implausibly large excursion (99.5th percentile of |x - median| over 10 mV), as a
  disconnected electrode gives;
* ``saturation``: the signal sits at its extreme value for runs of 20 ms or more, over more than 2 % of
  the samples (amplifier clipping);
* ``high-frequency noise``: the RMS above 40 Hz (muscle, mains) is more than 30 % of the RMS a QRS-band
  peak implies (its 99.5th percentile / 2.5).  The penalty grows with the ratio: noise as large as the
  QRS itself makes the lead unusable on its own;
* ``baseline wander``: the sub-0.7 Hz component swings more than 2 mV or more than twice the QRS
  amplitude;
* ``artifact``: the beats are not alike: the median correlation of each beat's QRS band (±120 ms
  around the R peaks of :func:`~ecgscope.signal.peaks.ecg_peaks`, found at ~125 Hz, all leads fused)
  with the lead's median beat is under 0.7 (motion artifact or in-band noise that the frequency checks cannot tell
  from a QRS; on CinC 2017 it flags 35 % of the 5-s windows of the "noisy" class and 2 % of normal
  rhythm's).  It needs the R peaks, so it runs with the per-window report (``windows=True``) only.

Scores: 1 minus the penalties of the issues found (flatline and lead off 1.0, saturation 0.6,
high-frequency noise 0.3-1.0, baseline wander 0.3, artifact 0.6), clipped to [0, 1].  A lead (or a lead in a window)
is usable when it has no flatline / lead-off issue and its score is at least 0.5.  A window is usable
when at least half of its leads are; the record is usable when at least half of its leads are usable
and at least one window is.

Windows follow the classification convention (DESIGN §2): non-overlapping ``window_s`` windows from
the start, the last partial window dropped, a record shorter than one window forming one window.
The filters run once over the whole record and every statistic is vectorised over leads, so a 10-s
12-lead record takes a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.signal import sosfilt, sosfilt_zi

from ecgscope.record import Record
from ecgscope.signal.filters import band_sos

_PENALTY = {"flatline": 1.0, "lead off": 1.0, "saturation": 0.6, "high-frequency noise": 0.3, "baseline wander": 0.3,
            "artifact": 0.6}
_MIN_BEAT_CONSISTENCY = 0.7
_FATAL = {"flatline", "lead off"}
ISSUES = tuple(_PENALTY)


@dataclass
class LeadQuality:
    lead: str
    score: float
    usable: bool
    issues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"lead": self.lead, "score": round(self.score, 3), "usable": self.usable, "issues": list(self.issues)}


@dataclass
class WindowQuality:
    """Quality of one classification window: per-lead results inside ``[start_s, end_s)``."""

    start_s: float
    end_s: float
    usable: bool
    leads: dict[str, LeadQuality]

    @property
    def issues(self) -> list[str]:
        return [f"{q.lead}: {i}" for q in self.leads.values() for i in q.issues]

    def to_dict(self) -> dict:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "usable": self.usable,
                "per_lead": {k: round(q.score, 3) for k, q in self.leads.items()}, "issues": self.issues}


@dataclass
class QualityReport:
    """Record-level quality: ``to_dict()`` is DESIGN §4's ``"quality"`` plus ``windows`` and ``leads``."""

    usable: bool
    leads: dict[str, LeadQuality]
    windows: list[WindowQuality]
    issues: list[str]

    @property
    def per_lead(self) -> dict[str, float]:
        return {k: round(q.score, 3) for k, q in self.leads.items()}

    def lead_usable(self, lead: str) -> bool:
        return self.leads[lead].usable

    @property
    def usable_leads(self) -> tuple[str, ...]:
        return tuple(k for k, q in self.leads.items() if q.usable)

    def to_dict(self) -> dict:
        return {
            "usable": self.usable,
            "per_lead": self.per_lead,
            "issues": list(self.issues),
            "windows": [w.to_dict() for w in self.windows],
            "leads": {k: q.to_dict() for k, q in self.leads.items()},
        }


def _rail_runs(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, min_len: int) -> np.ndarray:
    """Per lead, the number of samples in runs (>= min_len) at the lead's min or max value."""
    lo, hi = lo[:, None].astype(np.float64), hi[:, None].astype(np.float64)
    tol = 1e-6 * np.maximum(1.0, hi - lo)
    at = (x >= hi - tol) | (x <= lo + tol)  # (L, N)
    out = np.zeros(x.shape[0], np.int64)
    for i in np.flatnonzero(at.sum(axis=1) >= min_len):
        d = np.diff(np.concatenate(([0], at[i].view(np.int8), [0])))
        lengths = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
        out[i] = int(lengths[lengths >= min_len].sum())
    return out


@lru_cache(maxsize=64)
def _design(fs: float, low: float | None, high: float | None, order: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Butterworth SOS and its steady-state initial conditions (designing one costs ~1 ms: cached)."""
    nyq = fs / 2.0
    if high is not None and high >= 0.95 * nyq:
        high = None
    sos = band_sos(order, low, high, fs)
    return None if sos is None else (sos, sosfilt_zi(sos))


def _causal(x: np.ndarray, fs: float, low: float | None, high: float | None, order: int) -> np.ndarray:
    """One-pass Butterworth filter started in its steady state for the first sample.

    The checks only use amplitudes, RMS and ranges, which the filter's phase does not change, so one
    pass (half the cost of forward-backward) is enough; starting in steady state avoids the start-up
    transient a DC offset would cause.
    """
    design = _design(float(fs), low, high, order)
    if design is None:
        return x
    sos, zi = design
    y, _ = sosfilt(sos, x, axis=-1, zi=zi[:, None, :] * x[None, :, :1])  # zi: (sections, L, 2)
    return y


def _decimate(x: np.ndarray, k: int) -> np.ndarray:
    """Block means of ``k`` samples (a crude anti-alias filter, enough for band amplitudes)."""
    if k <= 1:
        return x
    n = x.shape[-1] // k * k
    # the k phases summed in order then divided: the same numbers as reshape(...).mean(-1), which
    # NumPy reduces slowly along a short last axis
    total = x[:, 0:n:k].copy()
    for j in range(1, k):
        total += x[:, j:n:k]
    return total / k


class _Filtered:
    """The three filtered versions of a record that the checks need, computed once.

    The QRS band (5-30 Hz) is computed at about 125 Hz and the baseline (< 0.7 Hz) at about 25 Hz,
    on block-mean decimated copies; the high-frequency residue (> 40 Hz) at the record's own rate.
    """

    def __init__(self, x: np.ndarray, fs: float):
        self.x = x
        self.fs = fs
        x64 = x.astype(np.float64)
        self.k_qrs = max(1, int(fs // 125))
        self.coarse = _decimate(x64, self.k_qrs)  # ~125 Hz: the QRS band and the artifact check's R peaks
        self.qrs = _causal(self.coarse, fs / self.k_qrs, 5.0, min(30.0, 0.45 * fs), 2)
        self.hf = _causal(x64, fs, 40.0, None, 4) if fs >= 100 else None
        self.k_base = max(1, int(fs // 25))
        self.base = _causal(_decimate(x64, self.k_base), fs / self.k_base, None, 0.7, 2)
        self.lo = x.min(axis=1)
        self.hi = x.max(axis=1)


def _beat_consistency(f: _Filtered, beats: np.ndarray, a: int, b: int) -> np.ndarray:
    """Per lead, the median correlation of each beat's QRS band (±120 ms) with the lead's median beat,
    over the beats inside [a, b); NaN with fewer than 3 beats."""
    k = f.k_qrs
    pos = beats[(beats >= a) & (beats < b)] // k
    half = max(2, int(0.12 * f.fs / k))
    pos = pos[(pos >= half) & (pos < f.qrs.shape[1] - half)]
    if pos.size < 3:
        return np.full(f.qrs.shape[0], np.nan)
    seg = f.qrs[:, pos[:, None] + np.arange(-half, half)[None, :]]  # (L, beats, W)
    seg = seg - seg.mean(axis=-1, keepdims=True)
    tmpl = np.median(seg, axis=1, keepdims=True)
    tmpl = tmpl - tmpl.mean(axis=-1, keepdims=True)
    num = (seg * tmpl).sum(axis=-1)
    den = np.linalg.norm(seg, axis=-1) * np.linalg.norm(tmpl, axis=-1) + 1e-12
    return np.median(num / den, axis=1)


def _issues(f: _Filtered, a: int, b: int, beats: np.ndarray | None = None) -> list[tuple[list[str], float]]:
    """Issues and score of every lead on samples [a, b) (``beats``: R peaks for the artifact check)."""
    x = f.x[:, a:b].astype(np.float64)
    fs = f.fs
    n_leads, n = x.shape
    ptp = np.ptp(x, axis=1)
    sec = int(fs)
    n_seg = n // sec
    flat_frac = np.zeros(n_leads)
    if n_seg >= 2:
        seg_std = x[:, : n_seg * sec].reshape(n_leads, n_seg, sec).std(axis=2)
        flat_frac = np.mean(seg_std < 0.005, axis=1)
    amp = np.percentile(np.abs(f.qrs[:, a // f.k_qrs: max(b // f.k_qrs, a // f.k_qrs + 1)]), 99.5, axis=1)
    x32 = f.x[:, a:b]  # float32: the partitions below take half the time, at a precision 10 mV does not need
    centred = np.percentile(np.abs(x32 - np.median(x32, axis=1, keepdims=True)), 99.5, axis=1)
    rails = _rail_runs(x, f.lo, f.hi, max(2, int(0.02 * fs)))
    hf_ratio = np.zeros(n_leads)
    if f.hf is not None:
        hf_rms = np.sqrt(np.mean(f.hf[:, a:b].astype(np.float64) ** 2, axis=1))
        hf_ratio = np.where(amp > 0, hf_rms / np.maximum(amp / 2.5, 1e-12), 0.0)
    swing = np.ptp(f.base[:, a // f.k_base: max(b // f.k_base, a // f.k_base + 1)], axis=1)
    consistency = _beat_consistency(f, beats, a, b) if beats is not None else np.full(n_leads, np.nan)
    out = []
    for i in range(n_leads):
        if ptp[i] < 0.02:
            out.append((["flatline"], 0.0))
            continue
        issues: list[str] = []
        penalty = 0.0
        if flat_frac[i] > 0.5:
            issues.append("flatline")
        if centred[i] > 10.0:
            issues.append("lead off")
        if rails[i] > 0.02 * n:
            issues.append("saturation")
        if hf_ratio[i] > 0.3:
            issues.append("high-frequency noise")
            penalty += float(np.clip(0.3 + (hf_ratio[i] - 0.3) * 1.2, 0.3, 1.0)) - _PENALTY["high-frequency noise"]
        if swing[i] > 2.0 or (amp[i] > 0 and swing[i] > 2.0 * amp[i]):
            issues.append("baseline wander")
        if consistency[i] < _MIN_BEAT_CONSISTENCY:
            issues.append("artifact")
        penalty += sum(_PENALTY[k] for k in issues)
        out.append((issues, float(np.clip(1.0 - penalty, 0.0, 1.0))))
    return out


def _lead_results(leads: tuple[str, ...], res: list[tuple[list[str], float]]) -> dict[str, LeadQuality]:
    return {name: LeadQuality(name, score, not (_FATAL & set(issues)) and score >= 0.5, issues)
            for name, (issues, score) in zip(leads, res, strict=True)}


def ecg_quality(record: Record, window_s: float = 5.0, windows: bool = True) -> QualityReport:
    """Quality of ``record`` per lead, per ``window_s`` window and overall (see the module docstring).

    ``windows=False`` skips the per-window flags and the artifact check (``.windows`` is then empty
    and the record's usability rests on its leads alone), for callers that only need the leads fast.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> import numpy as np
    >>> from ecgscope.record import Record
    >>> ecg = nk.ecg_simulate(duration=10, sampling_rate=500, random_state=0)
    >>> rec = Record(np.vstack([ecg, np.zeros(5000)]), fs=500, leads=["I", "II"])
    >>> q = ecg_quality(rec)
    >>> q.to_dict()["per_lead"], q.issues, len(q.windows)
    ({'I': 1.0, 'II': 0.0}, ['II: flatline'], 2)
    """
    f = _Filtered(np.asarray(record.signal, dtype=np.float32), record.fs)
    beats = None
    if windows:
        from ecgscope.signal.peaks import ecg_peaks

        # R peaks at ~125 Hz (block-centre positions at the record's rate): the artifact check looks at
        # ±120 ms around them, so 8 ms steps are plenty, and detection costs half what it does at 500 Hz
        k = f.k_qrs
        beats = ecg_peaks(f.coarse, record.fs / k) * k + k // 2
    whole = _issues(f, 0, record.n_samples, beats)
    leads = _lead_results(record.leads, whole)
    size = max(1, int(round(window_s * record.fs)))
    starts = (list(range(0, record.n_samples - size + 1, size)) or [0]) if windows else []
    wins = []
    for a in starts:
        b = min(record.n_samples, a + size)
        # a window spanning the whole record (a 10-s record, 10-s windows) is the record: same checks
        wl = _lead_results(record.leads, whole if (a, b) == (0, record.n_samples) else _issues(f, a, b, beats))
        ok = sum(q.usable for q in wl.values()) >= max(1, len(wl) / 2)
        wins.append(WindowQuality(a / record.fs, b / record.fs, ok, wl))
    issues = [f"{q.lead}: {i}" for q in leads.values() for i in q.issues]
    n_ok = sum(q.usable for q in leads.values())
    usable = n_ok >= max(1, len(leads) / 2) and (not windows or any(w.usable for w in wins))
    if not usable:
        issues.append(f"record unusable: {n_ok} of {len(leads)} leads usable"
                      + (f", {sum(w.usable for w in wins)} of {len(wins)} windows usable" if windows else ""))
    return QualityReport(usable, leads, wins, issues)


def lead_quality(record: Record) -> dict[str, LeadQuality]:
    """Quality of every lead of ``record`` over the whole record (see :func:`ecg_quality`).

    Examples
    --------
    >>> import neurokit2 as nk
    >>> import numpy as np
    >>> from ecgscope.record import Record
    >>> ecg = nk.ecg_simulate(duration=10, sampling_rate=500, random_state=0)
    >>> rec = Record(np.vstack([ecg, np.zeros(5000)]), fs=500, leads=["I", "II"])
    >>> {k: v.usable for k, v in lead_quality(rec).items()}
    {'I': True, 'II': False}
    """
    f = _Filtered(np.asarray(record.signal, dtype=np.float32), record.fs)
    return _lead_results(record.leads, _issues(f, 0, record.n_samples))
