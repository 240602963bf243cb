"""The median beat of a record: one representative complex per lead, from the beats of the dominant class.

Clinical interpretation programs (GE 12SL, Philips DXL, the CSE convention) measure the global PR, QRS,
QT and the axes on a *median beat* rather than beat by beat: aligned beats of the dominant morphology are
averaged sample by sample, so noise and single odd beats average out and every lead shares one set of
fiducials.  :func:`ecg_median_beat` builds it:

1. **Beats of the dominant class.**  The beats are classified N/S/V
   (:func:`~ecgscope.signal.beat_classes.ecg_beat_classes`); the most common class is the dominant one
   and only its beats enter the median (premature and ventricular beats would smear the P wave and
   widen the QRS).  A record with leads II and V1 is classified on those two (the classifier learned
   from MIT-BIH's MLII and V1), others on all their leads.  Beats whose window would leave the record are dropped.
2. **One cycle long.**  The template spans one median RR of consecutive dominant beats: ``0.4 RR``
   before the R peak and ``0.6 RR`` after it.  Laid end to end (:meth:`MedianBeat.to_record`), templates
   therefore rebuild a regular rhythm at the record's own rate, with a long PR or QT reaching into the
   neighbouring cycle exactly as it does in the record; this is what the delineator reads.
3. **Aligned on the QRS.**  R-peak positions jitter by a few samples between beats (the peak of a
   notched or low-amplitude complex moves); each beat is shifted by up to ±20 ms to the lag that best
   correlates its QRS (±80 ms around R, all leads together) with the first median, and the median is
   taken again.  Without this the median QRS is blurred and measured too wide.
4. **Outliers out.**  A beat that still correlates poorly with the median over the whole cycle
   (below 0.8, or far below the other beats: median - 4 MAD) is left out, as long as ``min_beats``
   remain; the median is then taken a last time.  Baseline wander is removed first (0.5 Hz zero-phase
   high-pass, as for the axes in :mod:`~ecgscope.signal.measurements`).

The median is the sample-wise median (not the mean), so one beat with a noise spike cannot move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ecgscope.errors import ContractError
from ecgscope.record import Record
from ecgscope.signal.filters import remove_baseline

PRE_FRACTION = 0.4  # of the median RR, before the R peak
_ALIGN_MAX_S = 0.020
_ALIGN_QRS_S = 0.080
_MIN_CORR = 0.8
_CLASSIFY_LEADS = ("II", "V1")


@dataclass
class MedianBeat:
    """One median cycle per lead: ``signal`` (n_leads, n) in mV with the R peak at sample ``r_index``.

    ``n`` is one median RR at ``fs``; ``beat_class`` is the class whose beats were used and ``n_beats``
    how many of them.  ``beats_used`` are their R-peak samples in the source record (after alignment).
    ``fiducials_ms`` are the global P/QRS/T fiducials measured on it (``ecg_measurements(method="median_beat")``
    fills them in), in ms from the R peak.
    """

    signal: np.ndarray
    fs: float
    leads: tuple[str, ...]
    r_index: int
    rr_ms: float
    beat_class: str
    n_beats: int
    beats_used: np.ndarray
    fiducials_ms: dict[str, float | None] | None = None  # set by measurements on it, ms from the R peak

    def to_record(self, cycles: int | None = None) -> Record:
        """``cycles`` templates end to end: a perfectly regular record at the median RR (see module docstring).

        The default is enough cycles for 5 s and at least 4, so the delineator has neighbours on both
        sides of the middle beats.
        """
        if cycles is None:
            cycles = max(4, int(np.ceil(5000.0 / self.rr_ms)))
        if cycles < 1:
            raise ValueError(f"cycles must be >= 1; got {cycles}")
        return Record.from_array(np.tile(self.signal, (1, cycles)), fs=self.fs, leads=list(self.leads))

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the template in µV (integers) with its timing, class, beat count and fiducials."""
        out = {"fs": self.fs, "leads": list(self.leads), "r_index": self.r_index, "rr_ms": round(self.rr_ms, 1),
               "beat_class": self.beat_class, "n_beats": self.n_beats,
               "signal_uv": np.round(self.signal * 1000.0).astype(int).tolist()}
        if self.fiducials_ms is not None:
            out["fiducials_ms"] = dict(self.fiducials_ms)
        return out


