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

from ecgscope.datasets import ECGDataset, open_dataset
from ecgscope.datasets.multisource import UNUSED_FOLD, MultiSourceDataset
from ecgscope.tasks._base import Task

__all__ = ["UNUSED_FOLD", "TransferDataset", "TransferTask"]


class TransferDataset(MultiSourceDataset):
    """Rows of ``source`` (train/validation folds) followed by rows of ``target`` (test), folds re-dealt:
    the two-source case of leave-one-source-out, with ``target`` held out.

    Parameters
    ----------
    source, target : ECGDataset
    target_folds : tuple of int, optional
        Target folds that form the test split (default: all of the target's rows).
    """

    def __init__(self, source: ECGDataset, target: ECGDataset, target_folds: tuple[int, ...] | None = None):
        super().__init__([source, target], held_out=target.name, test_folds=target_folds)
        self.source, self.target = source, target
        self.target_folds = self.test_folds
        self.name = f"{source.name}->{target.name}"
        self.description = f"train/validate on {source.name}, test on {target.name}"


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
