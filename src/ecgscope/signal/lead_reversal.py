"""Limb-electrode reversal: is this 12-lead record recorded with two (or three) limb cables swapped?

A swap of the RA, LA and LL electrodes permutes and inverts the six limb leads (Einthoven and Goldberger
leads are differences of the three potentials) and leaves the precordial leads unchanged (Wilson's central
terminal is their mean, which no permutation changes).  So a reversed record is a *signed permutation* of
the limb leads (:data:`LIMB_SWAPS`), and what gives it away is that the limb leads no longer agree with the
precordial leads and with the usual frontal-plane polarity (P and QRS negative in aVR, positive in I and II).

``ecg_lead_reversal(record)`` measures that on the record's median beat:

1. the record at 100 Hz, R peaks of all leads (:func:`~ecgscope.signal.peaks.ecg_peaks`), the median beat
   of every lead (band-passed 0.5-40 Hz, -250 to +400 ms around each R peak);
2. features: the net area of the P, QRS and T segments of each limb lead (relative to the limb leads' total),
   and the correlation of each limb lead's median beat with V5 and V6 (the precordial leads nearest the
   frontal plane's left side);
3. a multinomial logistic model over "no swap" and the five swaps, trained by
   :mod:`ecgscope.train.lead_reversal` on PTB-XL records with the swaps applied exactly (the weights ship
   as ``lead_reversal.json``); the reported probability is that of the swaps it can see
   (:data:`DETECTABLE_SWAPS`: LA/RA, RA/LL and the two rotations).  An LA/LL swap is not detected.

A swap involving the right-leg (neutral) electrode makes a limb lead nearly flat; the signal-quality gate
reports that as a flat lead, and this detector does not model it.  True anatomy can mimic a swap
(dextrocardia mirrors lead I like an LA/RA swap); the result says "probable", and the figures on records
from hospitals it never saw are in ``benchmarks/results/lead_reversal.md``.

>>> from ecgscope.io import load_record                                                  # doctest: +SKIP
>>> ecg_lead_reversal(load_record("../shared/data/ptbxl/records500/00000/00002_hr")).detected  # doctest: +SKIP
False
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ecgscope.leads import STANDARD_LEADS
from ecgscope.record import Record
from ecgscope.signal.filters import bandpass
from ecgscope.signal.peaks import ecg_peaks
from ecgscope.signal.resample import resample_array

LIMB_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF")
# swap -> for each limb lead of the reversed record, (source limb lead, sign) of the correctly recorded one
LIMB_SWAPS: dict[str, dict[str, tuple[str, int]]] = {
    "LA/RA": {"I": ("I", -1), "II": ("III", 1), "III": ("II", 1), "aVR": ("aVL", 1), "aVL": ("aVR", 1),
              "aVF": ("aVF", 1)},
    "LA/LL": {"I": ("II", 1), "II": ("I", 1), "III": ("III", -1), "aVR": ("aVR", 1), "aVL": ("aVF", 1),
              "aVF": ("aVL", 1)},
    "RA/LL": {"I": ("III", -1), "II": ("II", -1), "III": ("I", -1), "aVR": ("aVF", 1), "aVL": ("aVL", 1),
              "aVF": ("aVR", 1)},
    # RA cable on LA, LA cable on LL, LL cable on RA, and the other way round
    "RA>LA>LL": {"I": ("III", 1), "II": ("I", -1), "III": ("II", -1), "aVR": ("aVL", 1), "aVL": ("aVF", 1),
                 "aVF": ("aVR", 1)},
    "RA>LL>LA": {"I": ("II", -1), "II": ("III", -1), "III": ("I", 1), "aVR": ("aVF", 1), "aVL": ("aVR", 1),
                 "aVF": ("aVL", 1)},
}
CLASSES = ("none", *LIMB_SWAPS)
# LA/LL reversal is the classic near-invisible one (lead III inverted, I and II exchanged, aVL and aVF
# exchanged: every lead keeps a plausible shape); on PTB-XL the model tells it from a correct recording in
# about 1 % of cases, so it is learned as a class of its own (to keep its look-alikes out of "none") and left
# out of the reported probability
DETECTABLE_SWAPS = ("LA/RA", "RA/LL", "RA>LA>LL", "RA>LL>LA")
_DETECTABLE_IDX = [CLASSES.index(s) for s in DETECTABLE_SWAPS]
# a rotation is a pair swap followed by the invisible LA/LL swap, so it looks like that pair swap: the result
# names the pair with the rotation that cannot be told from it (on PTB-XL fold 10 the exact one was right 70 %)
SWAP_GROUPS = {"LA/RA (or the RA>LL>LA rotation)": ("LA/RA", "RA>LL>LA"),
               "RA/LL (or the RA>LA>LL rotation)": ("RA/LL", "RA>LA>LL")}
WEIGHTS_FILE = Path(__file__).with_name("lead_reversal.json")

_BEAT_S = (-0.25, 0.40)  # median-beat window around the R peak
_SEGMENTS_S = {"P": (-0.25, -0.07), "QRS": (-0.06, 0.08), "T": (0.12, 0.40)}
_MIN_BEATS = 3
ANALYSIS_FS = 100.0  # every record is read at PTB-XL's 100 Hz, the rate the detector was trained at
_LIMB_IDX = [STANDARD_LEADS.index(n) for n in LIMB_LEADS]
_V56_IDX = [STANDARD_LEADS.index("V5"), STANDARD_LEADS.index("V6")]

FEATURE_NAMES = tuple(
    [f"{seg}_area_{lead}" for seg in _SEGMENTS_S for lead in LIMB_LEADS]
    + [f"corr_{lead}_{v}" for lead in LIMB_LEADS for v in ("V5", "V6")]
)


def apply_limb_swap(signal: np.ndarray, swap: str) -> np.ndarray:
    """The 12-lead ``signal`` (standard order) as it would have been recorded with ``swap``'s cables reversed."""
    if swap not in LIMB_SWAPS:
        raise ValueError(f"unknown limb swap {swap!r}; valid swaps: {', '.join(LIMB_SWAPS)}")
    out = np.array(signal, dtype=np.float32, copy=True)
    for lead, (src, sign) in LIMB_SWAPS[swap].items():
        out[STANDARD_LEADS.index(lead)] = sign * np.asarray(signal)[STANDARD_LEADS.index(src)]
    return out


