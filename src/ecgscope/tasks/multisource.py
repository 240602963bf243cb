"""Tasks over several sources at once: pooled training, and leave-one-source-out (LOSO).

A :class:`MultiSourceTask` opens a :class:`~ecgscope.datasets.multisource.MultiSourceDataset`; with
``held_out`` set its ordinary 1-8 / 9 / 10 split means: the other sources' folds 1-8 train, their folds 9
validate, the held-out source's test rows test (see that module for the fold re-dealing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ecgscope.datasets import ECGDataset
from ecgscope.datasets.multisource import TEST_FOLD, open_multisource
from ecgscope.tasks._base import Task


@dataclass(frozen=True)
class MultiSourceTask(Task):
    """A task over ``sources`` (dataset names); ``dataset`` names the task's data for listings."""

    sources: tuple[str, ...] = ()
    held_out: str | None = None
    test_folds: tuple[int, ...] | None = (TEST_FOLD,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.sources:
            raise ValueError(f"multi-source task {self.name}: no sources")
        if self.held_out is not None and self.held_out not in self.sources:
            raise ValueError(f"multi-source task {self.name}: held-out {self.held_out!r} is not among {self.sources}")

    def open(self, data_dir: str | os.PathLike | None = None) -> ECGDataset:
        return open_multisource(self.sources, data_dir, held_out=self.held_out, test_folds=self.test_folds)
