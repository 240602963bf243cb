"""Interval and axis measurements from a delineation: HR, PR, QRS, QT, QTc, P/QRS/T frontal axes.

Two methods (``method=``):

``"beats"`` (default)
    Every interval is the **median over beats** of the per-beat interval from the global (multi-lead)
    delineation, using only the beats where both ends were found, so one mis-delineated beat does not
    move the result.
``"median_beat"``
    The intervals and axes are measured once, on the record's median beat of the dominant class
    (:func:`~ecgscope.signal.median_beat.ecg_median_beat`, built on the delineation's R peaks), as
    12SL-type programs do: the template's cycles laid end to end are delineated with the same method
    and measured as below.  Heart rate, RR and the QTc's RR stay those of the record's own beats.
    A record with too few beats for a median beat falls back to ``"beats"`` (``method`` in the result
    says which was used).

Definitions:

* PR = QRS onset - P onset; QRS = QRS offset - QRS onset; QT = T offset - QRS onset;
* heart rate = 60 000 / median RR (RR from the R peaks); QTc uses that median RR (seconds) with the
  formula named in the output: Bazett QT/RR^½, Fridericia QT/RR^⅓, Framingham QT + 154 (1 - RR),
  Hodges QT + 1.75 (HR - 60).  All four are given in ``qtc_all_ms``.

Frontal axes: for each wave and each beat, the net area (sum of samples minus the level at the wave's
onset, after 0.5 Hz baseline removal) between the global onset and offset in every limb lead present
(I, II, III, aVR, aVL, aVF); the per-lead median over beats is fitted by least squares to the frontal
vector (Ex, Ey) with the hexaxial lead directions (I 0°, II 60°, III 120°, aVR -150°, aVL -30°,
aVF 90°; augmented leads scaled by √3/2) and the axis is atan2(Ey, Ex) in degrees, (-180, 180].
The T wave's area runs from the QRS offset to the T offset and its level is taken at the QRS onset
(the PR segment).  An axis needs two limb leads of different directions: a single-lead record has
``None`` axes.  Anything that cannot be measured is ``None``.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from ecgscope.errors import ContractError
from ecgscope.record import Record
from ecgscope.signal.delineate import (
    DELINEATION_METHODS,
    FIDUCIALS,
    MIN_DELINEATION_FS,
    Delineation,
    ecg_delineate,
)
from ecgscope.signal.filters import remove_baseline
from ecgscope.signal.median_beat import MedianBeat, ecg_median_beat

QTC_FORMULAS = ("bazett", "fridericia", "framingham", "hodges")
MEASUREMENT_METHODS = ("beats", "median_beat")
_F = {name: i for i, name in enumerate(FIDUCIALS)}
# hexaxial direction (degrees) and gain of each limb lead
_LIMB = {"I": (0.0, 1.0), "II": (60.0, 1.0), "III": (120.0, 1.0), "aVR": (-150.0, np.sqrt(3) / 2),
         "aVL": (-30.0, np.sqrt(3) / 2), "aVF": (90.0, np.sqrt(3) / 2)}


def qtc(qt_ms: float, rr_ms: float, formula: str = "bazett") -> float:
    """QT corrected for heart rate with ``formula`` (see the module docstring).

    >>> round(qtc(400, 1000, "bazett")), round(qtc(400, 640, "fridericia")), round(qtc(400, 750, "hodges"))
    (400, 464, 435)
    """
    rr_s = rr_ms / 1000.0
    if formula == "bazett":
        return qt_ms / np.sqrt(rr_s)
    if formula == "fridericia":
        return qt_ms / np.cbrt(rr_s)
    if formula == "framingham":
        return qt_ms + 154.0 * (1.0 - rr_s)
    if formula == "hodges":
        return qt_ms + 1.75 * (60.0 / rr_s - 60.0)
    raise ValueError(f"unknown QTc formula {formula!r}; valid formulas: {', '.join(QTC_FORMULAS)}")


def _median_interval(beats: np.ndarray, start: str, end: str) -> float | None:
    d = beats[:, _F[end]] - beats[:, _F[start]]
    d = d[np.isfinite(d) & (d > 0)]
    return float(np.median(d)) if d.size else None


def _r(v: float | None, nd: int = 0) -> float | None:
    if v is None or not np.isfinite(v):
        return None
    return round(float(v), nd) if nd else float(round(float(v)))


def frontal_axis(areas: dict[str, float]) -> float | None:
    """Frontal-plane axis (degrees) from net wave areas in limb leads (see the module docstring).

    >>> round(frontal_axis({"I": 1.0, "aVF": np.sqrt(3) / 2}))  # equal Ex and Ey
    45
    """
    names = [n for n in areas if n in _LIMB and np.isfinite(areas[n])]
    angles = {round(_LIMB[n][0] % 180) for n in names}
    if len(angles) < 2:
        return None
    a = np.array([[g * np.cos(np.radians(t)), g * np.sin(np.radians(t))] for t, g in (_LIMB[n] for n in names)])
    b = np.array([areas[n] for n in names])
    (ex, ey), *_ = np.linalg.lstsq(a, b, rcond=None)
    if np.hypot(ex, ey) == 0:
        return None
    deg = float(np.degrees(np.arctan2(ey, ex)))
    return 180.0 if deg == -180.0 else deg


def _wave_areas(x: np.ndarray, csum: np.ndarray, fs: float, beats: np.ndarray, start: str, end: str,
                level_at: str) -> np.ndarray:
    """Per lead of ``x`` (L, N), the median over beats of the net area (mV·s) between two fiducials,
    measured from the level at ``level_at`` (median of 5 samples there); NaN where no beat has both.
    ``csum`` (L, N + 1) is the running sum of ``x`` starting at 0 (computed once for the three waves)."""
    a_ms, b_ms, l_ms = beats[:, _F[start]], beats[:, _F[end]], beats[:, _F[level_at]]
    ok = np.isfinite(a_ms) & np.isfinite(b_ms) & np.isfinite(l_ms) & (b_ms > a_ms)
    if not ok.any():
        return np.full(x.shape[0], np.nan)
    n = x.shape[1]
    a = np.clip(np.round(a_ms[ok] * fs / 1000.0).astype(np.int64), 0, n - 1)
    b = np.clip(np.round(b_ms[ok] * fs / 1000.0).astype(np.int64), 0, n - 1)
    lv = np.clip(np.round(l_ms[ok] * fs / 1000.0).astype(np.int64), 2, n - 3)
    total = csum[:, b + 1] - csum[:, a]  # (L, beats) sum of samples a..b
    level = np.median(x[:, lv[:, None] + np.arange(-2, 3)[None, :]], axis=-1)  # (L, beats)
    areas = (total - level * (b - a + 1)[None, :]) / fs
    keep = b > a
    return np.median(areas[:, keep], axis=1) if keep.any() else np.full(x.shape[0], np.nan)


def ecg_measurements(record: Record, delineation: Delineation, qtc_formula: str = "bazett", *,
                     method: str = "beats") -> dict:
    """HR, PR, QRS, QT, QTc and P/QRS/T frontal axes of ``record`` from ``delineation``.

    Returns DESIGN §4 ``"measurements"`` keys (``pr_ms, qrs_ms, qt_ms, qtc_ms, qtc_formula, p_axis_deg,
    qrs_axis_deg, t_axis_deg``) plus ``heart_rate_bpm``, ``rr_ms`` (median), ``qtc_all_ms`` (every
    formula), ``n_beats`` and ``method`` (the one used, see the module docstring; ``"median_beat"``
    results also carry the template under ``median_beat``).  Values that cannot be measured are ``None``.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> from ecgscope.record import Record
    >>> from ecgscope.signal.delineate import ecg_delineate
    >>> x = nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=60, random_state=2)
    >>> rec = Record.from_array(x, fs=500, leads=["II"])
    >>> m = ecg_measurements(rec, ecg_delineate(rec))
    >>> round(m["heart_rate_bpm"] / 10), m["qrs_axis_deg"]
    (6, None)
    """
    if qtc_formula not in QTC_FORMULAS:
        raise ValueError(f"unknown QTc formula {qtc_formula!r}; valid formulas: {', '.join(QTC_FORMULAS)}")
    if method not in MEASUREMENT_METHODS:
        raise ValueError(f"unknown measurement method {method!r}; valid methods: {', '.join(MEASUREMENT_METHODS)}")
    beats = delineation.beats
    r = beats[:, _F["r_peak"]] if beats.size else np.zeros(0)
    r = np.sort(r[np.isfinite(r)])
    rr = np.diff(r)
    rr = rr[(rr >= 200.0) & (rr <= 3000.0)]
    rr_ms = float(np.median(rr)) if rr.size else None
    if method == "median_beat" and delineation.method in DELINEATION_METHODS and record.fs >= MIN_DELINEATION_FS:
        median = _median_beat_of(record, r)
        if median is not None:
            tiled = median.to_record()
            # the record's own lead quality: a lead left out of its delineation is left out of the template's
            widest = _widest(ecg_delineate(tiled, method=delineation.method, quality=delineation.quality))
            out = _interval_measurements(tiled, widest, qtc_formula, rr_ms)
            median = replace(median, fiducials_ms=_middle_cycle_fiducials(median, tiled, widest))
            out.update(n_beats=int(beats.shape[0]), method="median_beat", median_beat=median)
            return out
    out = _interval_measurements(record, delineation, qtc_formula, rr_ms)
    out["method"] = "beats"
    return out


def _median_beat_of(record: Record, r_ms: np.ndarray) -> MedianBeat | None:
    """The median beat on the delineation's R peaks, or None where the record has too few beats."""
    peaks = np.unique(np.round(r_ms * record.fs / 1000.0).astype(np.int64))
    try:
        return ecg_median_beat(record, peaks=peaks)
    except ContractError:
        return None