def median_beats(signal: np.ndarray, fs: float) -> np.ndarray | None:
    """(12, n) median beat of every lead at :data:`ANALYSIS_FS` around the R peaks (None when fewer than 3 whole
    beats); ``signal`` is a 12-lead array in standard order at ``fs`` Hz."""
    fs_ = ANALYSIS_FS
    x = bandpass(resample_array(np.asarray(signal, dtype=np.float32), fs, fs_), fs_, 0.5, 40.0)
    peaks = ecg_peaks(x, fs_)
    a, b = int(round(_BEAT_S[0] * fs_)), int(round(_BEAT_S[1] * fs_))
    peaks = peaks[(peaks + a >= 0) & (peaks + b <= x.shape[1])]
    if len(peaks) < _MIN_BEATS:
        return None
    beats = np.stack([x[:, p + a : p + b] for p in peaks])  # (n_beats, 12, n)
    return np.median(beats, axis=0)


def reversal_features(beat: np.ndarray) -> np.ndarray:
    """The :data:`FEATURE_NAMES` vector of a (12, n) median beat from :func:`median_beats`."""
    fs = ANALYSIS_FS
    a = int(round(_BEAT_S[0] * fs))
    limb = beat[_LIMB_IDX]
    feats = []
    total = np.abs(limb).sum() + 1e-9
    for lo, hi in _SEGMENTS_S.values():
        s, e = int(round(lo * fs)) - a, int(round(hi * fs)) - a
        seg = limb[:, s:e] - limb[:, :1]  # relative to the beat's start (the PR baseline)
        feats.extend((seg.sum(axis=1) * (limb.shape[1] / max(e - s, 1)) / total).tolist())
    for k in range(len(LIMB_LEADS)):
        for v in _V56_IDX:
            feats.append(_corr(limb[k], beat[v]))
    return np.asarray(feats, dtype=np.float64)


