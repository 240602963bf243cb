"""Scoring of beat detection and wave delineation against reference annotations.

Conventions (stated in every table that uses them):

* **Matching** is one-to-one: every reference event is paired with at most one detected event and
  vice versa, inside a tolerance window (150 ms by default, as bxb/ANSI-AAMI EC57 use for QRS
  detection).  Pairs are formed closest first, so a detection halfway between two references goes to
  the nearer one and the other reference counts as missed.
* **Beat detection** (:func:`score_beats`) follows bxb: the first 5 minutes of a record are a learning
  period and are not scored (``skip_s=300``); references and detections from ``skip_s`` on are matched.
  **Gross** statistics (:func:`gross`) sum TP/FN/FP over all beats of all records before dividing;
  average statistics (the mean of per-record Se/PPV) are reported beside them where useful.
* **Delineation** (:func:`score_fiducials`) is scored per fiducial (P onset, ..., T offset) with the same
  one-to-one matching inside ±150 ms; the signed error is detected minus reference, in ms, and is
  summarised as mean ± SD and mean absolute error over the matched pairs.  Where the reference annotates
  only part of the record (LUDB leaves the edges out), an unmatched detection counts as a false positive
  only inside the annotated span ``[first annotated sample, last annotated sample]`` of that lead (any
  fiducial); outside it there is no reference to contradict it, so it is ignored.  Likewise an unmatched
  detection within the tolerance of a wave whose peak is annotated but whose onset/offset is not (LUDB
  has a few) is ignored (``ignore=``).  Matched detections always count.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

BXB_TOLERANCE_S = 0.150
BXB_SKIP_S = 300.0
DELINEATION_TOLERANCE_S = 0.150


def match_events(reference: np.ndarray, detected: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one pairs of ``reference`` and ``detected`` events at most ``tolerance`` apart.

    Events are positions on one axis (samples or seconds; ``tolerance`` in the same unit).  Pairs are
    formed closest first.  Returns ``(ref_idx, det_idx)``: index arrays into the inputs, sorted by
    reference position.

    Examples
    --------
    >>> import numpy as np
    >>> ref, det = match_events(np.array([100, 400, 700]), np.array([98, 405, 530, 1000]), tolerance=54)
    >>> ref.tolist(), det.tolist()
    ([0, 1], [0, 1])
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    det = np.asarray(detected, dtype=np.float64).ravel()
    if ref.size == 0 or det.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order_d = np.argsort(det, kind="stable")
    det_sorted = det[order_d]
    lo = np.searchsorted(det_sorted, ref - tolerance, side="left")
    hi = np.searchsorted(det_sorted, ref + tolerance, side="right")
    counts = hi - lo
    if counts.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ri = np.repeat(np.arange(ref.size), counts)
    dj = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True) if b > a])
    dist = np.abs(det_sorted[dj] - ref[ri])
    order = np.lexsort((dj, ri, dist))  # closest first; ties by position, deterministic
    ref_used = np.zeros(ref.size, bool)
    det_used = np.zeros(det.size, bool)
    out_r, out_d = [], []
    for k in order:
        r, d = ri[k], dj[k]
        if ref_used[r] or det_used[d]:
            continue
        ref_used[r] = det_used[d] = True
        out_r.append(r)
        out_d.append(order_d[d])
    out_r_arr = np.asarray(out_r, np.int64)
    out_d_arr = np.asarray(out_d, np.int64)
    s = np.argsort(out_r_arr, kind="stable")
    return out_r_arr[s], out_d_arr[s]


@dataclass
class DetectionScore:
    """Counts and statistics of one matching (one record, or summed over records)."""

    tp: int
    fn: int
    fp: int
    errors: np.ndarray = field(default_factory=lambda: np.zeros(0))  # signed detected - reference, in ms

    @property
    def n_reference(self) -> int:
        return self.tp + self.fn

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def ppv(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fn + self.fp
        return 2 * self.tp / d if d else float("nan")

    @property
    def mean_error_ms(self) -> float:
        return float(np.mean(self.errors)) if self.errors.size else float("nan")

    @property
    def sd_error_ms(self) -> float:
        return float(np.std(self.errors, ddof=1)) if self.errors.size > 1 else float("nan")

    @property
    def mean_abs_error_ms(self) -> float:
        return float(np.mean(np.abs(self.errors))) if self.errors.size else float("nan")

    def to_dict(self) -> dict:
        return {
            "tp": self.tp, "fn": self.fn, "fp": self.fp,
            "sensitivity": self.sensitivity, "ppv": self.ppv, "f1": self.f1,
            "mean_error_ms": self.mean_error_ms, "sd_error_ms": self.sd_error_ms,
            "mean_abs_error_ms": self.mean_abs_error_ms,
        }

    def __add__(self, other: DetectionScore) -> DetectionScore:
        return DetectionScore(self.tp + other.tp, self.fn + other.fn, self.fp + other.fp,
                              np.concatenate([self.errors, other.errors]))


def score_events(reference: np.ndarray, detected: np.ndarray, fs: float,
                 tolerance_s: float = BXB_TOLERANCE_S) -> DetectionScore:
    """Match ``detected`` to ``reference`` (samples at ``fs`` Hz) one-to-one and count TP/FN/FP."""
    ref = np.asarray(reference, dtype=np.float64).ravel()
    det = np.asarray(detected, dtype=np.float64).ravel()
    ri, di = match_events(ref, det, tolerance_s * fs)
    errors = (det[di] - ref[ri]) * 1000.0 / fs
    return DetectionScore(int(ri.size), int(ref.size - ri.size), int(det.size - di.size), errors)


def score_beats(reference: np.ndarray, detected: np.ndarray, fs: float, *, skip_s: float = BXB_SKIP_S,
                tolerance_s: float = BXB_TOLERANCE_S) -> DetectionScore:
    """bxb-style beat-by-beat comparison of one record.

    References and detections before ``skip_s`` seconds are left out (bxb's 5-minute learning period;
    pass ``skip_s=0`` for short records), then the rest are matched inside ``tolerance_s``.

    Examples
    --------
    >>> import numpy as np
    >>> s = score_beats(np.array([100, 460, 820]), np.array([102, 470, 600]), fs=360, skip_s=0)
    >>> (s.tp, s.fn, s.fp)
    (2, 1, 1)
    """
    ref = np.asarray(reference, dtype=np.int64).ravel()
    det = np.asarray(detected, dtype=np.int64).ravel()
    start = skip_s * fs
    return score_events(ref[ref >= start], det[det >= start], fs, tolerance_s)


def gross(scores: Iterable[DetectionScore]) -> DetectionScore:
    """Sum of per-record scores: gross statistics are computed over all beats together."""
    total = DetectionScore(0, 0, 0)
    for s in scores:
        total = total + s
    return total


def annotated_span(reference: Mapping[str, np.ndarray]) -> tuple[int, int] | None:
    """(first, last) annotated sample over every fiducial of one lead; None when nothing is annotated."""
    vals = [np.asarray(v).ravel() for v in reference.values()]
    vals = [v[v >= 0] for v in vals if v.size]
    vals = [v for v in vals if v.size]
    if not vals:
        return None
    allv = np.concatenate(vals)
    return int(allv.min()), int(allv.max())


def score_fiducials(reference: Mapping[str, np.ndarray], detected: Mapping[str, np.ndarray], fs: float,
                    tolerance_s: float = DELINEATION_TOLERANCE_S,
                    span: tuple[int, int] | None | str = "annotated",
                    ignore: Mapping[str, np.ndarray] | None = None) -> dict[str, DetectionScore]:
    """Score each fiducial of one lead of one record.

    ``reference`` and ``detected`` map a fiducial name (``p_on``, ``qrs_off``, ...) to the sample
    positions of that fiducial (absent waves simply have no entry in the array; negative values mean
    "not annotated" and are ignored).  Every fiducial named in ``reference`` is scored.

    ``span="annotated"`` (default) ignores unmatched detections outside the annotated span of the
    reference (see the module docstring); pass an explicit ``(first, last)`` sample range, or ``None``
    to count every unmatched detection.  ``ignore`` maps a fiducial to positions (e.g. the peaks of
    waves whose onset was not annotated) near which unmatched detections are not false positives.
    """
    if span == "annotated":
        # nothing annotated in this lead: an empty span, so only matches (none) would count
        span = annotated_span(reference) or (0, -1)
    out = {}
    for name, ref in reference.items():
        ref = np.asarray(ref, dtype=np.float64).ravel()
        ref = ref[ref >= 0]
        det = np.asarray(detected.get(name, np.zeros(0)), dtype=np.float64).ravel()
        det = det[np.isfinite(det)]
        ri, di = match_events(ref, det, tolerance_s * fs)
        unmatched = np.ones(det.size, bool)
        unmatched[di] = False
        if span is not None:
            a, b = span  # type: ignore[misc]
            unmatched &= (det >= a) & (det <= b)
        skip = np.asarray((ignore or {}).get(name, np.zeros(0)), dtype=np.float64).ravel()
        if skip.size and unmatched.any():
            near = np.abs(det[:, None] - skip[None, :]).min(axis=1) <= tolerance_s * fs
            unmatched &= ~near
        errors = (det[di] - ref[ri]) * 1000.0 / fs
        out[name] = DetectionScore(int(ri.size), int(ref.size - ri.size), int(unmatched.sum()), errors)
    return out


GLOBAL_INTERVALS = ("pr_ms", "qrs_ms", "qt_ms")


def reference_global_intervals(waves_by_lead: Mapping[str, Mapping[str, np.ndarray]], fs: float,
                               tolerance_s: float = DELINEATION_TOLERANCE_S) -> dict[str, float | None]:
    """A record's global PR, QRS and QT (ms) from per-lead reference waves (e.g. LUDB's).

    ``waves_by_lead[lead]`` maps ``"P"``, ``"QRS"``, ``"T"`` to (n, 3) [onset, peak, offset] samples
    (-1 where the annotator left a boundary out).  Beats are the QRS peaks of the lead with the most
    QRS annotations; a lead's wave belongs to a beat when its QRS peak is within ``tolerance_s`` of the
    beat's, its P wave ends in the 400 ms before that QRS onset, its T wave starts after that QRS offset
    and before the next beat.  Per beat the global onset is the **earliest** onset over the leads and the
    global offset the **latest** offset (the definition of global intervals in IEC 60601-2-25); the
    record's value is the median over the beats where both ends exist, ``None`` where none has them.

    Examples
    --------
    >>> import numpy as np
    >>> lead = {"P": np.array([[100, 120, 150]]), "QRS": np.array([[180, 200, 225]]),
    ...         "T": np.array([[300, 350, 400]])}
    >>> other = {"P": np.array([[95, 120, 148]]), "QRS": np.array([[182, 200, 230]]),
    ...          "T": np.array([[300, 350, 390]])}
    >>> reference_global_intervals({"I": lead, "II": other}, fs=500.0)
    {'pr_ms': 170.0, 'qrs_ms': 100.0, 'qt_ms': 440.0}
    """
    tol = tolerance_s * fs
    leads = [w for w in waves_by_lead.values() if len(w["QRS"])]
    if not leads:
        return dict.fromkeys(GLOBAL_INTERVALS)
    beats = max(leads, key=lambda w: len(w["QRS"]))["QRS"][:, 1].astype(np.float64)
    nb = beats.size
    cols = {k: np.full((len(leads), nb), np.nan) for k in ("p_on", "qrs_on", "qrs_off", "t_off")}

    def val(v: int) -> float:
        return float(v) if v >= 0 else np.nan

    for li, w in enumerate(leads):
        q = w["QRS"]
        for b in range(nb):
            k = int(np.argmin(np.abs(q[:, 1] - beats[b])))
            if abs(q[k, 1] - beats[b]) > tol:
                continue
            on, off = val(q[k, 0]), val(q[k, 2])
            cols["qrs_on"][li, b], cols["qrs_off"][li, b] = on, off
            anchor_on = on if np.isfinite(on) else float(q[k, 1])
            anchor_off = off if np.isfinite(off) else float(q[k, 1])
            nxt = beats[b + 1] if b + 1 < nb else np.inf
            p = w["P"]
            p_hit = p[(p[:, 1] < anchor_on) & (p[:, 1] > anchor_on - 0.4 * fs)] if len(p) else p
            if len(p_hit):
                cols["p_on"][li, b] = val(p_hit[-1, 0])
            t = w["T"]
            t_hit = t[(t[:, 1] > anchor_off) & (t[:, 1] < nxt)] if len(t) else t
            if len(t_hit):
                cols["t_off"][li, b] = val(t_hit[0, 2])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN beats stay NaN
        g = {k: (np.nanmin(v, axis=0) if k.endswith("_on") else np.nanmax(v, axis=0)) for k, v in cols.items()}

    def med(a: np.ndarray, b: np.ndarray) -> float | None:
        d = (b - a) * 1000.0 / fs
        d = d[np.isfinite(d) & (d > 0)]
        return float(np.median(d)) if d.size else None

    return {"pr_ms": med(g["p_on"], g["qrs_on"]),
            "qrs_ms": med(g["qrs_on"], g["qrs_off"]), "qt_ms": med(g["qrs_on"], g["t_off"])}
