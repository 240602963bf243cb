"""A model's input contract and the preprocessing pipeline built from it (DESIGN §2).

Every backbone declares an :class:`InputContract` in its pretrained config.  Preprocessing is
*derived* from that contract by :class:`Preprocessor`, never written again by hand for a model:

    lead layout -> (single-lead duplication) -> resample -> filters -> normalise -> windows

Examples
--------
>>> from ecgscope.signal.contract import InputContract, Preprocessor
>>> ecgfm = InputContract()                       # 12 leads, 500 Hz, 2500-sample windows, per-lead z
>>> stmem = InputContract(fs=250, window_samples=2250, bandpass=(0.67, 40.0), normalization="global")
>>> pre = Preprocessor(ecgfm)
>>> batch = pre(load_record("../shared/data/ptbxl/records500/00000/00002_hr"))  # doctest: +SKIP
>>> batch.windows.shape  # doctest: +SKIP
(2, 12, 2500)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecgscope.leads import STANDARD_LEADS, normalize_lead_name
from ecgscope.record import Record
from ecgscope.signal.filters import bandpass, notch
from ecgscope.signal.lead_layout import MISSING_LEAD_POLICIES, duplicate_single_lead, to_lead_layout
from ecgscope.signal.normalize import NORMALIZATIONS, zscore
from ecgscope.signal.resample import RESAMPLE_METHODS, resample_array
from ecgscope.signal.windows import make_windows


@dataclass(frozen=True)
class InputContract:
    """What a model expects as input.

    Attributes
    ----------
    fs : float
        Sampling rate the model was trained at.
    window_samples : int
        Samples per window (ECG-FM: 2500 = 5 s at 500 Hz).
    leads : tuple of str
        Channel order.
    normalization : {"per_lead", "global", "none"}
        ``per_lead`` z-scores each lead over the whole record (ECG-FM); ``global`` one z-score over
        all leads and time (ST-MEM).
    bandpass : (low, high) or None
        Zero-phase Butterworth band-pass in Hz, applied after resampling.
    notch_hz : float or None
        Mains notch frequency.
    resample_method : {"polyphase", "linear"}
    single_lead : str or None
        When set (e.g. ``"I"``) the model takes this one lead; with ``duplicate_single_lead`` it is
        copied into every channel of ``leads`` (ECG-FM's duplicated single lead).
    duplicate_single_lead : bool
    missing_leads : {"error", "zeros"}
        What to do when a 12-lead model gets fewer leads.
    window_stride : int or None
        Samples between window starts; None means non-overlapping.
    pad_short : bool
        Zero-pad a record shorter than one window instead of refusing it.
    """

    fs: float = 500.0
    window_samples: int = 2500
    leads: tuple[str, ...] = STANDARD_LEADS
    normalization: str = "per_lead"
    bandpass: tuple[float, float] | None = None
    notch_hz: float | None = None
    resample_method: str = "polyphase"
    single_lead: str | None = None
    duplicate_single_lead: bool = True
    missing_leads: str = "error"
    window_stride: int | None = None
    pad_short: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown normalization {self.normalization!r}; valid: {', '.join(NORMALIZATIONS)}")
        if self.resample_method not in RESAMPLE_METHODS:
            raise ValueError(
                f"unknown resample method {self.resample_method!r}; valid: {', '.join(RESAMPLE_METHODS)}"
            )
        if self.missing_leads not in MISSING_LEAD_POLICIES:
            raise ValueError(f"unknown missing-lead policy {self.missing_leads!r}")
        if self.fs <= 0 or self.window_samples <= 0:
            raise ValueError("fs and window_samples must be positive")
        object.__setattr__(self, "leads", tuple(normalize_lead_name(n)[0] for n in self.leads))
        if self.bandpass is not None:
            object.__setattr__(self, "bandpass", tuple(float(v) for v in self.bandpass))

    @property
    def window_s(self) -> float:
        return self.window_samples / self.fs

    @property
    def n_channels(self) -> int:
        return 1 if (self.single_lead and not self.duplicate_single_lead) else len(self.leads)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["leads"] = list(self.leads)
        d["bandpass"] = list(self.bandpass) if self.bandpass else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputContract:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown input-contract fields {sorted(unknown)}")
        kw = dict(d)
        if kw.get("leads") is not None:
            kw["leads"] = tuple(kw["leads"])
        if kw.get("bandpass") is not None:
            kw["bandpass"] = tuple(kw["bandpass"])
        return cls(**kw)

    def replace(self, **changes: Any) -> InputContract:
        return dataclasses.replace(self, **changes)


@dataclass
class ModelInput:
    """Model-ready windows of one record."""

    windows: np.ndarray  # (n_windows, n_channels, window_samples) float32
    starts_s: np.ndarray  # (n_windows,) window start times in seconds from record start
    fs: float
    single_lead: bool
    missing_leads: tuple[str, ...] = ()
    source_lead: str | None = None
    record_id: str | None = None


class Preprocessor:
    """Turns a :class:`Record` into :class:`ModelInput` exactly as ``contract`` says.

    Parameters
    ----------
    contract : InputContract
    allow_single_lead : bool
        Let a 12-lead contract accept a one-lead record by duplicating it (the result is flagged
        ``single_lead``).  Off by default: a 12-lead model given one lead is an error.
    """

    def __init__(self, contract: InputContract, allow_single_lead: bool = False):
        self.contract = contract
        self.allow_single_lead = allow_single_lead

    def layout(self, record: Record) -> tuple[Record, tuple[str, ...], str | None]:
        """Lead selection/duplication step: returns (record, missing leads, single-lead source)."""
        c = self.contract
        if c.single_lead or (self.allow_single_lead and record.n_leads == 1):
            lead = c.single_lead or record.leads[0]
            if c.duplicate_single_lead:
                dup = duplicate_single_lead(record, lead=lead, n_channels=len(c.leads))
                return dup, (), dup.metadata["single_lead_source"]
            std = normalize_lead_name(lead)[0]
            src = std if std in record.leads else record.leads[0] if record.n_leads == 1 else None
            if src is None:
                return to_lead_layout(record, (std,), "error")[0], (), std
            return record.select_leads([src]), (), src
        laid, missing = to_lead_layout(record, c.leads, c.missing_leads)
        return laid, missing, None

    def signal(self, record: Record) -> tuple[np.ndarray, tuple[str, ...], str | None]:
        """Everything before windowing: (n_channels, n_samples) normalised float32 at the contract fs."""
        c = self.contract
        laid, missing, source = self.layout(record)
        x = laid.signal
        if laid.single_lead and c.duplicate_single_lead:
            # filter/resample one row, then broadcast: the channels are identical copies
            x = x[:1]
        x = resample_array(x, laid.fs, c.fs, c.resample_method)
        if c.bandpass is not None:
            x = bandpass(x, c.fs, c.bandpass[0], c.bandpass[1])
        if c.notch_hz:
            x = notch(x, c.fs, c.notch_hz)
        if laid.single_lead and c.duplicate_single_lead:
            x = np.repeat(x, len(c.leads), axis=0)
        if missing:
            # absent leads carry no information: they stay zero and do not enter the statistics
            present = np.array([n not in missing for n in c.leads])
            out = np.zeros_like(x)
            out[present] = zscore(x[present], c.normalization)
            return out, missing, source
        return zscore(x, c.normalization), missing, source

    def __call__(self, record: Record) -> ModelInput:
        c = self.contract
        x, missing, source = self.signal(record)
        windows, starts = make_windows(x, c.window_samples, c.window_stride, c.pad_short, fs=c.fs)
        return ModelInput(
            windows=windows,
            starts_s=starts / c.fs,
            fs=c.fs,
            single_lead=source is not None,
            missing_leads=missing,
            source_lead=source,
            record_id=record.record_id,
        )
