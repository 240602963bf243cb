"""PQRST delineation: per beat P onset/peak/offset, QRS onset/R peak/QRS offset, T peak/offset.

``ecg_delineate(record, method=...)`` is the one entry point.  Every position is in **milliseconds
from the start of the record**; an absent wave (no P wave in AF, no T wave found) is ``None`` / NaN,
never a guessed position.  Methods:

``"learned"`` (default)
    The small U-Net of :mod:`ecgscope.signal.delineator_net`, trained on LUDB's expert annotations,
    labels every sample of every lead (the leads run as one batch at 250 Hz).  Post-processing turns
    the labels into beats:

    * beats are the QRS runs of the lead-averaged class probabilities (usable leads only), so every
      lead shares one beat list and the global delineation has one row per beat;
    * in each lead, a beat's QRS is that lead's QRS run overlapping the beat; its P wave is the last P
      run that ends before the QRS onset and starts after the previous beat's T offset (or QRS offset);
      its T wave is the first T run that starts after the QRS offset and ends before the next QRS
      onset.  Pieces of one P or T wave split by a short background gap (20 ms, 80 ms: notched or
      biphasic waves) are merged; runs shorter than 20 ms (P), 30 ms (QRS) or 40 ms (T) are discarded
      as label noise.  This guarantees P_on < P_off <= QRS_on < R < QRS_off < T_peak <= T_off < next
      P_on: no beat overlaps another;
    * the R peak is the top of the R wave (the largest rise above the line joining QRS onset and
      offset), as LUDB's cardiologists mark it; P and T peaks are the largest deflection from that line
      inside the wave (inverted waves included); peaks are found on the record's own samples;
    * the **global** (multi-lead) delineation takes, per beat, the second-earliest onset and the
      second-latest offset over the leads that show the wave (earliest / latest with fewer than 3 such
      leads), the median P and T peaks and the R peak of the lead with the largest QRS; a P or T
      wave is present globally only when at least half of the delineated leads show it (and, for P,
      the lead-averaged P probability reaches 0.75 somewhere in it), and a lead's P wave is kept only
      for beats that have one globally (in AF, f waves look like P waves in a few leads).

``"neurokit"``
    NeuroKit2's DWT delineator (``ecg_clean`` → ``ecg_peaks`` → ``ecg_delineate(method="dwt")``) on
    each lead independently, as NeuroKit2 users call it; the QRS onset/offset are NeuroKit2's
    ``ECG_R_Onsets``/``ECG_R_Offsets``.  NeuroKit2 has no multi-lead delineation: the global row is
    lead II's (or the first lead's).

Input the delineator cannot use gives beats with ``None`` waves and a reason in ``issues`` rather than
an exception: flat, detached (lead off) and noise-swamped leads (quality score 0) are left out (their
per-lead rows are empty), a record with no such lead left yields no beats, and below 100 Hz only R
peaks are given.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ecgscope.record import Record
from ecgscope.signal.quality import QualityReport, ecg_quality

FIDUCIALS = ("p_on", "p_peak", "p_off", "qrs_on", "r_peak", "qrs_off", "t_peak", "t_off")
DELINEATION_METHODS = ("learned", "neurokit")
MIN_DELINEATION_FS = 100.0

_MIN_RUN_S = {1: 0.020, 2: 0.030, 3: 0.040}  # P, QRS, T
_MAX_GAP_S = {1: 0.02, 2: 0.0, 3: 0.08}  # pieces of one wave (notched, biphasic) are merged
_F = {name: i for i, name in enumerate(FIDUCIALS)}
# a beat has a P wave only if the lead-averaged P probability somewhere in it reaches this: sinus P
# waves reach 0.9-1.0 while atrial fibrillation's f waves stay around 0.5-0.7 (LUDB validation fold)
_MIN_P_CONFIDENCE = 0.75


@dataclass
class Delineation:
    """Beats of a record, globally and per lead, in ms from the record start (NaN = absent).

    ``beats`` is the (n_beats, 8) global table, columns :data:`FIDUCIALS`; ``per_lead[lead]`` is the
    same for one lead (the learned method gives every lead the same rows as ``beats``; a lead that was
    left out has an empty table).
    """

    beats: np.ndarray
    per_lead: dict[str, np.ndarray]
    fs: float
    method: str
    global_lead: str = "global"
    issues: list[str] = field(default_factory=list)
    quality: QualityReport | None = None

    @property
    def n_beats(self) -> int:
        return int(self.beats.shape[0])

    @property
    def leads(self) -> tuple[str, ...]:
        return tuple(self.per_lead)

    def table(self, lead: str = "global") -> np.ndarray:
        """The (n, 8) table of ``lead`` (``"global"`` for the multi-lead delineation)."""
        if lead in ("global", self.global_lead):
            return self.beats
        if lead not in self.per_lead:
            raise KeyError(f"no lead {lead!r}; leads are {list(self.per_lead)}")
        return self.per_lead[lead]

    def samples(self, fiducial: str, lead: str = "global") -> np.ndarray:
        """Positions of one fiducial as (fractional) samples of the record, absent waves skipped."""
        col = self.table(lead)[:, _F[fiducial]]
        col = col[np.isfinite(col)]
        return col * self.fs / 1000.0

    def beat_dicts(self, lead: str = "global") -> list[dict[str, float | None]]:
        # rounded as one array, then plain floats (NaN -> None): a 12-lead record has ~1000 values
        rows = np.round(self.table(lead), 1).tolist()
        return [{name: (v if v == v else None) for name, v in zip(FIDUCIALS, row, strict=True)} for row in rows]

    def to_dict(self, lead: str = "global") -> dict:
        """DESIGN §4 ``"delineation"``: ``{"lead": "global" | lead name, "beats": [{p_on, ..., t_off}]}``."""
        name = "global" if lead in ("global", self.global_lead) else lead
        if name == "global" and self.global_lead != "global":
            name = self.global_lead
        return {"lead": name, "beats": self.beat_dicts(lead)}

    def to_full_dict(self) -> dict:
        """Everything: the global beats, every lead's beats, method and issues (for the dashboard)."""
        return {
            **self.to_dict(),
            "method": self.method,
            "per_lead": {lead: self.beat_dicts(lead) for lead in self.per_lead},
            "issues": list(self.issues),
        }


