"""Zero-phase filters on (..., n_samples) arrays: band-pass, baseline-wander removal, mains notch.

All filters run forward and backward (``sosfiltfilt``/``filtfilt``), so waves keep their timing,
which delineation and interval measurement depend on.  :func:`sosfiltfilt` here is scipy's with the
filter's steady state solved once per design (every zero-phase SOS filter in ecgscope uses it).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import butter, filtfilt, iirnotch, medfilt, sosfilt, sosfilt_zi

BASELINE_METHODS = ("highpass", "median")


@lru_cache(maxsize=128)
def _sos_zi(sos_bytes: bytes, n_sections: int) -> np.ndarray:
    return sosfilt_zi(np.frombuffer(sos_bytes).reshape(n_sections, 6))


@lru_cache(maxsize=128)
def butter_sos(order: int, cutoff: float | tuple[float, float], btype: str, fs: float) -> np.ndarray:
    """A Butterworth design as second-order sections, cached (a design costs about 1 ms, as much as
    filtering a 10-s 12-lead record).  ``cutoff`` in Hz.  The array is shared: do not modify it
    (scipy's filters need it writeable, so it is not flagged read-only)."""
    nyq = fs / 2.0
    wn = [c / nyq for c in cutoff] if isinstance(cutoff, tuple) else cutoff / nyq
    return butter(order, wn, btype=btype, output="sos")


def band_sos(order: int, low: float | None, high: float | None, fs: float) -> np.ndarray | None:
    """The Butterworth band the given edges ask for (Hz): band-pass with both, high-pass with ``low``
    only, low-pass with ``high`` only, ``None`` with neither.  Cached (:func:`butter_sos`)."""
    if low is not None and high is not None:
        return butter_sos(order, (float(low), float(high)), "bandpass", float(fs))
    if low is not None:
        return butter_sos(order, float(low), "highpass", float(fs))
    if high is not None:
        return butter_sos(order, float(high), "lowpass", float(fs))
    return None


def sosfiltfilt(sos: np.ndarray, x: np.ndarray, axis: int = -1, padlen: int | None = None) -> np.ndarray:
    """``scipy.signal.sosfiltfilt`` (odd padding, steady-state start both ways), same output to rounding.

    scipy solves for the filter's steady state (``sosfilt_zi``, a small linear system per section) on
    every call, which costs more than filtering a 10-s record; here it is solved once per design.

    >>> import numpy as np, scipy.signal as ss
    >>> sos = ss.butter(2, [5, 20], btype="bandpass", fs=500, output="sos")
    >>> x = np.random.default_rng(0).normal(size=(2, 1000))
    >>> bool(np.allclose(sosfiltfilt(sos, x, padlen=100), ss.sosfiltfilt(sos, x, padlen=100)))
    True
    """
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    x = np.moveaxis(np.asarray(x), axis, -1)
    n_sections = sos.shape[0]
    if padlen is None:
        padlen = 3 * (2 * n_sections + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum()))
    if x.shape[-1] <= padlen:
        raise ValueError(f"the input along the filtered axis must be longer than padlen ({padlen}); got {x.shape[-1]}")
    if padlen > 0:  # odd extension, as scipy's default padtype="odd"
        left = 2 * x[..., :1] - x[..., padlen:0:-1]
        right = 2 * x[..., -1:] - x[..., -2: -padlen - 2: -1]
        ext = np.concatenate([left, x, right], axis=-1)
    else:
        ext = x
    zi = _sos_zi(sos.tobytes(), n_sections).reshape((n_sections,) + (1,) * (ext.ndim - 1) + (2,))
    y, _ = sosfilt(sos, ext, axis=-1, zi=zi * ext[..., :1])
    y, _ = sosfilt(sos, y[..., ::-1], axis=-1, zi=zi * y[..., -1:])
    y = y[..., ::-1]
    if padlen > 0:
        y = y[..., padlen:-padlen]
    return np.moveaxis(np.ascontiguousarray(y), -1, axis)


def _padlen(n: int, default: int) -> int:
    return min(default, max(0, n - 1))


def bandpass(x: np.ndarray, fs: float, low: float | None, high: float | None, order: int = 4) -> np.ndarray:
    """Butterworth band-pass (or high-/low-pass when one edge is None), zero phase.

    ``high`` at or above Nyquist is dropped (the pass band then ends at Nyquist).

    >>> import numpy as np
    >>> bandpass(np.random.default_rng(0).normal(size=(1, 5000)), 500, 0.67, 40).shape
    (1, 5000)
    """
    x = np.asarray(x, dtype=np.float32)
    nyq = fs / 2.0
    if high is not None and high >= nyq * 0.99:
        high = None
    if low is not None and low <= 0:
        low = None
    sos = band_sos(order, low, high, fs)
    if sos is None:
        return x
    y = sosfiltfilt(sos, x, axis=-1, padlen=_padlen(x.shape[-1], 3 * (2 * len(sos) + 1)))
    return y.astype(np.float32, copy=False)


def remove_baseline(x: np.ndarray, fs: float, method: str = "highpass", cutoff_hz: float = 0.5) -> np.ndarray:
    """Remove baseline wander.

    ``highpass``: 2nd-order zero-phase Butterworth at ``cutoff_hz`` (zero-phase filtering with a
    corner up to 0.67 Hz leaves ST segments intact, per the AHA recommendations);
    ``median``: subtract a two-stage median filter (200 ms then 600 ms), which preserves ST levels.
    """
    if method not in BASELINE_METHODS:
        raise ValueError(f"unknown baseline method {method!r}; valid methods: {', '.join(BASELINE_METHODS)}")
    x = np.asarray(x, dtype=np.float32)
    if method == "highpass":
        sos = butter_sos(2, float(cutoff_hz), "highpass", float(fs))
        return sosfiltfilt(sos, x, axis=-1, padlen=_padlen(x.shape[-1], 15)).astype(np.float32, copy=False)
    k1 = int(0.2 * fs) | 1
    k2 = int(0.6 * fs) | 1
    flat = x.reshape(-1, x.shape[-1])
    base = np.empty_like(flat)
    for i, row in enumerate(flat):
        base[i] = medfilt(medfilt(row, k1), k2)
    return (flat - base).reshape(x.shape)


def notch(x: np.ndarray, fs: float, freq: float = 50.0, quality: float = 30.0) -> np.ndarray:
    """Remove mains interference at ``freq`` Hz (50 or 60) with a zero-phase IIR notch.

    A notch at or above Nyquist has nothing to remove and returns ``x`` unchanged.
    """
    x = np.asarray(x, dtype=np.float32)
    if freq >= fs / 2.0:
        return x
    b, a = iirnotch(freq, quality, fs)
    return filtfilt(b, a, x, axis=-1, padlen=_padlen(x.shape[-1], 3 * max(len(a), len(b)))).astype(
        np.float32, copy=False
    )
