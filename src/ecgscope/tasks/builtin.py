"""The tasks ecgscope ships.  Each is one declaration."""

from __future__ import annotations

import numpy as np

from ecgscope.datasets import ECGDataset
from ecgscope.datasets.cinc2017 import CINC2017_CLASSES
from ecgscope.labels import LABELS
from ecgscope.tasks._base import Task, register_task

CINC2017_CLASS_NAMES = ("Normal rhythm", "Atrial fibrillation", "Other rhythm", "Noisy")


def cinc2017_classes(dataset: ECGDataset) -> np.ndarray:
    """One-hot N / A / O / ~ from CinC 2017's ``REFERENCE.csv`` class."""
    cls = dataset.index["cinc_class"].to_numpy(str)
    return np.stack([(cls == c) for c in CINC2017_CLASSES], axis=1).astype(np.float32)


register_task(Task(
    name="ptbxl17", dataset="ptbxl100", labels=LABELS, input="12-lead 5 s",
    description="The 17 ECG-FM labels on all 2980 PTB-XL records (100 Hz, resampled to the model's fs); "
                "5-s windows, record probability from the windows (max/mean per label); folds 1-8/9/10",
))

register_task(Task(
    name="ptbxl17-500", dataset="ptbxl", labels=LABELS, input="12-lead 5 s",
    description="The 17 ECG-FM labels on the 800 PTB-XL records that have 500-Hz signals; folds 1-8/9/10",
))

register_task(Task(
    name="cinc2017-af", dataset="cinc2017", labels=("Atrial fibrillation",), input="single-lead 5 s",
    description="AF vs rest on CinC 2017 single-lead records (noisy records are 'not assessed' for AF); "
                "grouped folds 1-8/9/10",
))

register_task(Task(
    name="cinc2017-naos", dataset="cinc2017", labels=CINC2017_CLASS_NAMES, input="single-lead 5 s",
    targets=cinc2017_classes,
    description="CinC 2017 classes N / A / O / ~ (one-hot, one sigmoid per class); grouped folds 1-8/9/10",
))
