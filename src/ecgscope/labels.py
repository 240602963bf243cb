"""The 17 ECG-FM diagnostic labels (DESIGN §3) and how window probabilities become a recording's."""

from __future__ import annotations

import numpy as np

LABELS: tuple[str, ...] = (
    "Poor data quality",
    "Sinus rhythm",
    "Premature ventricular contraction",
    "Tachycardia",
    "Ventricular tachycardia",
    "Supraventricular tachycardia with aberrancy",
    "Atrial fibrillation",
    "Atrial flutter",
    "Bradycardia",
    "Accessory pathway conduction",
    "Atrioventricular block",
    "1st degree atrioventricular block",
    "Bifascicular block",
    "Right bundle branch block",
    "Left bundle branch block",
    "Infarction",
    "Electronic pacemaker",
)
N_LABELS = len(LABELS)

# Findings that can be confined to part of a recording: one window showing them is enough.
MAX_AGGREGATED: frozenset[str] = frozenset(
    {
        "Poor data quality",
        "Premature ventricular contraction",
        "Ventricular tachycardia",
        "Supraventricular tachycardia with aberrancy",
        "Electronic pacemaker",
    }
)


def label_index(name: str) -> int:
    try:
        return LABELS.index(name)
    except ValueError:
        raise KeyError(f"unknown label {name!r}; the labels are {list(LABELS)}") from None


def aggregate_windows(window_probs: np.ndarray, labels: tuple[str, ...] = LABELS) -> np.ndarray:
    """Recording-level probabilities from (n_windows, n_labels) window probabilities.

    ``max`` over windows for the labels in :data:`MAX_AGGREGATED`, ``mean`` for the others.

    >>> import numpy as np
    >>> p = np.zeros((2, 17)); p[0, 2] = 0.9; p[0, 1] = 0.8
    >>> agg = aggregate_windows(p)
    >>> float(agg[2]), float(agg[1])
    (0.9, 0.4)
    """
    p = np.asarray(window_probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(labels):
        raise ValueError(f"window probabilities must be (n_windows, {len(labels)}); got {p.shape}")
    use_max = np.array([name in MAX_AGGREGATED for name in labels])
    return np.where(use_max, p.max(axis=0), p.mean(axis=0))