def _corr(u: np.ndarray, v: np.ndarray) -> float:
    u, v = u - u.mean(), v - v.mean()
    d = np.sqrt((u * u).sum() * (v * v).sum())
    return float((u * v).sum() / d) if d > 1e-12 else 0.0


@dataclass(frozen=True)
class LeadReversal:
    """The detector's verdict on one record."""

    probability: float | None  # P(a detectable limb-cable swap); None when it could not be assessed
    likely_swap: str | None  # the most probable swap (a key of SWAP_GROUPS) when detected
    detected: bool
    threshold: float
    reason: str | None = None  # why it was not assessed

    def to_dict(self) -> dict[str, Any]:
        return {"probability": None if self.probability is None else round(self.probability, 4),
                "likely_swap": self.likely_swap, "detected": self.detected, "threshold": round(self.threshold, 4),
                "reason": self.reason}

    def issue(self) -> str | None:
        """The quality issue to report, when detected."""
        if not self.detected:
            return None
        return (f"limb electrodes probably reversed ({self.likely_swap}, probability {self.probability:.2f}): "
                "check the cable placement and record again; every finding of this record may be misleading")


@dataclass(frozen=True)
class ReversalModel:
    """Standardisation and multinomial logistic weights (from :mod:`ecgscope.train.lead_reversal`)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (n_classes, n_features)
    intercept: np.ndarray
    threshold: float
    training: dict[str, Any]

    def swap_probability(self, feats: np.ndarray) -> np.ndarray:
        """(n,) probability of a detectable swap (the sum over :data:`DETECTABLE_SWAPS`)."""
        return self.predict_proba(feats)[:, _DETECTABLE_IDX].sum(axis=1)

    def predict_proba(self, feats: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(feats) - self.mean) / self.scale @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def to_json(self) -> dict[str, Any]:
        return {"classes": list(CLASSES), "features": list(FEATURE_NAMES), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
                "threshold": self.threshold, "training": self.training}

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> ReversalModel:
        if tuple(spec["classes"]) != CLASSES or tuple(spec["features"]) != FEATURE_NAMES:
            raise ValueError("lead-reversal weights were made for other classes or features: retrain them "
                             "(python -m ecgscope.train.lead_reversal)")
        return cls(np.asarray(spec["mean"]), np.asarray(spec["scale"]), np.asarray(spec["coef"]),
                   np.asarray(spec["intercept"]), float(spec["threshold"]), dict(spec.get("training", {})))


@cache
def load_reversal_model(path: str | None = None) -> ReversalModel:
    """The shipped detector (or the weights file at ``path``)."""
    return ReversalModel.from_json(json.loads(Path(path or WEIGHTS_FILE).read_text()))


def ecg_lead_reversal(record: Record, model: ReversalModel | None = None) -> LeadReversal:
    """Probability that ``record``'s limb cables were swapped, and the most likely swap.

    A record without all 12 standard leads, or with too few beats, is not assessed (``probability`` None,
    ``reason`` says why); that is no error, since a single-lead strip has no limb-lead geometry to check.
    """
    model = model or load_reversal_model()
    if not set(STANDARD_LEADS) <= set(record.leads):
        return LeadReversal(None, None, False, model.threshold, "needs the 12 standard leads")
    beat = median_beats(record.select_leads(list(STANDARD_LEADS)).signal, record.fs)
    if beat is None:
        return LeadReversal(None, None, False, model.threshold, f"fewer than {_MIN_BEATS} whole beats")
    p = model.predict_proba(reversal_features(beat))[0]
    p_swap = float(p[_DETECTABLE_IDX].sum())
    detected = p_swap >= model.threshold
    group_p = {name: sum(p[CLASSES.index(s)] for s in members) for name, members in SWAP_GROUPS.items()}
    likely = max(group_p, key=group_p.get) if detected else None
    return LeadReversal(p_swap, likely, bool(detected), model.threshold)