def _windows(x: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """(beats, leads, n) slices of ``x`` starting at ``starts``."""
    idx = starts[:, None] + np.arange(n)[None, :]  # (B, n)
    return np.transpose(x[:, idx], (1, 0, 2))  # (B, L, n)


def _correlation(beats: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Pearson correlation of every beat (B, L, n) with the template (L, n), all leads as one vector."""
    b = beats.reshape(beats.shape[0], -1)
    t = template.ravel()
    b = b - b.mean(axis=1, keepdims=True)
    t = t - t.mean()
    den = np.linalg.norm(b, axis=1) * np.linalg.norm(t)
    return np.divide(b @ t, den, out=np.zeros(b.shape[0]), where=den > 0)


def _dominant(classes: np.ndarray) -> str:
    values, counts = np.unique(classes, return_counts=True)
    # ties go to N, then S (a bigeminy of N and V measures the sinus beat)
    order = sorted(range(len(values)), key=lambda k: (-counts[k], "NSV".find(values[k])))
    return str(values[order[0]])


def ecg_median_beat(record: Record, *, peaks: np.ndarray | None = None, classes: np.ndarray | None = None,
                    min_beats: int = 3) -> MedianBeat:
    """The median beat of ``record`` from its dominant-class beats (see the module docstring).

    Parameters
    ----------
    record : Record
        Any number of leads and sampling rate; a few beats at least.
    peaks : int array, optional
        R-peak samples (default: :func:`~ecgscope.signal.peaks.ecg_peaks`).
    classes : str array, optional
        The N/S/V class of every peak (default: :func:`~ecgscope.signal.beat_classes.ecg_beat_classes`).
    min_beats : int
        Fewest dominant beats a median is built from.

    Returns
    -------
    MedianBeat

    Raises
    ------
    ContractError
        ``code="too_few_beats"`` when fewer than ``min_beats`` dominant beats fit in the record.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> x = nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=60, random_state=3)
    >>> mb = ecg_median_beat(Record.from_array(x, fs=500, leads=["II"]))
    >>> mb.beat_class, mb.n_beats >= 8, round(mb.rr_ms / 100)
    ('N', True, 10)
    """
    from ecgscope.signal.beat_classes import ecg_beat_classes
    from ecgscope.signal.peaks import ecg_peaks

    if not isinstance(record, Record):
        raise TypeError(f"ecg_median_beat needs a Record; got {type(record).__name__} (use Record.from_array)")
    fs = float(record.fs)
    p = ecg_peaks(record) if peaks is None else np.sort(np.asarray(peaks, dtype=np.int64))
    if classes is None:  # on the two leads the beat classifier was trained on (MIT-BIH's MLII and V1) where present
        trained = [n for n in _CLASSIFY_LEADS if n in record.leads] if len(record.leads) > 2 else []
        shown = record.select_leads(trained) if len(trained) == 2 else record
        classes = ecg_beat_classes(shown, peaks=p).classes if p.size else np.zeros(0, "<U1")
    classes = np.asarray(classes).astype("<U1")
    if classes.shape != p.shape:
        raise ValueError(f"classes ({classes.shape[0]}) and peaks ({p.shape[0]}) differ in number")
    if p.size < min_beats:
        raise ContractError(f"a median beat needs at least {min_beats} beats; the record has {p.size}",
                            code="too_few_beats")
    cls = _dominant(classes)
    dom = classes == cls
    rr = np.diff(p)
    between_dominant = dom[1:] & dom[:-1]
    ok = (rr >= 0.2 * fs) & (rr <= 3.0 * fs)
    rr_use = rr[between_dominant & ok] if (between_dominant & ok).any() else rr[ok]
    if rr_use.size == 0:
        raise ContractError("a median beat needs RR intervals between 0.2 and 3 s; the record has none",
                            code="too_few_beats")
    n = int(round(float(np.median(rr_use))))
    pre = int(round(PRE_FRACTION * n))
    shift = int(round(_ALIGN_MAX_S * fs))
    x = remove_baseline(record.signal, fs, "highpass", 0.5).astype(np.float64)  # (L, N)
    fits = dom & (p - pre - shift >= 0) & (p - pre + n + shift <= x.shape[1])
    starts = p[fits] - pre
    if starts.size < min_beats:
        raise ContractError(f"a median beat needs at least {min_beats} whole beats of the dominant class "
                            f"({cls}); the record has {starts.size}", code="too_few_beats")
    beats = _windows(x, starts, n)  # (B, L, n)
    template = np.median(beats, axis=0)  # (L, n)
    # align: the lag within ±20 ms that best correlates each beat's QRS with the first median's
    q = int(round(_ALIGN_QRS_S * fs))
    qrs = slice(max(pre - q, 0), min(pre + q + 1, n))
    lags = np.arange(-shift, shift + 1)
    q_len = qrs.stop - qrs.start  # only the QRS span of each shifted beat is cut out
    scores = np.stack([_correlation(_windows(x, starts + lag + qrs.start, q_len), template[:, qrs]) for lag in lags])
    starts = starts + lags[np.argmax(scores, axis=0)]
    beats = _windows(x, starts, n)
    template = np.median(beats, axis=0)
    corr = _correlation(beats, template)
    mad = np.median(np.abs(corr - np.median(corr)))
    keep = (corr >= _MIN_CORR) & (corr >= np.median(corr) - 4.0 * max(mad, 0.01))
    if keep.sum() >= min_beats and not keep.all():
        starts, beats = starts[keep], beats[keep]
        template = np.median(beats, axis=0)
    return MedianBeat(signal=template.astype(np.float32), fs=fs, leads=tuple(record.leads), r_index=pre,
                      rr_ms=n * 1000.0 / fs, beat_class=cls, n_beats=int(starts.size), beats_used=starts + pre)
