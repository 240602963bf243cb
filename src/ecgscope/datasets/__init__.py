"""Datasets from a local directory, their label maps and subject-aware splits.

>>> from ecgscope.datasets import open_dataset
>>> ptbxl = open_dataset("ptbxl")                         # doctest: +SKIP
>>> ptbxl.label_counts().loc["Atrial fibrillation"]        # doctest: +SKIP
"""

from __future__ import annotations

import os

from ecgscope.datasets.base import ECGDataset, Sample
from ecgscope.datasets.challenge import ChallengeFolder
from ecgscope.datasets.cinc2017 import CinC2017
from ecgscope.datasets.cpsc import CPSC2019, CPSC2021
from ecgscope.datasets.ludb import LUDB
from ecgscope.datasets.mitdb import MITBIH
from ecgscope.datasets.ptbxl import PTBXL, PTBXL100
from ecgscope.datasets.splits import (
    DEFAULT_SPLIT,
    PatientLeakError,
    assign_group_folds,
    check_no_patient_overlap,
    split_indices,
)

DATASETS: dict[str, type[ECGDataset]] = {
    "ptbxl": PTBXL,
    "ptbxl100": PTBXL100,
    "ludb": LUDB,
    "mitdb": MITBIH,
    "cinc2017": CinC2017,
    "cpsc2019": CPSC2019,
    "cpsc2021": CPSC2021,
}


def open_dataset(name: str, root: str | os.PathLike | None = None, **kwargs) -> ECGDataset:
    """Open dataset ``name`` (one of :data:`DATASETS`, or ``challenge`` with ``root``) under ``root``."""
    if name == "challenge":
        if root is None:
            raise ValueError("the challenge dataset needs root= (the folder of .hea/.mat files)")
        return ChallengeFolder(root)
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; valid datasets: {', '.join([*DATASETS, 'challenge'])}")
    return DATASETS[name](root, **kwargs)


def available_datasets(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the datasets found under the data directory."""
    return [name for name, cls in DATASETS.items() if cls.available(root)]


__all__ = [
    "DATASETS",
    "DEFAULT_SPLIT",
    "CPSC2019",
    "CPSC2021",
    "ChallengeFolder",
    "CinC2017",
    "ECGDataset",
    "LUDB",
    "MITBIH",
    "PTBXL",
    "PTBXL100",
    "PatientLeakError",
    "Sample",
    "assign_group_folds",
    "available_datasets",
    "check_no_patient_overlap",
    "open_dataset",
    "split_indices",
]