# ---------------------------------------------------------------------------------------------- runs
def _runs_2d(mask: np.ndarray, min_len: int, max_gap: int = 0,
             other_cum: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The True runs of every row of an (L, T) mask: (row, start, end inclusive), sorted by row, start.

    Runs of one row separated by at most ``max_gap`` samples that are all background are merged first
    (a notched or biphasic wave labelled in two pieces), then runs shorter than ``min_len`` are
    dropped.  ``other_cum`` (L, T + 1) counts the non-background samples of each row up to each
    position (:func:`_non_background_cumsum`); merging needs it.
    """
    n_rows, n = mask.shape
    padded = np.zeros((n_rows, n + 2), np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    rows, cols = np.nonzero(d)  # row-major: each run's start (+1) is followed by its end (-1)
    rows, starts, ends = rows[0::2], cols[0::2], cols[1::2] - 1
    if max_gap > 0 and other_cum is not None and rows.size > 1:
        gap = starts[1:] - ends[:-1] - 1
        other = other_cum[rows[1:], starts[1:]] - other_cum[rows[1:], ends[:-1] + 1]  # non-background in gap
        join = (rows[1:] == rows[:-1]) & (gap <= max_gap) & (other == 0)
        keep_start = np.concatenate([[True], ~join])
        keep_end = np.concatenate([~join, [True]])
        rows, starts, ends = rows[keep_start], starts[keep_start], ends[keep_end]
    keep = ends - starts + 1 >= min_len
    return rows[keep], starts[keep], ends[keep]


def _non_background_cumsum(labels: np.ndarray) -> np.ndarray:
    """(L, T) classes -> (L, T + 1) running count of non-background samples (0 first)."""
    cum = np.zeros((labels.shape[0], labels.shape[1] + 1), np.int32)
    np.cumsum(labels != 0, axis=1, out=cum[:, 1:])
    return cum


def _span_index(a: np.ndarray, b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices of spans [a, b] of a length-``n`` axis as one (spans, widest) matrix, padded past
    each span's end with the last sample (clipped to ``n - 1``), and the mask of those padding cells."""
    idx = a[:, None] + np.arange(max(1, int((b - a).max()) + 1))[None, :]
    outside = idx > b[:, None]
    return np.minimum(idx, n - 1), outside


def _peaks_in_spans(x: np.ndarray, rows: np.ndarray, a: np.ndarray, b: np.ndarray,
                    r_wave: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Peak of each span [a, b] of row ``rows`` of ``x`` (L, N), and (``r_wave`` only) each span's range.

    ``r_wave``: the largest rise above the line joining the span's ends (the R wave; LUDB's
    cardiologists mark the R wave, however small, and never the nadir of a QS complex: 0.1 % of 6,800
    training-fold QRS peaks); otherwise the largest deflection either way from that line (P and T
    waves, inverted ones too).
    """
    if rows.size == 0:
        return np.zeros(0, np.int64), np.zeros(0) if r_wave else None
    a = np.clip(a, 0, x.shape[1] - 1)
    b = np.clip(np.maximum(b, a), 0, x.shape[1] - 1)
    idx, outside = _span_index(a, b, x.shape[1])
    seg = x[rows[:, None], idx]
    xa, xb = x[rows, a], x[rows, b]
    frac = np.arange(idx.shape[1])[None, :] / np.maximum(b - a, 1)[:, None]
    d = seg - (xa[:, None] + (xb - xa)[:, None] * frac)
    if not r_wave:
        d = np.abs(d)
    d[outside] = -np.inf  # argmax never picks past the span's end
    k = d.argmax(axis=1)
    if not r_wave:
        return a + k, None
    seg_hi = np.where(outside, -np.inf, seg).max(axis=1)
    seg_lo = np.where(outside, np.inf, seg).min(axis=1)
    return a + k, seg_hi - seg_lo


def _lead_tables(labels: np.ndarray, x: np.ndarray, ratio: float, beat_qrs: np.ndarray,
                 fs_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-lead beats aligned to the global QRS runs: (L, B, 8) in model samples and (L, B) QRS ranges.

    ``labels`` (L, T) are the per-sample classes at the model rate, ``x`` (L, N) the leads at the
    record's rate (``ratio`` = record rate / model rate), for the peaks.  All leads are handled at once:
    run positions are keyed by ``lead * stride + sample`` so one sorted search serves every lead.
    """
    n_leads, t_len = labels.shape
    n_beats = beat_qrs.shape[0]
    out = np.full((n_leads, n_beats, 8), np.nan)
    amp = np.zeros((n_leads, n_beats))
    if n_beats == 0 or n_leads == 0:
        return out, amp
    stride = t_len + 10_000
    runs = {}
    other_cum = _non_background_cumsum(labels)
    for c in (1, 2, 3):
        r, a, b = _runs_2d(labels == c, max(1, int(round(_MIN_RUN_S[c] * fs_m))),
                           int(round(_MAX_GAP_S[c] * fs_m)), other_cum)
        runs[c] = (r * stride + a, r * stride + b)
    lead = np.repeat(np.arange(n_leads), n_beats)  # (L*B,) lead of each (lead, beat) cell
    base = lead * stride
    ga = base + np.tile(beat_qrs[:, 0], n_leads)
    gb = base + np.tile(beat_qrs[:, 1], n_leads)
    nxt = base + np.tile(np.append(beat_qrs[1:, 0], t_len), n_leads)
    def take(arr: np.ndarray, i: np.ndarray) -> np.ndarray:  # arr[i], or -1 where arr is empty
        return arr[np.clip(i, 0, arr.size - 1)] if arr.size else np.full(i.shape, -1, np.int64)

    # QRS: every run of the lead overlapping the global QRS, merged
    qa, qb = runs[2]
    i1 = np.searchsorted(qb, ga, side="left")
    i2 = np.searchsorted(qa, gb, side="right") - 1
    has = (qa.size > 0) & (i1 < qa.size) & (i2 >= i1) & (take(qa, i1) <= gb)
    on = np.where(has, take(qa, i1), -1)
    off = np.where(has, take(qb, i2), -1)
    # T: the first T run starting after the QRS offset and ending before the next beat's QRS
    ta, tb = runs[3]
    jt = np.searchsorted(ta, off, side="right")
    has_t = has & (jt < ta.size) & (take(tb, jt) < nxt)
    t_on = np.where(has_t, take(ta, jt), -1)
    t_off = np.where(has_t, take(tb, jt), -1)
    # the previous beat's end (T offset, else QRS offset) in the same lead
    end = np.where(has_t, t_off, np.where(has, off, -1)).reshape(n_leads, n_beats)
    prev_end = np.concatenate([np.full((n_leads, 1), -1), np.maximum.accumulate(end, axis=1)[:, :-1]], axis=1)
    prev_end = np.where(prev_end < 0, base.reshape(n_leads, n_beats) - 1, prev_end).ravel()
    overlap = has & (on <= prev_end)  # a QRS inside the previous beat's T wave: not a beat of this lead
    has &= ~overlap
    has_t &= has
    # P: the last P run ending before the QRS onset and starting after the previous beat's end
    pa, pb = runs[1]
    jp = np.searchsorted(pb, on, side="left") - 1
    has_p = has & (jp >= 0) & (take(pa, jp) > prev_end)
    p_on = np.where(has_p, take(pa, jp), -1)
    p_off = np.where(has_p, take(pb, jp), -1)

    flat = out.reshape(n_leads * n_beats, 8)
    pos = lambda key: (key - base).astype(np.float64)  # noqa: E731
    for name, ok, key in (("qrs_on", has, on), ("qrs_off", has, off), ("t_off", has_t, t_off),
                          ("p_on", has_p, p_on), ("p_off", has_p, p_off)):
        flat[ok, _F[name]] = pos(key)[ok]
    # peaks on the record's own samples, converted back to (fractional) model samples
    for name, ok, a_key, b_key, r_wave in (("r_peak", has, on, off, True), ("t_peak", has_t, t_on, t_off, False),
                                           ("p_peak", has_p, p_on, p_off, False)):
        a = np.round(pos(a_key)[ok] * ratio).astype(np.int64)
        b = np.round(pos(b_key)[ok] * ratio).astype(np.int64)
        peak, rng = _peaks_in_spans(x, lead[ok], a, b, r_wave)
        flat[ok, _F[name]] = peak / ratio
        if name == "r_peak":
            amp.reshape(-1)[ok] = rng
    return out, amp


def _early(v: np.ndarray) -> np.ndarray:
    """Per column of (L, B): the second-smallest finite value (the smallest with fewer than 3)."""
    s = np.sort(v, axis=0)  # NaN last
    n = np.isfinite(v).sum(axis=0)
    k = np.where(n >= 3, 1, 0)
    out = s[k, np.arange(v.shape[1])]
    return np.where(n > 0, out, np.nan)


def _late(v: np.ndarray) -> np.ndarray:
    """Per column of (L, B): the second-largest finite value (the largest with fewer than 3)."""
    s = np.sort(v, axis=0)
    n = np.isfinite(v).sum(axis=0)
    k = np.clip(np.where(n >= 3, n - 2, n - 1), 0, None)
    out = s[k, np.arange(v.shape[1])]
    return np.where(n > 0, out, np.nan)


def _median(v: np.ndarray) -> np.ndarray:
    """Per column of (L, B): the median of the finite values (NaN where there are none)."""
    s = np.sort(v, axis=0)
    n = np.isfinite(v).sum(axis=0)
    cols = np.arange(v.shape[1])
    lo, hi = s[np.clip((n - 1) // 2, 0, None), cols], s[np.clip(n // 2, 0, None), cols]
    return np.where(n > 0, (lo + hi) / 2.0, np.nan)


def _global_beats(tables: np.ndarray, amp: np.ndarray, min_frac: float = 0.5,
                  p_confidence: np.ndarray | None = None) -> np.ndarray:
    """Fuse (L, n_beats, 8) per-lead tables into (n_beats, 8): see the module docstring."""
    n_leads, n_beats, _ = tables.shape
    out = np.full((n_beats, 8), np.nan)
    if n_beats == 0 or n_leads == 0:
        return out
    need = max(1, int(np.ceil(min_frac * n_leads)))
    col = {name: tables[:, :, i] for name, i in _F.items()}
    has_qrs = np.isfinite(col["qrs_on"])
    out[:, _F["qrs_on"]] = _early(col["qrs_on"])
    out[:, _F["qrs_off"]] = _late(col["qrs_off"])
    best = np.argmax(np.where(has_qrs, amp, -np.inf), axis=0)
    out[:, _F["r_peak"]] = np.where(has_qrs.any(axis=0), col["r_peak"][best, np.arange(n_beats)], np.nan)

    has_p = np.isfinite(col["p_on"]).sum(axis=0) >= need
    if p_confidence is not None and has_p.any():
        # each candidate P wave's peak lead-mean P probability over [earliest onset, latest offset]
        ks = np.flatnonzero(has_p)
        a = np.nanmin(col["p_on"][:, ks], axis=0).astype(np.int64)
        b = np.nanmax(col["p_off"][:, ks], axis=0).astype(np.int64)
        idx, outside = _span_index(a, b, p_confidence.size)
        conf = np.where(outside, 0.0, p_confidence[idx]).max(axis=1)
        has_p[ks] = conf >= _MIN_P_CONFIDENCE
    p_on, p_off = _early(col["p_on"]), np.fmin(_late(col["p_off"]), out[:, _F["qrs_on"]])
    has_p &= p_on < p_off  # leads disagreeing so much that the fused wave would be empty: no P
    out[has_p, _F["p_on"]] = p_on[has_p]
    out[has_p, _F["p_off"]] = p_off[has_p]
    out[has_p, _F["p_peak"]] = np.clip(_median(col["p_peak"]), p_on, p_off)[has_p]

    has_t = np.isfinite(col["t_off"]).sum(axis=0) >= need
    t_off = _late(col["t_off"])
    has_t &= t_off > out[:, _F["qrs_off"]]
    out[has_t, _F["t_off"]] = t_off[has_t]
    out[has_t, _F["t_peak"]] = np.clip(_median(col["t_peak"]), out[:, _F["qrs_off"]] + 1, t_off)[has_t]
    # neighbouring beats must not overlap after fusion: drop a P wave that starts inside the previous beat
    prev_end = np.fmax(out[:-1, _F["qrs_off"]], out[:-1, _F["t_off"]])
    clash = np.concatenate([[False], out[1:, _F["p_on"]] <= prev_end])
    out[clash, _F["p_on"]: _F["p_off"] + 1] = np.nan
    return out


# ---------------------------------------------------------------------------------------------- methods
def _learned(record: Record, usable: np.ndarray, model_path: str | None = None,
             runtime: str = "auto") -> tuple[np.ndarray, dict, list]:
    from ecgscope.signal.delineator_runtime import (
        MODEL_FS,
        delineator_input,
        delineator_runtime,
        sample_classes,
    )

    use_idx = np.flatnonzero(usable)
    x = record.signal[use_idx]
    inp = delineator_input(x, record.fs)  # (L_use, 2, T)
    logits = delineator_runtime(runtime, model_path)(inp)  # (L_use, 4, T)
    labels, mean_prob = sample_classes(logits)  # (L_use, T), (4, T)
    _, ga, gb = _runs_2d((mean_prob.argmax(axis=0) == 2)[None], max(1, int(round(_MIN_RUN_S[2] * MODEL_FS))))
    beat_qrs = np.stack([ga, gb], axis=1)
    tables, amp = _lead_tables(labels, x, record.fs / MODEL_FS, beat_qrs, MODEL_FS)
    beats = _global_beats(tables, amp, p_confidence=mean_prob[1])
    # a lead's P wave is kept only where the beat has one globally (f waves seen as P in a few leads)
    no_p = ~np.isfinite(beats[:, _F["p_on"]])
    tables[:, no_p, _F["p_on"]: _F["p_off"] + 1] = np.nan
    to_ms = 1000.0 / MODEL_FS
    per_lead = {name: np.full((0, 8), np.nan) for name in record.leads}
    for j, li in enumerate(use_idx):
        per_lead[record.leads[li]] = tables[j] * to_ms
    return beats * to_ms, per_lead, []


def _neurokit(record: Record, usable: np.ndarray, model_path: str | None = None,
              runtime: str = "auto") -> tuple[np.ndarray, dict, list]:
    import neurokit2 as nk

    fs = int(round(record.fs))
    keys = {"p_on": "ECG_P_Onsets", "p_peak": "ECG_P_Peaks", "p_off": "ECG_P_Offsets", "qrs_on": "ECG_R_Onsets",
            "qrs_off": "ECG_R_Offsets", "t_peak": "ECG_T_Peaks", "t_off": "ECG_T_Offsets"}
    per_lead: dict[str, np.ndarray] = {}
    issues: list[str] = []
    for li, name in enumerate(record.leads):
        if not usable[li]:
            per_lead[name] = np.full((0, 8), np.nan)
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clean = nk.ecg_clean(record.signal[li].astype(np.float64), sampling_rate=fs)
                _, info = nk.ecg_peaks(clean, sampling_rate=fs)
                rpeaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
                _, waves = nk.ecg_delineate(clean, rpeaks, sampling_rate=fs, method="dwt")
        except Exception as exc:  # NeuroKit2 raises many types on short or odd input
            issues.append(f"lead {name}: NeuroKit2 delineation failed ({type(exc).__name__}: {exc})")
            per_lead[name] = np.full((0, 8), np.nan)
            continue
        t = np.full((rpeaks.size, 8), np.nan)
        t[:, _F["r_peak"]] = rpeaks
        for fid, key in keys.items():
            v = np.asarray(waves.get(key, []), dtype=np.float64)
            if v.size == rpeaks.size:
                t[:, _F[fid]] = v
        per_lead[name] = t * 1000.0 / record.fs
    return per_lead.get("II", next(iter(per_lead.values()))) if per_lead else np.full((0, 8), np.nan), per_lead, issues


_METHODS: dict[str, Callable[[Record, np.ndarray, str | None, str], tuple[np.ndarray, dict, list]]] = {
    "learned": _learned,
    "neurokit": _neurokit,
}


def ecg_delineate(record: Record, method: str = "learned", *, quality: QualityReport | None = None,
                  model_path: str | None = None, runtime: str = "auto") -> Delineation:
    """Delineate every beat of ``record`` globally and per lead (see the module docstring).

    Parameters
    ----------
    record : Record
        Any number of leads, any sampling rate >= 100 Hz (lower rates give R peaks only), at least 2 s.
        A 5-s single-lead window and a 10-s 12-lead record are both fine.
    method : {"learned", "neurokit"}
    quality : QualityReport, optional
        A quality report already computed for ``record`` (else :func:`ecg_quality` is run, per lead
        only, without the per-window flags); leads it marks flat, detached or with score 0 are left out.
    model_path : str, optional
        Other weights for the learned method (default: the shipped ones).
    runtime : {"auto", "onnx", "torch"}
        Engine of the learned method (:func:`~ecgscope.signal.delineator_runtime.delineator_runtime`):
        ONNX Runtime when installed, else PyTorch; both label every sample the same way to ~1e-5.

    Returns
    -------
    Delineation
        ``.to_dict()`` is DESIGN §4's ``"delineation"`` object.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> from ecgscope.record import Record
    >>> x = nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=70, random_state=1)
    >>> d = ecg_delineate(Record.from_array(x, fs=500, leads=["II"]))
    >>> d.n_beats >= 10, sorted(d.to_dict()["beats"][1])[:3]
    (True, ['p_off', 'p_on', 'p_peak'])
    """
    if method not in _METHODS:
        raise ValueError(f"unknown delineation method {method!r}; valid methods: {', '.join(DELINEATION_METHODS)}")
    if not isinstance(record, Record):
        raise TypeError(f"ecg_delineate needs a Record; got {type(record).__name__} (use Record.from_array)")
    quality = quality or ecg_quality(record, windows=False)
    # delineate every lead a cardiologist could still read: only flat, detached and noise-swamped
    # (score 0) leads are left out; milder noise lowers the quality score but not the delineation
    usable = np.array([q.score > 0 and not ({"flatline", "lead off"} & set(q.issues))
                       for q in (quality.leads[name] for name in record.leads)])
    issues = list(quality.issues)
    global_lead = "global" if method == "learned" else ("II" if "II" in record.leads else record.leads[0])
    empty = {name: np.full((0, 8), np.nan) for name in record.leads}
    if record.fs < MIN_DELINEATION_FS:
        from ecgscope.signal.peaks import ecg_peaks

        peaks = ecg_peaks(record.select_leads([n for n, u in zip(record.leads, usable, strict=True) if u])
                          if usable.any() else record)
        beats = np.full((peaks.size, 8), np.nan)
        beats[:, _F["r_peak"]] = peaks * 1000.0 / record.fs
        issues.append(f"sampling rate {record.fs:g} Hz is below {MIN_DELINEATION_FS:g} Hz: P, QRS and T "
                      "boundaries are not delineated, only R peaks are given")
        return Delineation(beats, empty, record.fs, method, global_lead, issues, quality)
    if not usable.any():
        issues.append("no usable lead: nothing was delineated")
        return Delineation(np.full((0, 8), np.nan), empty, record.fs, method, global_lead, issues, quality)
    beats, per_lead, more = _METHODS[method](record, usable, model_path, runtime)
    return Delineation(beats, per_lead, record.fs, method, global_lead, issues + more, quality)
