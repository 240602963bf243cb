"""Amplitude normalisation for model input."""

from __future__ import annotations

import numpy as np

NORMALIZATIONS = ("per_lead", "global", "none")


def zscore(x: np.ndarray, mode: str = "per_lead", eps: float = 1e-6) -> np.ndarray:
    """Z-score (n_leads, n_samples) ``x``.

    ``per_lead`` (ECG-FM): each lead over its own samples; a lead with zero variance (SD at most
    ``eps``, 1 nV for millivolt input) becomes all zeros rather than noise blown up to unit SD.  ``global`` (ST-MEM): one mean and SD over all leads and time.
    ``none`` returns ``x`` as float32.

    >>> import numpy as np
    >>> z = zscore(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    >>> z[1].tolist()
    [0.0, 0.0, 0.0]
    """
    if mode not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {mode!r}; valid: {', '.join(NORMALIZATIONS)}")
    x = np.asarray(x, dtype=np.float32)
    if mode == "none":
        return x
    axis = -1 if mode == "per_lead" else None
    # centred in float64: a lead whose variation is tiny against its offset (raw ADC counts, a spike on a
    # flat line) loses the variation to float32 rounding of the mean otherwise
    centred = x - x.mean(axis=axis, keepdims=True, dtype=np.float64)
    std = np.sqrt((centred * centred).mean(axis=axis, keepdims=True))
    safe = np.where(std > eps, std, 1.0)
    out = (centred / safe).astype(np.float32)
    if mode == "per_lead":
        out[np.broadcast_to(std <= eps, out.shape)] = 0.0
    elif float(std.item()) <= eps:
        out[:] = 0.0
    return out
