"""The dataset interface every indexer implements.

A dataset is an ``index`` (one row per sample: a whole record, or a window of a long record) and a
``labels`` table (one column per ECG-FM label: 1, 0, or NaN where the source does not say).
Every index has ``record_id``, ``patient_id`` (the unit of subject-aware splits), ``path``,
``start_s``/``duration_s`` (NaN for the whole record) and ``fold`` (1-10, patients never cross).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ecgscope.config import resolve_data_dir
from ecgscope.errors import MissingInputError
from ecgscope.io import load_record
from ecgscope.labels import LABELS
from ecgscope.record import Record

INDEX_COLUMNS = ("record_id", "patient_id", "path", "start_s", "duration_s", "fold")


@dataclass
class Sample:
    """One dataset item: the record (or window), its label vector and its index row."""

    record: Record
    labels: np.ndarray  # (17,) float32; NaN = not assessed by the source
    info: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Record:
    # long records (30-min MIT-BIH) are cut into many windows; read each file once
    return load_record(path)


class ECGDataset:
    """Base class: subclasses set ``name``/``subdir``/``marker`` and build ``_build_index``."""

    name: ClassVar[str] = ""
    subdir: ClassVar[str] = ""
    marker: ClassVar[str] = ""
    description: ClassVar[str] = ""
    load_fs: ClassVar[float | None] = None  # formats that carry no rate (CPSC 2019 .mat)

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = self.locate(root)

    @classmethod
    def locate(cls, root: str | os.PathLike | None = None) -> Path:
        """The dataset folder: ``root/<subdir>``, or ``root`` itself when it is the dataset folder."""
        base = resolve_data_dir(root)
        for cand in (base / cls.subdir, base):
            if (cand / cls.marker).exists():
                return cand
        raise MissingInputError(f"{cls.name} not found (looked for {cls.subdir}/{cls.marker})", source=str(base))

    @classmethod
    def available(cls, root: str | os.PathLike | None = None) -> bool:
        try:
            cls.locate(root)
        except MissingInputError:
            return False
        return True

    # ------------------------------------------------------------------ to implement
    def _build_index(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Return (index frame with INDEX_COLUMNS, (n, 17) float32 labels with NaN)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    @cached_property
    def _built(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        index, labels = self._build_index()
        missing = set(INDEX_COLUMNS) - set(index.columns)
        if missing:
            raise RuntimeError(f"{self.name} index lacks columns {sorted(missing)}")
        index = index.reset_index(drop=True)
        index["patient_id"] = index["patient_id"].astype(str)
        index["record_id"] = index["record_id"].astype(str)
        lab = pd.DataFrame(np.asarray(labels, dtype=np.float32), columns=list(LABELS))
        return index, lab

    @property
    def index(self) -> pd.DataFrame:
        return self._built[0]

    @property
    def labels(self) -> pd.DataFrame:
        return self._built[1]

    def __len__(self) -> int:
        return len(self.index)

    def load(self, i: int) -> Record:
        """The record (or window) of row ``i``, with its patient id set."""
        row = self.index.iloc[i]
        whole = np.isnan(row["start_s"])
        rec = load_record(row["path"], fs=self.load_fs) if whole else _load_cached(row["path"])
        if not whole:
            a = int(round(row["start_s"] * rec.fs))
            b = a + int(round(row["duration_s"] * rec.fs))
            rec = rec.replace(signal=rec.signal[:, a:b], record_id=f"{row['record_id']}@{row['start_s']:g}s")
        return rec.replace(patient_id=row["patient_id"])

    def __getitem__(self, i: int) -> Sample:
        return Sample(self.load(i), self.labels.iloc[i].to_numpy(np.float32), self.index.iloc[i].to_dict())

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    def label_counts(self) -> pd.DataFrame:
        """Per label: positives, assessed samples (non-NaN) and prevalence."""
        lab = self.labels
        pos = lab.sum(skipna=True).astype(int)
        assessed = lab.notna().sum()
        return pd.DataFrame({"positives": pos, "assessed": assessed,
                             "prevalence": (pos / assessed.replace(0, np.nan)).round(4)})

    def summary(self) -> dict[str, Any]:
        idx = self.index
        return {
            "dataset": self.name,
            "root": str(self.root),
            "samples": len(idx),
            "records": int(idx["record_id"].nunique()),
            "patients": int(idx["patient_id"].nunique()),
            "folds": {int(k): int(v) for k, v in idx["fold"].value_counts().sort_index().items()},
        }
