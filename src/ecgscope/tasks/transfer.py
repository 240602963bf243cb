"""Zero-shot transfer tasks: train and validate on one dataset, test on another with the shared labels.

A :class:`TransferTask` opens a :class:`TransferDataset`, which stacks the two datasets' rows and
re-deals their folds so that the ordinary 1-8 / 9 / 10 split means: source folds 1-8 train, source
fold 9 validates, the chosen target folds test.  Source fold 10 and the other target folds get fold 0
and are used by nothing.  Patient ids are prefixed with the dataset name, so the split's leak check
still sees every patient.  Labels are the 17-label table both datasets share (NaN where a dataset does
not assess a label), so a task names the labels to transfer, e.g. ``("Atrial fibrillation",)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecgscope.datasets import ECGDataset, open_dataset
from ecgscope.record import Record
from ecgscope.tasks._base import Task

UNUSED_FOLD = 0


class TransferDataset(ECGDataset):
    """Rows of ``source`` (train/validation folds) followed by rows of ``target`` (test), folds re-dealt.

    Parameters
    ----------
    source, target : ECGDataset
    target_folds : tuple of int, optional
        Target folds that form the test split (default: all of the target's rows).
    """

    def __init__(self, source: ECGDataset, target: ECGDataset, target_folds: tuple[int, ...] | None = None):
        # no locate(): the rows live in the two datasets' own folders
        self.source = source
        self.target = target
        self.target_folds = tuple(target_folds) if target_folds else None
        self.root = source.root
        self.name = f"{source.name}->{target.name}"
        self.source_name, self.target_name = source.name, target.name  # part of the preprocessing cache key
        self.target_folds_key = ",".join(map(str, self.target_folds)) if self.target_folds else "all"
        self.description = f"train/validate on {source.name}, test on {target.name}"

    def _build_index(self) -> tuple[pd.DataFrame, np.ndarray]:
        src = self.source.index.copy()
        tgt = self.target.index.copy()
        src["fold"] = np.where(src["fold"].isin(range(1, 10)), src["fold"], UNUSED_FOLD)
        test = tgt["fold"].isin(self.target_folds) if self.target_folds else np.ones(len(tgt), bool)
        tgt["fold"] = np.where(test, 10, UNUSED_FOLD)
        for frame, ds in ((src, self.source), (tgt, self.target)):
            frame["patient_id"] = ds.name + ":" + frame["patient_id"].astype(str)
            frame["source_dataset"] = ds.name
        index = pd.concat([src, tgt], ignore_index=True)
        labels = np.concatenate([self.source.labels.to_numpy(np.float32), self.target.labels.to_numpy(np.float32)])
        return index, labels

    def load(self, i: int) -> Record:
        n_src = len(self.source)
        rec = self.source.load(i) if i < n_src else self.target.load(i - n_src)
        return rec.replace(patient_id=self.index.iloc[i]["patient_id"])


@dataclass(frozen=True)
class TransferTask(Task):
    """A task whose test split comes from another dataset (``target``); ``dataset`` is the training source."""

    target: str = ""
    target_folds: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.target:
            raise ValueError(f"transfer task {self.name}: no target dataset")

    def open(self, data_dir: str | os.PathLike | None = None) -> ECGDataset:
        return TransferDataset(open_dataset(self.dataset, data_dir, **self.dataset_kwargs),
                               open_dataset(self.target, data_dir), self.target_folds)
