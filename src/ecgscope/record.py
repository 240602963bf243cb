"""The one validated in-memory ECG type (DESIGN §1).

Every reader returns a :class:`Record`; every analysis takes one.  Construction validates the
content and raises :class:`~ecgscope.errors.RecordValidationError` naming the field and value,
so a ``Record`` that exists is always usable: finite, in millivolts, 50–10 000 Hz, at least 2 s,
one name per lead.

Individual flat leads (an electrode off) are *not* an error: they are real clinical input and the
quality module reports them.  A record whose every lead is flat carries no ECG and is refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecgscope.errors import RecordValidationError
from ecgscope.leads import STANDARD_LEADS, normalize_lead_name, normalize_lead_names

MIN_FS = 50.0
MAX_FS = 10_000.0
MIN_DURATION_S = 2.0

# Factors that take a value in the key's unit to millivolts.
_UNIT_TO_MV: dict[str, float] = {
    "mv": 1.0,
    "millivolt": 1.0,
    "millivolts": 1.0,
    "uv": 1e-3,
    "µv": 1e-3,
    "μv": 1e-3,  # Greek mu, as some EDF writers spell it
    "microvolt": 1e-3,
    "microvolts": 1e-3,
    "v": 1e3,
    "volt": 1e3,
    "volts": 1e3,
    "nv": 1e-6,
}

# A lead is flat when its peak-to-peak range is below this (mV): a constant or one-quantum signal.
FLAT_PTP_MV = 1e-4
# Robust amplitude bounds (mV) used to catch unit mistakes: the median over non-flat leads of the
# 99.5th percentile of |x - median(x)|.  Real ECG leads sit around 0.1-5 mV; pacing spikes and
# noise do not move a median over leads past these bounds.
MAX_PLAUSIBLE_MV = 30.0
MIN_PLAUSIBLE_MV = 0.01


def units_to_mv_factor(units: str) -> float:
    """Factor converting ``units`` to millivolts; raises for units we do not know."""
    key = str(units).strip().lower().replace(" ", "")
    if key not in _UNIT_TO_MV:
        raise RecordValidationError(
            f"unknown units {units!r}; expected one of mV, uV (µV), V, nV", code="unknown_units"
        )
    return _UNIT_TO_MV[key]


def _nonfinite_runs(x: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [start, end) runs where ``x`` is NaN or ±inf."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return []
    edges = np.diff(np.concatenate(([0], bad.view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def typical_amplitude(signal: np.ndarray) -> float:
    """A record's typical peak: median over non-flat leads of the 99.5th percentile of |x - median(x)|.

    In the signal's own units (mV for a Record; 0.1-5 for a real ECG).  Computed on a strided subsample of
    at least 1000 samples per lead: it only has to tell millivolts from microvolts or volts (factors of
    1000), and this keeps validation cheap.  0.0 when every lead is flat.
    """
    sig = np.asarray(signal)
    sig = sig[np.ptp(sig, axis=1) > 0]
    if not sig.size:
        return 0.0
    step = max(1, sig.shape[1] // 1000)
    sub = sig[:, ::step]
    n = sub.shape[1]
    # order statistics by np.partition: np.median/np.percentile cost ~10x more in overhead here
    centre = np.partition(sub, n // 2, axis=1)[:, n // 2 : n // 2 + 1]
    k = int(0.995 * (n - 1))
    peak = np.partition(np.abs(sub - centre), k, axis=1)[:, k]
    return float(np.sort(peak)[len(peak) // 2])


@dataclass(frozen=True, eq=False)
class Record:
    """One ECG recording.

    Parameters
    ----------
    signal : array, shape (n_leads, n_samples)
        Samples in millivolts; stored as C-contiguous float32.
    fs : float
        Sampling rate in Hz, 50–10 000.
    leads : sequence of str
        Lead names; normalised to ``I, II, III, aVR, aVL, aVF, V1..V6`` where an alias is known.
        Names that cannot be mapped are kept and listed in :attr:`unknown_leads`.
    record_id, patient_id : str, optional
        ``patient_id`` drives subject-aware splits.
    age : float, optional
    sex : {"M", "F"}, optional
    source_format : str
        Format the record was read from (``wfdb``, ``csv``, ``json``, ``edf``, ``mat``, ``npy``, ...).
    units : str
        The units the source stored (the signal itself is always mV).
    gain : tuple of float, optional
        The source's ADC gain per lead (adu per source unit), when it had one.
    single_lead : bool
        True when one lead was duplicated into 12 channels for a 12-lead model (DESIGN §2).
    metadata : dict
        Anything else the source carried (diagnosis codes, header comments, ...).

    Examples
    --------
    >>> import numpy as np
    >>> rec = Record(np.zeros((2, 1000)) + np.sin(np.arange(1000) / 10), fs=250, leads=["MLII", "V1"])
    >>> rec.leads, rec.duration_s
    (('II', 'V1'), 4.0)
    """

    signal: np.ndarray
    fs: float
    leads: tuple[str, ...]
    record_id: str | None = None
    patient_id: str | None = None
    age: float | None = None
    sex: str | None = None
    source_format: str = "array"
    units: str = "mV"
    gain: tuple[float, ...] | None = None
    single_lead: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    unknown_leads: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        sig = np.asarray(self.signal)
        leads_in = tuple(str(n) for n in self.leads) if self.leads is not None else ()
        if sig.ndim != 2:
            raise RecordValidationError(
                f"signal must be 2-D (n_leads, n_samples); got {sig.ndim}-D with shape {sig.shape}",
                code="bad_shape",
            )
        if not np.issubdtype(sig.dtype, np.number) or np.iscomplexobj(sig):
            raise RecordValidationError(f"signal must be real numbers; got dtype {sig.dtype}", code="bad_dtype")
        n_leads, n_samples = sig.shape
        if n_leads == 0 or n_samples == 0:
            raise RecordValidationError(f"signal is empty: shape {sig.shape}", code="empty_signal")
        if len(leads_in) != n_leads:
            hint = ""
            if len(leads_in) == n_samples and n_leads != n_samples:
                hint = f"; shape {sig.shape} looks like (n_samples, n_leads): transpose it"
            raise RecordValidationError(
                f"leads has {len(leads_in)} names but signal has {n_leads} leads{hint}", code="lead_count_mismatch"
            )
        try:
            fs = float(self.fs)
        except (TypeError, ValueError):
            raise RecordValidationError(f"fs must be a number; got {self.fs!r}", code="bad_fs") from None
        if not np.isfinite(fs) or not (MIN_FS <= fs <= MAX_FS):
            raise RecordValidationError(
                f"fs={self.fs!r} Hz is outside the supported 50–10000 Hz", code="fs_out_of_range"
            )
        duration = n_samples / fs
        if duration < MIN_DURATION_S:
            raise RecordValidationError(
                f"record is {duration:.3f} s long ({n_samples} samples at {fs:g} Hz); at least "
                f"{MIN_DURATION_S:g} s is needed",
                code="too_short",
            )
        # always a private copy: the record freezes its array and must not freeze (or alias) the caller's
        sig = np.array(sig, dtype=np.float32, order="C", copy=True)
        names, unknown = normalize_lead_names(leads_in)
        if any(not n for n in names):
            raise RecordValidationError(f"lead names must be non-empty; got {list(leads_in)}", code="bad_lead_name")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise RecordValidationError(
                f"lead names must be unique; {dupes} appear more than once (from {list(leads_in)})",
                code="duplicate_leads",
            )
        finite = np.isfinite(sig)
        for i, name in enumerate(names):
            if finite[i].all():
                continue
            runs = _nonfinite_runs(sig[i])
            if runs:
                s, e = runs[0]
                kind = "NaN" if np.isnan(sig[i, s]) else "inf"
                total = sum(b - a for a, b in runs)
                raise RecordValidationError(
                    f"lead {name} has {total} non-finite samples in {len(runs)} run(s); first run is {kind} "
                    f"at samples {s}–{e - 1} ({s / fs:.3f}–{(e - 1) / fs:.3f} s)",
                    code="nonfinite_samples",
                )
        ptp = np.ptp(sig, axis=1)
        live = ptp > FLAT_PTP_MV
        if not live.any():
            raise RecordValidationError(
                f"every lead is flat (peak-to-peak < {FLAT_PTP_MV} mV): the record carries no ECG",
                code="all_leads_flat",
            )
        amp = typical_amplitude(sig[live])
        # one lead (a lead taken out of a 12-lead record, say) may be an artifact rather than wrong units
        which = f"lead {[n for n, ok in zip(names, live, strict=True) if ok][0]}: " if live.sum() == 1 else ""
        if amp > MAX_PLAUSIBLE_MV:
            raise RecordValidationError(
                f"{which}typical lead amplitude is {amp:.1f} mV, far above any ECG: the values are probably not "
                f"millivolts (microvolts passed as mV?) or the lead is swamped by an artifact; source units were "
                f"{self.units!r}",
                code="implausible_amplitude",
            )
        if amp < MIN_PLAUSIBLE_MV:
            raise RecordValidationError(
                f"typical lead amplitude is {amp * 1000:.3g} µV, far below any ECG: the values are probably not "
                f"millivolts (volts passed as mV?); source units were {self.units!r}",
                code="implausible_amplitude",
            )
        sex = self.sex
        if sex is not None:
            s = str(sex).strip().upper()
            sex = {"M": "M", "MALE": "M", "0": "M", "F": "F", "FEMALE": "F", "1": "F"}.get(s)
        age = None if self.age is None or not np.isfinite(float(self.age)) else float(self.age)
        sig.setflags(write=False)
        object.__setattr__(self, "signal", sig)
        object.__setattr__(self, "fs", fs)
        object.__setattr__(self, "leads", names)
        object.__setattr__(self, "unknown_leads", unknown)
        object.__setattr__(self, "sex", sex)
        object.__setattr__(self, "age", age)
        object.__setattr__(self, "metadata", dict(self.metadata or {}))

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_array(
        cls,
        signal: np.ndarray,
        fs: float,
        leads: list[str] | tuple[str, ...] | None = None,
        *,
        units: str = "mV",
        **kwargs: Any,
    ) -> Record:
        """Build a record from an array in any known ``units``.

        A 1-D array is one lead.  ``leads`` defaults to ``I`` for one lead and the standard 12
        for twelve; any other count needs explicit names.
        """
        arr = np.asarray(signal, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if leads is None:
            if arr.shape[0] == 1:
                leads = ("I",)
            elif arr.shape[0] == 12:
                leads = STANDARD_LEADS
            else:
                raise RecordValidationError(
                    f"leads must be named for a {arr.shape[0]}-lead signal", code="lead_count_mismatch"
                )
        arr = arr * units_to_mv_factor(units)
        return cls(arr, fs=fs, leads=tuple(leads), units=units, **kwargs)

    def gain_per_mv(self) -> tuple[float, ...] | None:
        """The source's ADC gain per lead in adu per **millivolt** (``gain`` is per unit of ``units``); None when
        the record has no gain or its units have no known factor (the writers then choose their own step)."""
        if not self.gain:
            return None
        try:
            per_unit = units_to_mv_factor(self.units)  # mV per source unit
        except Exception:
            return None
        return tuple(float(g) / per_unit for g in self.gain)

    def replace(self, **changes: Any) -> Record:
        """A copy with some fields changed (re-validated)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ views
    @property
    def n_leads(self) -> int:
        return int(self.signal.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def flat_leads(self) -> tuple[str, ...]:
        """Leads whose peak-to-peak range is below :data:`FLAT_PTP_MV`."""
        ptp = np.ptp(self.signal, axis=1)
        return tuple(n for n, p in zip(self.leads, ptp, strict=True) if p <= FLAT_PTP_MV)

    def lead(self, name: str) -> np.ndarray:
        """One lead's samples (mV) by any accepted spelling of its name."""
        std, _ = normalize_lead_name(name)
        if std not in self.leads:
            raise KeyError(f"record has no lead {name!r}; it has {list(self.leads)}")
        return self.signal[self.leads.index(std)]

    def select_leads(self, names: list[str] | tuple[str, ...]) -> Record:
        """A record with only ``names`` (in that order)."""
        idx = []
        for n in names:
            self.lead(n)  # raises a clear KeyError
            idx.append(self.leads.index(normalize_lead_name(n)[0]))
        gain = tuple(self.gain[i] for i in idx) if self.gain else None
        return self.replace(signal=self.signal[idx], leads=tuple(self.leads[i] for i in idx), gain=gain)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description without the samples (``ecgscope info``)."""
        return {
            "record_id": self.record_id,
            "patient_id": self.patient_id,
            "source_format": self.source_format,
            "fs": self.fs,
            "n_leads": self.n_leads,
            "n_samples": self.n_samples,
            "duration_s": round(self.duration_s, 4),
            "leads": list(self.leads),
            "unknown_leads": list(self.unknown_leads),
            "units": self.units,
            "gain": list(self.gain) if self.gain else None,
            "age": self.age,
            "sex": self.sex,
            "single_lead": self.single_lead,
            "flat_leads": list(self.flat_leads),
        }

    def __repr__(self) -> str:
        return (
            f"Record(id={self.record_id!r}, fs={self.fs:g}, leads={list(self.leads)}, "
            f"duration_s={self.duration_s:.2f}, source={self.source_format!r})"
        )
