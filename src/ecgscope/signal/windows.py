"""Cutting a record into fixed-length model windows (DESIGN §2)."""

from __future__ import annotations

import numpy as np

from ecgscope.errors import ContractError


def make_windows(
    x: np.ndarray, size: int, stride: int | None = None, pad_short: bool = False, fs: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split (n_leads, n_samples) ``x`` into (n_windows, n_leads, size) windows.

    Non-overlapping by default (``stride = size``); the last partial window is dropped.  A record
    shorter than one window is an error unless ``pad_short`` is set, in which case it is zero-padded
    at the end (zero is the mean of a z-scored lead).

    Returns ``(windows, starts)`` with ``starts`` the first sample of each window.
    """
    stride = stride or size
    n = x.shape[-1]
    if n < size:
        if not pad_short:
            have = f"{n / fs:.2f} s" if fs else f"{n} samples"
            need = f"{size / fs:.2f} s" if fs else f"{size} samples"
            raise ContractError(
                f"record is shorter than one model window ({have} < {need}); pass pad_short=True to zero-pad",
                code="too_short_for_window",
            )
        padded = np.zeros((*x.shape[:-1], size), dtype=np.float32)
        padded[..., :n] = x
        return padded[None], np.array([0])
    starts = np.arange(0, n - size + 1, stride)
    idx = starts[:, None] + np.arange(size)[None, :]
    win = np.ascontiguousarray(np.moveaxis(x[..., idx], -2, 0), dtype=np.float32)  # (W, L, size)
    return win, starts
