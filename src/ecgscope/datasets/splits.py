"""Subject-aware splits: a patient's records are always on one side of a split.

Every dataset index carries a ``fold`` column (1-10).  PTB-XL uses its own ``strat_fold``
(patients never cross folds); other datasets get folds from :func:`assign_group_folds`, grouped by
patient.  Tasks then split by folds: PTB-XL's recommendation is folds 1-8 train, 9 validation,
10 test, and ecgscope applies the same convention everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_SPLIT: dict[str, tuple[int, ...]] = {"train": (1, 2, 3, 4, 5, 6, 7, 8), "val": (9,), "test": (10,)}


class PatientLeakError(AssertionError):
    """A patient appears on both sides of a split."""


def assign_group_folds(groups: Sequence, n_folds: int = 10, seed: int = 0) -> np.ndarray:
    """Folds 1..``n_folds`` for samples grouped by ``groups`` (patient ids).

    Groups are shuffled with ``seed`` and dealt largest-first onto the currently smallest fold, so
    folds have near-equal sample counts and a group never spans two folds.  Deterministic.

    >>> assign_group_folds(["a", "a", "b", "c"], n_folds=2).tolist()
    [1, 1, 2, 2]
    """
    groups = pd.Series(list(groups), dtype=str)
    sizes = groups.value_counts()
    rng = np.random.default_rng(seed)
    order = sizes.index.to_numpy()[rng.permutation(len(sizes))]
    order = sorted(order, key=lambda g: -sizes[g])  # stable: ties keep the shuffled order
    load = np.zeros(n_folds, dtype=np.int64)
    fold_of: dict[str, int] = {}
    for g in order:
        k = int(np.argmin(load))
        fold_of[g] = k + 1
        load[k] += sizes[g]
    return groups.map(fold_of).to_numpy(dtype=np.int64)


def split_indices(index: pd.DataFrame, split: dict[str, Sequence[int]] | None = None) -> dict[str, np.ndarray]:
    """Row positions of each part of ``split`` (default: folds 1-8 / 9 / 10), checked for leaks."""
    split = split or DEFAULT_SPLIT
    folds = index["fold"].to_numpy()
    parts = {name: np.flatnonzero(np.isin(folds, list(fs))) for name, fs in split.items()}
    check_no_patient_overlap(index, parts)
    return parts


def check_no_patient_overlap(index: pd.DataFrame, parts: dict[str, np.ndarray]) -> None:
    """Raise :class:`PatientLeakError` naming the patients that cross parts of a split."""
    pids = index["patient_id"].astype(str).to_numpy()
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = set(pids[parts[a]]) & set(pids[parts[b]])
            if shared:
                sample = sorted(shared)[:5]
                raise PatientLeakError(f"{len(shared)} patient(s) in both {a} and {b}, e.g. {sample}")
