"""Per-lead signal quality: a usable/unusable flag with the reasons.

Checks, each on one lead in mV:

* ``flatline``: no signal (peak-to-peak under 20 µV), or most one-second segments flat;
* ``lead off``: an implausibly large excursion (over 10 mV typical peak), as a disconnected
  electrode gives;
* ``saturation``: the signal sits at its extreme value for runs of 20 ms or more, over more than
  2 % of the record (amplifier clipping);
* ``high-frequency noise``: energy above 40 Hz (muscle, mains) larger than 30 % of the lead's
  QRS-band amplitude;
* ``baseline wander``: the sub-0.7 Hz component swings more than 2 mV or more than twice the QRS
  amplitude.

The score is 1 minus the penalties of the issues found (clipped to [0, 1]); a lead is usable when
it has no flatline / lead-off issue and its score is at least 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecgscope.record import Record
from ecgscope.signal.filters import bandpass

_PENALTY = {"flatline": 1.0, "lead off": 1.0, "saturation": 0.6, "high-frequency noise": 0.5, "baseline wander": 0.3}
_FATAL = {"flatline", "lead off"}


@dataclass
class LeadQuality:
    lead: str
    score: float
    usable: bool
    issues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"lead": self.lead, "score": round(self.score, 3), "usable": self.usable, "issues": list(self.issues)}


def _runs_at(mask: np.ndarray, min_len: int) -> int:
    """Number of samples in runs of ``mask`` at least ``min_len`` long."""
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return int(lengths[lengths >= min_len].sum())


def lead_issues(x: np.ndarray, fs: float) -> list[str]:
    """The quality issues of one lead ``x`` (mV) sampled at ``fs`` Hz."""
    x = np.asarray(x, dtype=np.float64)
    issues: list[str] = []
    if np.ptp(x) < 0.02:
        return ["flatline"]
    sec = int(fs)
    n_seg = len(x) // sec
    if n_seg >= 2:
        seg_std = x[: n_seg * sec].reshape(n_seg, sec).std(axis=1)
        if np.mean(seg_std < 0.005) > 0.5:
            issues.append("flatline")
    qrs_band = bandpass(x[None], fs, 5.0, min(30.0, 0.45 * fs))[0]
    amp = float(np.percentile(np.abs(qrs_band), 99.5))
    centred = np.abs(x - np.median(x))
    if np.percentile(centred, 99.5) > 10.0:
        issues.append("lead off")
    lo, hi = x.min(), x.max()
    tol = 1e-6 * max(1.0, hi - lo)
    at_rail = (x >= hi - tol) | (x <= lo + tol)
    if _runs_at(at_rail, max(2, int(0.02 * fs))) > 0.02 * len(x):
        issues.append("saturation")
    if fs >= 100:
        hf = x - bandpass(x[None], fs, None, 40.0)[0]
        hf_rms = float(np.sqrt(np.mean(hf**2)))
        if amp > 0 and hf_rms > 0.3 * amp / 2.5:  # rms of a QRS-band peak ≈ peak / 2.5
            issues.append("high-frequency noise")
    base = bandpass(x[None], fs, None, 0.7, order=2)[0]
    swing = float(np.ptp(base))
    if swing > 2.0 or (amp > 0 and swing > 2.0 * amp):
        issues.append("baseline wander")
    return issues


def lead_quality(record: Record) -> dict[str, LeadQuality]:
    """Quality of every lead of ``record``.

    Examples
    --------
    >>> import numpy as np
    >>> from ecgscope.record import Record
    >>> t = np.arange(5000) / 500
    >>> rec = Record(np.vstack([np.sin(2 * np.pi * 1.2 * t), np.zeros(5000)]), fs=500, leads=["I", "II"])
    >>> {k: v.usable for k, v in lead_quality(rec).items()}
    {'I': True, 'II': False}
    """
    out = {}
    for name, x in zip(record.leads, record.signal, strict=True):
        issues = lead_issues(x, record.fs)
        score = float(np.clip(1.0 - sum(_PENALTY[i] for i in issues), 0.0, 1.0))
        usable = not (_FATAL & set(issues)) and score >= 0.5
        out[name] = LeadQuality(name, score, usable, issues)
    return out
