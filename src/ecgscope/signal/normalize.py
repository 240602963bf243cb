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
    mean = x.mean(axis=axis, keepdims=True)  # float32 pairwise summation: accurate to ~1e-6 here
    std = x.std(axis=axis, keepdims=True)
    safe = np.where(std > eps, std, 1.0)
    out = ((x - mean) / safe).astype(np.float32)
    if mode == "per_lead":
        out[np.broadcast_to(std <= eps, out.shape)] = 0.0
    elif float(std.item()) <= eps:
        out[:] = 0.0
    return out
