"""Label-fraction subsets of a task's training split: subject-aware, stratified, nested.

A benchmark cell trained "with 10 % of the labels" sees the records of 10 % of the training
*patients*.  One ordering of the training patients per (task, seed) decides every fraction: the
subset at fraction ``f`` is the first ``round(f * n_patients)`` patients of that order, so the 10 %
set lies inside the 30 % set, and every model and strategy of a seed trains on the same records.

The order is stratified: each patient belongs to the stratum of its rarest positive label (labels
ranked by their frequency among the training patients; patients without positives form their own
stratum).  Inside a stratum patients are shuffled, and the ``i``-th of ``n`` patients gets the key
``(i + u) / n`` with ``u`` uniform in [0, 1).  Sorting all patients by key interleaves the strata, so
every prefix holds close to the same share of each stratum ("stratified where possible": a stratum
of one patient is in a prefix of share ``f`` with probability ``f``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecgscope.datasets.splits import check_no_patient_overlap


def patient_order(patient_ids: Sequence, targets: np.ndarray, seed: int) -> np.ndarray:
    """Unique patient ids of the training rows in stratified random order (see module docstring).

    Parameters
    ----------
    patient_ids : sequence of str, one per training row
    targets : (n_rows, n_labels) array of 0/1/NaN (NaN = not assessed counts as not positive)
    seed : int
    """
    pids = pd.Series(list(patient_ids), dtype=str)
    y = np.nan_to_num(np.asarray(targets, dtype=np.float64), nan=0.0) > 0.5
    if y.shape[0] != len(pids):
        raise ValueError(f"{len(pids)} patient ids but {y.shape[0]} target rows")
    # a patient is positive for a label if any of its records is
    pos = pd.DataFrame(y).groupby(pids.to_numpy()).any()
    freq = pos.sum(axis=0).to_numpy()
    rank = np.argsort(np.argsort(freq, kind="stable"), kind="stable")  # 0 = rarest label
    n_labels = y.shape[1]
    ranked = np.where(pos.to_numpy(), rank[None, :], n_labels)
    stratum = ranked.min(axis=1)  # rarest positive label's rank; n_labels = no positive label
    rng = np.random.default_rng(seed)
    keys = np.empty(len(pos))
    for s in np.unique(stratum):
        members = np.flatnonzero(stratum == s)
        members = members[rng.permutation(members.size)]
        keys[members] = (np.arange(members.size) + rng.random(members.size)) / members.size
    order = np.argsort(keys, kind="stable")
    return pos.index.to_numpy()[order]


def fraction_rows(train_rows: np.ndarray, patient_ids: Sequence, targets: np.ndarray,
                  fractions: Sequence[float], seed: int) -> dict[float, np.ndarray]:
    """Training rows of each label fraction, nested and subject-aware.

    Parameters
    ----------
    train_rows : (n,) dataset row positions of the task's training split
    patient_ids : (n,) patient id of each of those rows
    targets : (n, n_labels) targets of those rows
    fractions : label fractions in (0, 1]
    seed : int

    Returns
    -------
    dict
        ``{fraction: sorted dataset rows}``; at least one patient per fraction.
    """
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad:
        raise ValueError(f"label fractions must be in (0, 1], got {bad}")
    train_rows = np.asarray(train_rows)
    pids = np.asarray(list(patient_ids), dtype=str)
    order = patient_order(pids, targets, seed)
    out = {}
    for f in fractions:
        keep = set(order[: max(1, int(round(f * len(order))))])
        out[float(f)] = np.sort(train_rows[np.fromiter((p in keep for p in pids), bool, len(pids))])
    return out


def check_fraction_split(index: pd.DataFrame, parts: dict[str, np.ndarray], subsets: dict[float, np.ndarray]) -> None:
    """Raise if a fraction subset leaves the training split or shares a patient with validation/test."""
    for f, rows in subsets.items():
        outside = np.setdiff1d(rows, parts["train"])
        if outside.size:
            raise ValueError(f"label fraction {f}: {outside.size} row(s) outside the training split")
        check_no_patient_overlap(index, {**{k: v for k, v in parts.items() if k != "train"}, "train": rows})