def _middle_cycle_fiducials(median: MedianBeat, tiled: Record, delineation: Delineation) -> dict[str, float | None]:
    """The global fiducials of the tiled median beat's middle cycle, in ms from the template's R peak."""
    n = median.signal.shape[1]
    r_ms = ((tiled.n_samples // n) // 2 * n + median.r_index) * 1000.0 / median.fs
    table = delineation.beats
    r = table[:, _F["r_peak"]] if table.size else np.zeros(0)
    if not np.isfinite(r).any():
        return dict.fromkeys(FIDUCIALS)
    row = table[int(np.nanargmin(np.abs(r - r_ms)))]
    return {f: (round(float(row[i] - r_ms), 1) if np.isfinite(row[i]) else None) for i, f in enumerate(FIDUCIALS)}


def _widest(delineation: Delineation) -> Delineation:
    """The delineation with every global onset at the earliest and every offset at the latest lead.

    On a median beat noise has been averaged out, so the single earliest / latest lead is trusted
    (the IEC 60601-2-25 definition of a global interval) instead of the second one that the delineator
    uses on raw beats.  Only waves the global delineation has are widened; a method whose leads do not
    share the global beat rows (NeuroKit2's) is returned as it is.
    """
    tables = [t for t in delineation.per_lead.values() if t.shape[0]]
    if not tables or any(t.shape != delineation.beats.shape for t in tables):
        return delineation
    per_lead = np.stack(tables)  # (L, B, 8)
    beats = delineation.beats.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a wave no lead shows stays NaN
        for name, pick in (("p_on", np.nanmin), ("qrs_on", np.nanmin), ("qrs_off", np.nanmax), ("t_off", np.nanmax)):
            col = _F[name]
            has = np.isfinite(beats[:, col])
            beats[has, col] = pick(per_lead[:, has, col], axis=0)
    return replace(delineation, beats=beats)


def _interval_measurements(record: Record, delineation: Delineation, qtc_formula: str, rr_ms: float | None) -> dict:
    """The ``"beats"`` method on ``record``, with the record's median RR ``rr_ms`` for HR and QTc."""
    beats = delineation.beats
    hr = 60000.0 / rr_ms if rr_ms else None
    qt = _median_interval(beats, "qrs_on", "t_off")
    qtc_all = {f: (_r(qtc(qt, rr_ms, f)) if qt is not None and rr_ms else None) for f in QTC_FORMULAS}
    axes: dict[str, float | None] = {"p": None, "qrs": None, "t": None}
    limb = [n for n in record.leads if n in _LIMB]
    if len(limb) >= 2 and beats.size:
        xs = remove_baseline(record.signal[[record.leads.index(n) for n in limb]], record.fs, "highpass", 0.5)
        spans = {"p": ("p_on", "p_off", "p_on"), "qrs": ("qrs_on", "qrs_off", "qrs_on"),
                 "t": ("qrs_off", "t_off", "qrs_on")}
        csum = np.zeros((xs.shape[0], xs.shape[1] + 1))
        np.cumsum(xs, axis=1, dtype=np.float64, out=csum[:, 1:])
        for wave, (a, b, lv) in spans.items():
            areas = _wave_areas(xs, csum, record.fs, beats, a, b, lv)
            axes[wave] = frontal_axis({n: float(v) for n, v in zip(limb, areas, strict=True) if np.isfinite(v)})
    return {
        "heart_rate_bpm": _r(hr, 1),
        "rr_ms": _r(rr_ms),
        "pr_ms": _r(_median_interval(beats, "p_on", "qrs_on")),
        "qrs_ms": _r(_median_interval(beats, "qrs_on", "qrs_off")),
        "qt_ms": _r(qt),
        "qtc_ms": qtc_all[qtc_formula],
        "qtc_formula": qtc_formula,
        "qtc_all_ms": qtc_all,
        "p_axis_deg": _r(axes["p"]),
        "qrs_axis_deg": _r(axes["qrs"]),
        "t_axis_deg": _r(axes["t"]),
        "n_beats": int(beats.shape[0]),
    }
